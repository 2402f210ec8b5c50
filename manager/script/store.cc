// SharedStore: sharded maps under mutexes, lazy expiry, amortised sweeps and
// eviction (store.h).

#include "manager/script/store.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/time/clock.h"

namespace milter::manager::script {

SharedStore::SharedStore() : SharedStore(Options()) {}

SharedStore::SharedStore(Options options) : options_(std::move(options)) {
  if (options_.shards < 1) options_.shards = 1;
  if (options_.max_entries < 1) options_.max_entries = 1;
  if (options_.sweep_every < 1) options_.sweep_every = 1;
  if (static_cast<size_t>(options_.shards) > options_.max_entries) {
    options_.shards = static_cast<int>(options_.max_entries);
  }
  per_shard_ = std::max<size_t>(1, options_.max_entries / options_.shards);
  for (int i = 0; i < options_.shards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

absl::Time SharedStore::Now() const {
  return options_.clock ? options_.clock() : absl::Now();
}

SharedStore::Shard& SharedStore::ShardOf(std::string_view key) {
  size_t h = absl::Hash<absl::string_view>()(
      absl::string_view(key.data(), key.size()));
  return *shards_[h % shards_.size()];
}

SharedStore::Entry* SharedStore::Live(Shard& shard, std::string_view key,
                                      absl::Time now) {
  auto it = shard.map.find(absl::string_view(key.data(), key.size()));
  if (it == shard.map.end()) return nullptr;
  if (it->second.expires <= now) {
    shard.map.erase(it);
    return nullptr;
  }
  return &it->second;
}

void SharedStore::NoteWrite(Shard& shard, absl::Time now) {
  if (++shard.writes < options_.sweep_every) return;
  shard.writes = 0;
  absl::erase_if(shard.map,
                 [now](const auto& kv) { return kv.second.expires <= now; });
}

void SharedStore::MakeRoom(Shard& shard, absl::Time now) {
  if (shard.map.size() < per_shard_) return;
  absl::erase_if(shard.map,
                 [now](const auto& kv) { return kv.second.expires <= now; });
  if (shard.map.size() < per_shard_) return;
  // Evict the eighth (at least one) nearest to expiry.
  std::vector<absl::Time> expiries;
  expiries.reserve(shard.map.size());
  for (const auto& kv : shard.map) expiries.push_back(kv.second.expires);
  size_t evict = std::max<size_t>(1, shard.map.size() / 8);
  std::nth_element(expiries.begin(), expiries.begin() + (evict - 1),
                   expiries.end());
  absl::Time cutoff = expiries[evict - 1];
  size_t dropped = 0;
  for (auto it = shard.map.begin(); it != shard.map.end();) {
    if (dropped < evict && it->second.expires <= cutoff) {
      shard.map.erase(it++);
      ++dropped;
    } else {
      ++it;
    }
  }
}

std::optional<SharedStore::Value> SharedStore::Get(std::string_view key) {
  Shard& shard = ShardOf(key);
  absl::MutexLock lock(&shard.mu);
  Entry* entry = Live(shard, key, Now());
  if (entry == nullptr) return std::nullopt;
  return entry->value;
}

void SharedStore::Set(std::string_view key, Value value, absl::Duration ttl) {
  Shard& shard = ShardOf(key);
  absl::Time now = Now();
  absl::MutexLock lock(&shard.mu);
  NoteWrite(shard, now);
  if (ttl != absl::InfiniteDuration() && ttl <= absl::ZeroDuration()) {
    shard.map.erase(absl::string_view(key.data(), key.size()));
    return;
  }
  Entry* entry = Live(shard, key, now);
  if (entry == nullptr) {
    MakeRoom(shard, now);
    entry = &shard.map[absl::string_view(key.data(), key.size())];
  }
  entry->value = std::move(value);
  entry->expires =
      ttl == absl::InfiniteDuration() ? absl::InfiniteFuture() : now + ttl;
}

absl::StatusOr<int64_t> SharedStore::Increment(std::string_view key, int64_t by,
                                               absl::Duration ttl) {
  Shard& shard = ShardOf(key);
  absl::Time now = Now();
  absl::MutexLock lock(&shard.mu);
  NoteWrite(shard, now);
  Entry* entry = Live(shard, key, now);
  if (entry == nullptr) {
    MakeRoom(shard, now);
    entry = &shard.map[absl::string_view(key.data(), key.size())];
    entry->value = int64_t{0};
    entry->expires =
        ttl == absl::InfiniteDuration() ? absl::InfiniteFuture() : now + ttl;
  }
  int64_t* count = std::get_if<int64_t>(&entry->value);
  if (count == nullptr) {
    return absl::FailedPreconditionError("the value is a String, not a count");
  }
  *count += by;
  return *count;
}

bool SharedStore::Delete(std::string_view key) {
  Shard& shard = ShardOf(key);
  absl::Time now = Now();
  absl::MutexLock lock(&shard.mu);
  if (Live(shard, key, now) == nullptr) return false;
  shard.map.erase(absl::string_view(key.data(), key.size()));
  return true;
}

bool SharedStore::Contains(std::string_view key) {
  Shard& shard = ShardOf(key);
  absl::MutexLock lock(&shard.mu);
  return Live(shard, key, Now()) != nullptr;
}

std::optional<absl::Duration> SharedStore::Ttl(std::string_view key) {
  Shard& shard = ShardOf(key);
  absl::Time now = Now();
  absl::MutexLock lock(&shard.mu);
  Entry* entry = Live(shard, key, now);
  if (entry == nullptr) return std::nullopt;
  if (entry->expires == absl::InfiniteFuture()) {
    return absl::InfiniteDuration();
  }
  return entry->expires - now;
}

size_t SharedStore::size() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    n += shard->map.size();
  }
  return n;
}

}  // namespace milter::manager::script
