// The circuit breaker: what every session knows of each child milter's
// health, shared process-wide and kept across configuration reloads (keyed
// by the child's name).
//
// A session looks its children up once (HealthRegistry::Get) and then, for
// each child:
//   - Admit(): false while the child is down (its circuit open) or being
//     started: the session gives the child's fallback at once, without
//     connecting or waiting for a timeout (and reports nothing);
//   - Succeeded(latency) when it connected and negotiated,
//   - Answered(latency) for each later answer (for the mean latency),
//   - Failed(error) when it could not connect, timed out, broke the
//     protocol or died during the session.
// `circuit_failures` consecutive failures open the circuit: the child is
// down until a probe (run by the Supervisor, see supervisor.h) succeeds and
// calls Recovered(). With circuit_failures 0 the circuit never opens.
//
// Thread-safe. The hot path (Admit, Succeeded, Failed without a state
// change) is atomics only; state changes and the last error take a mutex.

#ifndef MANAGER_SUPERVISE_HEALTH_H_
#define MANAGER_SUPERVISE_HEALTH_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "manager/config/config.pb.h"
#include "manager/supervise/child_state.h"

namespace milter::manager {

class HealthRegistry;

class ChildHealth : public std::enable_shared_from_this<ChildHealth> {
 public:
  using Health = ChildState::Health;

  explicit ChildHealth(std::string name, HealthRegistry* registry)
      : name_(std::move(name)), registry_(registry) {}
  const std::string& name() const { return name_; }

  // Whether a session should try the child (it is up).
  bool Admit() const {
    return health_.load(std::memory_order_relaxed) ==
           static_cast<int>(Health::kUp);
  }
  Health health() const {
    return static_cast<Health>(health_.load(std::memory_order_relaxed));
  }
  // A session connected and negotiated in `latency`.
  void Succeeded(absl::Duration latency);
  // It answered a stage in `latency`.
  void Answered(absl::Duration latency) {
    latency_sum_ns_.fetch_add(absl::ToInt64Nanoseconds(latency),
                              std::memory_order_relaxed);
    latency_count_.fetch_add(1, std::memory_order_relaxed);
  }
  // A session found the child failing; may open the circuit.
  void Failed(const absl::Status& error);
  std::string last_error() const;

  // For the Supervisor: sets the state (kUp also clears the failure
  // count), with `error` as last error when not empty.
  void Set(Health health, const std::string& error = "");
  // The launched process: pid (0 when none) and restart count.
  void SetProcess(bool launched, int64_t pid, uint64_t restarts);

  ChildState Snapshot() const;

 private:
  const std::string name_;
  HealthRegistry* const registry_;
  std::atomic<int> health_{static_cast<int>(Health::kUp)};
  std::atomic<uint32_t> consecutive_failures_{0};
  std::atomic<uint64_t> sessions_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<int64_t> latency_sum_ns_{0};
  std::atomic<uint64_t> latency_count_{0};
  mutable absl::Mutex mu_;
  absl::Time since_ ABSL_GUARDED_BY(mu_) = absl::Now();  // learned of it
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  bool launched_ ABSL_GUARDED_BY(mu_) = false;
  int64_t pid_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t restarts_ ABSL_GUARDED_BY(mu_) = 0;
};

class HealthRegistry {
 public:
  // Called (on the reporting session's thread) when a child's circuit
  // opens; the Supervisor probes it from then on. Must not block.
  using OpenedHook = std::function<void(std::shared_ptr<ChildHealth>)>;

  HealthRegistry() = default;
  HealthRegistry(const HealthRegistry&) = delete;
  HealthRegistry& operator=(const HealthRegistry&) = delete;

  // The configuration in force: its children (in order, for snapshots),
  // which are disabled, and circuit_failures. Children no longer configured
  // are forgotten; the others keep their state.
  void Configure(const config::ManagerConfig& config);
  void SetOpenedHook(OpenedHook hook);

  // The child's record (created when unknown).
  std::shared_ptr<ChildHealth> Get(const std::string& name);
  // Consecutive failures that open a circuit; 0: never.
  uint32_t circuit_failures() const {
    return circuit_failures_.load(std::memory_order_relaxed);
  }

  // Every configured child's state, in configuration order.
  std::vector<ChildState> Snapshot() const;

 private:
  friend class ChildHealth;
  // `child`'s circuit just opened.
  void Opened(ChildHealth* child);

  std::atomic<uint32_t> circuit_failures_{3};
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<ChildHealth>> children_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, bool> disabled_ ABSL_GUARDED_BY(mu_);
  OpenedHook opened_ ABSL_GUARDED_BY(mu_);
};

}  // namespace milter::manager

#endif  // MANAGER_SUPERVISE_HEALTH_H_
