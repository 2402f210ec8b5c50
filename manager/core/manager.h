// The milter manager as a service: listens where the configuration says and
// runs one ManagerSession per MTA connection on the event loop(s), until
// stopped (SIGTERM/SIGINT or Stop()). Reload() puts a new configuration in
// force for new MTA connections; connections in flight finish on the
// configuration they started with.
//
//   absl::StatusOr<std::unique_ptr<Manager>> manager =
//       Manager::Create(*LoadConfigFile(path), log);
//   absl::Status s = (*manager)->Run();

#ifndef MANAGER_CORE_MANAGER_H_
#define MANAGER_CORE_MANAGER_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "manager/config/config.pb.h"
#include "manager/core/manager_session.h"
#include "milter/client/runner.h"

namespace milter::manager {

class Manager {
 public:
  // `log` receives the manager's and the library's diagnostics; it may be
  // called from several event loop threads at once. Fails when the
  // conditions or the allow and deny lists cannot be built (a bad regular
  // expression or network, an unreadable list file). `health`: the
  // children's circuit breaker shared with the Supervisor
  // (manager/supervise); null: every child is always tried. The sessions
  // count their events in `metrics` (may be null).
  static absl::StatusOr<std::unique_ptr<Manager>> Create(
      config::ManagerConfig config, LogSink log,
      std::shared_ptr<HealthRegistry> health = nullptr,
      std::shared_ptr<metrics::Metrics> metrics = nullptr);

  // Closes the idle child connections before the event loops go.
  ~Manager();

  // Opens the listener (Run() does it if not done); bound_specs() then
  // names the port chosen for "inet:0".
  absl::Status Listen();
  std::vector<std::string> bound_specs() const;
  // Serves until stopped.
  absl::Status Run();
  // Graceful stop: no new connections; sessions in flight may finish until
  // the configuration's shutdown_timeout. Thread-safe.
  void Stop();

  // Puts `config` in force for the MTA connections accepted from now on.
  // Fails, and leaves the configuration in force unchanged, when what it
  // needs cannot be built (as Create). Settings fixed when the manager
  // started (where it and its status listener listen, socket mode and
  // group, event loop threads, max_connections, shutdown_timeout, and the
  // process's own: log destination, pid file, user, group, open files) keep
  // their old values; each changed one is named in a warning line.
  // Thread-safe.
  absl::Status Reload(config::ManagerConfig config);
  // The configuration in force. Thread-safe.
  std::shared_ptr<const config::ManagerConfig> config() const;
  // MTA connections being served now.
  size_t active_sessions() const;

 private:
  explicit Manager(std::shared_ptr<ManagerShared> shared);
  std::shared_ptr<const ManagerShared> Current() const;

  mutable std::mutex mu_;
  std::shared_ptr<const ManagerShared> shared_;  // guarded by mu_
  std::unique_ptr<client::Runner> runner_;
};

// The script runtime a manager starts with: errors of scripts logged to
// `log` as warnings, a new shared store.
std::shared_ptr<script::Runtime> NewScriptRuntime(const LogSink& log);

// What a manager with `config` shares among its sessions; `previous` (may
// be null) gives the process-wide parts to carry over.
absl::StatusOr<std::shared_ptr<ManagerShared>> BuildShared(
    config::ManagerConfig config, LogSink log,
    const ManagerShared* previous = nullptr);

}  // namespace milter::manager

#endif  // MANAGER_CORE_MANAGER_H_
