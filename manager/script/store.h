// A key-value store shared by every script Engine of the manager (all
// threads, all sessions): counters and flags with a time to live, for
// policies such as "reject a client for 10 s after 20 messages a minute".
// Scripts reach it as Milter::Store (docs/scripting.md); the manager creates
// one and passes it to each Engine in Engine::Options::store.
//
// Contract:
//   * Thread-safe: the keys are spread over `shards` maps, each under its own
//     absl::Mutex; no call holds more than one lock or runs user code.
//   * Values are Strings or Integers. Each entry has an optional expiry (a TTL
//     given when it is written); an expired entry is invisible at once and
//     removed lazily: when touched, and by a sweep of its shard every
//     `sweep_every` writes to that shard (amortised, no background thread).
//   * Bounded: at most `max_entries` entries (split evenly over the shards).
//     Inserting a new key into a full shard first drops its expired entries;
//     if none expired, the eighth of the shard's entries nearest to expiry
//     (entries without a TTL last) are evicted, so eviction is amortised too.
//   * Increment creates a missing (or expired) key at 0 with the given TTL:
//     the window starts at the first increment and is not extended by later
//     ones. Incrementing a String is an error.
//   * Time comes from `clock` (default absl::Now), injectable for tests.

#ifndef MANAGER_SCRIPT_STORE_H_
#define MANAGER_SCRIPT_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace milter::manager::script {

class SharedStore {
 public:
  using Value = std::variant<std::string, int64_t>;

  struct Options {
    size_t max_entries = 100000;
    int shards = 16;
    int sweep_every = 1024;  // writes to a shard between two sweeps of it
    std::function<absl::Time()> clock;  // default absl::Now
  };

  SharedStore();
  explicit SharedStore(Options options);
  SharedStore(const SharedStore&) = delete;
  SharedStore& operator=(const SharedStore&) = delete;

  // The live value of `key`, nullopt when missing or expired.
  std::optional<Value> Get(std::string_view key);
  // Stores `value`; `ttl` of absl::InfiniteDuration() never expires. A
  // non-positive finite ttl deletes the key.
  void Set(std::string_view key, Value value,
           absl::Duration ttl = absl::InfiniteDuration());
  // Adds `by` and returns the new count (see the contract for the window).
  absl::StatusOr<int64_t> Increment(
      std::string_view key, int64_t by,
      absl::Duration ttl = absl::InfiniteDuration());
  // True if a live entry was removed.
  bool Delete(std::string_view key);
  bool Contains(std::string_view key);
  // Time left: nullopt when missing, absl::InfiniteDuration() without expiry.
  std::optional<absl::Duration> Ttl(std::string_view key);
  // Entries held now, expired ones not yet removed included.
  size_t size() const;

 private:
  struct Entry {
    Value value;
    absl::Time expires = absl::InfiniteFuture();
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, Entry> map ABSL_GUARDED_BY(mu);
    int writes ABSL_GUARDED_BY(mu) = 0;
  };
  Shard& ShardOf(std::string_view key);
  absl::Time Now() const;
  // Counts a write; sweeps every sweep_every writes. Called with mu held.
  void NoteWrite(Shard& shard, absl::Time now);
  // Makes room for one new key. Called with mu held.
  void MakeRoom(Shard& shard, absl::Time now);
  // The live entry of `key` (an expired one is erased), or nullptr.
  Entry* Live(Shard& shard, std::string_view key, absl::Time now);

  Options options_;
  size_t per_shard_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace milter::manager::script

#endif  // MANAGER_SCRIPT_STORE_H_
