// The milter manager as a running daemon: the configuration read from its
// file (or the embedded default) with the command line's overrides, the
// log, the Manager listening, the pid file, the switch to an unprivileged
// user, the open-file limit, and the signals: SIGHUP reloads the
// configuration file (sessions in flight finish on the old one; an invalid
// file is refused with a log line and the old configuration stays),
// SIGUSR1 reopens the log file, SIGTERM/SIGINT drain sessions in flight
// for up to shutdown_timeout and stop. Children with a command are started
// by a launcher forked before the user switch and supervised (see
// manager/supervise/supervisor.h); they stop when the service does. With
// status_listen, the status and metrics listener (manager/status) serves
// from after the manager's listener opens until the service is destroyed;
// its POST /reload is Reload().
//
// Failures at start-up are returned as a Status whose message names the
// file, account or socket and the reason; Run() returns once stopped.
//
//   ServiceOptions options{.config_path = "/etc/milter-manager.conf"};
//   auto config = LoadEffectiveConfig(options);
//   auto service = Service::Start(options, *config);
//   return (*service)->Run().ok() ? 0 : 1;

#ifndef MANAGER_DAEMON_SERVICE_H_
#define MANAGER_DAEMON_SERVICE_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "manager/config/config.pb.h"
#include "manager/core/manager.h"
#include "manager/daemon/logger.h"
#include "manager/daemon/process.h"
#include "manager/daemon/signal_watcher.h"
#include "manager/status/status_server.h"
#include "manager/supervise/supervisor.h"

namespace milter::manager {

struct ServiceOptions {
  std::string config_path;      // empty: the embedded default
  std::string connection_spec;  // overrides the file's when set
  std::string status_listen;    // overrides the file's when set
};

// The configuration `options` describe, with the installed milters
// detected (manager/detect, unless detect_installed_milters is false),
// defaults filled in and validated; errors name the file, line and column.
// What detection could not read is appended to `warnings` ("detecting
// installed milters: file:line: reason") and does not fail the load.
absl::StatusOr<config::ManagerConfig> LoadEffectiveConfig(
    const ServiceOptions& options, std::vector<std::string>* warnings);

class Service {
 public:
  // Everything up to serving: log, open-file limit, manager, listener, pid
  // file, user switch, signal watcher. Call BlockWatchedSignals() first.
  static absl::StatusOr<std::unique_ptr<Service>> Start(
      const ServiceOptions& options, config::ManagerConfig config);
  ~Service();

  // Serves until SIGTERM/SIGINT or Stop().
  absl::Status Run();
  void Stop() { manager_->Stop(); }
  // Reads the configuration again and puts it in force; on failure the old
  // one stays. Logs the outcome either way. Thread-safe.
  absl::Status Reload();

  Manager& manager() { return *manager_; }
  // The children's states (for the status page and the metrics).
  Supervisor& supervisor() { return *supervisor_; }
  Logger& logger() { return *logger_; }
  std::vector<std::string> bound_specs() const {
    return manager_->bound_specs();
  }

 private:
  Service(ServiceOptions options, std::unique_ptr<Logger> logger)
      : options_(std::move(options)), logger_(std::move(logger)) {}
  absl::Status Prepare(const config::ManagerConfig& config);
  // The status listener when the configuration asks for one.
  absl::Status StartStatus(const config::ManagerConfig& config,
                           std::shared_ptr<metrics::Metrics> metrics);

  ServiceOptions options_;
  std::unique_ptr<Logger> logger_;
  std::shared_ptr<HealthRegistry> health_ = std::make_shared<HealthRegistry>();
  std::unique_ptr<Manager> manager_;
  // After manager_: destroyed first, stopping the children once the
  // sessions are done.
  std::unique_ptr<Supervisor> supervisor_;
  std::unique_ptr<PidFile> pid_file_;
  std::unique_ptr<SignalWatcher> signals_;
  std::unique_ptr<status::StatusServer> status_;
  std::mutex reload_mu_;  // one reload at a time
};

}  // namespace milter::manager

#endif  // MANAGER_DAEMON_SERVICE_H_
