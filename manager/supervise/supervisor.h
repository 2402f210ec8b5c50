// The Supervisor keeps the child milters available across sessions:
//
// - Children with a `command` are started through the Launcher at start-up
//   (health "starting"), are "up" once their connection_spec accepts a
//   connection, and are killed and restarted when they do not within
//   child_start_timeout. One that exits (or cannot be started) is "down"
//   and restarted after a delay that doubles from restart_backoff_initial
//   to restart_backoff_maximum (reset once it was up for longer than the
//   maximum).
// - Every child whose circuit opened (HealthRegistry, health.h) is probed
//   every circuit_probe_interval: a connection and an option negotiation,
//   as a session would. A plain connection is not enough: a hung child
//   accepts connections (the kernel does) but never answers. The first
//   probe that negotiates closes the circuit. A launched child whose socket
//   refuses connections during a probe is restarted.
// - Stop() (and the destructor) stop the launched children: SIGTERM to
//   their process groups, SIGKILL after the grace.
//
//   auto health = std::make_shared<HealthRegistry>();
//   Supervisor supervisor(health, std::move(launcher_or_null), log);
//   supervisor.Configure(config);     // at start-up and after each reload
//   shared->health = health;          // ManagerShared: sessions report
//   std::vector<ChildState> states = supervisor.Snapshot();
//   supervisor.Stop();
//
// Runs on its own thread (an asio io_context). Thread-safe.

#ifndef MANAGER_SUPERVISE_SUPERVISOR_H_
#define MANAGER_SUPERVISE_SUPERVISOR_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asio/awaitable.hpp"
#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"
#include "manager/config/config.pb.h"
#include "manager/supervise/child_state.h"
#include "manager/supervise/health.h"
#include "manager/supervise/launcher.h"

namespace milter::manager {

class Supervisor {
 public:
  // The same signature as the manager's LogSink.
  using Log = std::function<void(config::LogLevel, std::string_view)>;

  // `launcher` may be null when no child has a command (a child with one is
  // then reported down with an error). `stop_grace`: between SIGTERM and
  // SIGKILL at Stop().
  Supervisor(std::shared_ptr<HealthRegistry> health,
             std::unique_ptr<Launcher> launcher, Log log,
             absl::Duration stop_grace = absl::Seconds(5));
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Whether some enabled child has a command (then a Launcher is needed).
  static bool LaunchesChildren(const config::ManagerConfig& config);

  // Applies `config`: the registry learns the children; children with a
  // new command start; removed ones stop; changed ones restart.
  void Configure(std::shared_ptr<const config::ManagerConfig> config);
  // Stops the launched children and waits for them (at most the grace and
  // a little more); then the thread ends. Idempotent.
  void Stop();

  std::vector<ChildState> Snapshot() const { return health_->Snapshot(); }
  const std::shared_ptr<HealthRegistry>& health() const { return health_; }

 private:
  struct Launched;

  // On the io thread.
  void Apply(std::shared_ptr<const config::ManagerConfig> config);
  void Launch(Launched& child);
  void ScheduleRestart(Launched& child, const std::string& why);
  void OnEvent(const LaunchEvent& event);
  void OnExit(Launched& child, const std::string& detail);
  Launched* ByPid(int64_t pid);
  asio::awaitable<void> ReadEvents();
  asio::awaitable<void> WaitListening(std::string name, uint64_t generation);
  asio::awaitable<void> Probe(std::shared_ptr<ChildHealth> health);
  void BeginStop();
  void Emit(config::LogLevel level, const std::string& line) const;

  const std::shared_ptr<HealthRegistry> health_;
  const std::unique_ptr<Launcher> launcher_;
  const Log log_;
  const absl::Duration stop_grace_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;

  // io thread only.
  std::shared_ptr<const config::ManagerConfig> config_;
  absl::flat_hash_map<std::string, std::unique_ptr<Launched>> launched_;
  absl::flat_hash_set<std::string> probing_;
  uint64_t next_request_ = 0;
  bool stopping_ = false;

  // Running launched processes, for Stop() to wait on.
  mutable absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace milter::manager

#endif  // MANAGER_SUPERVISE_SUPERVISOR_H_
