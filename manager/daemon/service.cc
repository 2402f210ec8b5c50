// Service: start-up order, reload and signals of the manager daemon.

#include "manager/daemon/service.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "manager/config/config.h"
#include "manager/detect/detect.h"

namespace milter::manager {

absl::StatusOr<config::ManagerConfig> LoadEffectiveConfig(
    const ServiceOptions& options, std::vector<std::string>* warnings) {
  std::vector<std::string> found;
  auto detect = [&found](config::ManagerConfig* c) {
    detect::AddDetectedChildren(c, &found);
  };
  absl::StatusOr<config::ManagerConfig> config =
      options.config_path.empty()
          ? ParseConfig("", "(embedded default)", detect)
          : LoadConfigFile(options.config_path, detect);
  for (const std::string& warning : found) {
    warnings->push_back(absl::StrCat("detecting installed milters: ", warning));
  }
  if (!config.ok()) return config;
  if (!options.connection_spec.empty()) {
    // Validated like the file's own value.
    config->set_connection_spec(options.connection_spec);
    auto checked = ParseConfig(ConfigToText(*config), "--connection-spec");
    if (!checked.ok()) return checked.status();
  }
  if (!options.status_listen.empty()) {
    config->set_status_listen(options.status_listen);
    auto checked = ParseConfig(ConfigToText(*config), "--status-listen");
    if (!checked.ok()) return checked.status();
  }
  return config;
}

absl::StatusOr<std::unique_ptr<Service>> Service::Start(
    const ServiceOptions& options, config::ManagerConfig config) {
  absl::StatusOr<std::unique_ptr<Logger>> logger = Logger::Create(config);
  if (!logger.ok()) return logger.status();
  std::unique_ptr<Service> service(new Service(options, *std::move(logger)));
  if (absl::Status s = service->Prepare(config); !s.ok()) return s;
  return service;
}

absl::Status Service::Prepare(const config::ManagerConfig& config) {
  absl::StatusOr<uint64_t> files = RaiseOpenFileLimit(config.max_open_files());
  if (!files.ok()) return files.status();
  // Looked up before the listener opens, so that a typo costs nothing.
  std::optional<Account> account;
  if (!config.user().empty()) {
    absl::StatusOr<Account> found =
        LookUpAccount(config.user(), config.group());
    if (!found.ok()) return found.status();
    account = *found;
  }
  // Children with a command are started by a launcher forked first, while
  // the process has one thread and its privileges.
  std::unique_ptr<Launcher> launcher;
  if (Supervisor::LaunchesChildren(config)) {
    absl::StatusOr<std::unique_ptr<Launcher>> started = Launcher::Start();
    if (!started.ok()) return started.status();
    launcher = *std::move(started);
  }
  Logger* log = logger_.get();
  LogSink sink = [log](config::LogLevel level, std::string_view line) {
    log->Log(level, line);
  };
  // Metrics are kept when someone can read them.
  std::shared_ptr<metrics::Metrics> metrics;
  if (!config.status_listen().empty()) {
    metrics = std::make_shared<metrics::Metrics>();
  }
  absl::StatusOr<std::unique_ptr<Manager>> manager =
      Manager::Create(config, sink, health_, metrics);
  if (!manager.ok()) {
    return absl::Status(
        manager.status().code(),
        absl::StrCat(
            options_.config_path.empty() ? "" : options_.config_path + ": ",
            manager.status().message()));
  }
  manager_ = *std::move(manager);
  if (absl::Status s = manager_->Listen(); !s.ok()) return s;
  // Before the status listener, whose POST /reload reconfigures it. (The
  // user switch below applies to its thread too.)
  supervisor_ =
      std::make_unique<Supervisor>(health_, std::move(launcher), sink);
  supervisor_->Configure(manager_->config());
  if (absl::Status s = StartStatus(config, std::move(metrics)); !s.ok()) {
    return s;
  }
  if (!config.pid_file().empty()) {
    absl::StatusOr<std::unique_ptr<PidFile>> pid =
        PidFile::Create(config.pid_file());
    if (!pid.ok()) return pid.status();
    pid_file_ = *std::move(pid);
  }
  if (account.has_value()) {
    if (absl::Status s = SwitchUser(*account); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<SignalWatcher>> signals = SignalWatcher::Start(
      [this] { (void)Reload(); },
      [this] {
        absl::Status s = logger_->Reopen();
        logger_->Log(s.ok() ? config::INFO : config::ERROR,
                     s.ok() ? "log file reopened" : std::string(s.message()));
      });
  if (!signals.ok()) return signals.status();
  signals_ = *std::move(signals);
  logger_->Log(
      config::INFO,
      absl::StrCat("listening on ", manager_->bound_specs().front(), " with ",
                   config.child_size(), " children (pid ", ::getpid(), ", uid ",
                   ::getuid(), ", open files ", *files, ")"));
  return absl::OkStatus();
}

absl::Status Service::StartStatus(const config::ManagerConfig& config,
                                  std::shared_ptr<metrics::Metrics> metrics) {
  if (config.status_listen().empty()) return absl::OkStatus();
  status::StatusServerOptions options;
  options.listen = config.status_listen();
  options.unix_socket_mode = SocketMode(config).value_or(0660);
  options.metrics = std::move(metrics);
  options.provider.configuration = [this] {
    return ConfigToText(*manager_->config());
  };
  // The children's states as the circuit breaker and the supervisor keep
  // them (thread-safe).
  options.provider.children = [this] { return health_->Snapshot(); };
  options.provider.reload = [this] { return Reload(); };
  absl::StatusOr<std::unique_ptr<status::StatusServer>> server =
      status::StatusServer::Start(std::move(options));
  if (!server.ok()) return server.status();
  status_ = *std::move(server);
  logger_->Log(config::INFO,
               absl::StrCat("status and metrics on ", status_->bound_spec()));
  return absl::OkStatus();
}

Service::~Service() {
  status_.reset();      // no request may reach a service being destroyed
  signals_.reset();     // no reload may run on a manager being destroyed
  supervisor_.reset();  // the launched children stop
}

absl::Status Service::Run() {
  absl::Status s = manager_->Run();
  logger_->Log(s.ok() ? config::INFO : config::ERROR,
               s.ok() ? "stopped" : absl::StrCat("stopped: ", s.message()));
  return s;
}

absl::Status Service::Reload() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  std::string source = options_.config_path.empty() ? "the embedded default"
                                                    : options_.config_path;
  std::vector<std::string> warnings;
  absl::StatusOr<config::ManagerConfig> config =
      LoadEffectiveConfig(options_, &warnings);
  for (const std::string& warning : warnings) {
    logger_->Log(config::WARNING, warning);
  }
  absl::Status s = config.ok() ? manager_->Reload(*config) : config.status();
  if (!s.ok()) {
    logger_->Log(config::ERROR,
                 absl::StrCat("reload refused, the configuration in force "
                              "stays: ",
                              s.message()));
    return s;
  }
  supervisor_->Configure(manager_->config());
  logger_->SetLevel(config->log_level());
  logger_->Log(config::INFO,
               absl::StrCat("configuration reloaded from ", source, " (",
                            config->child_size(), " children)"));
  return absl::OkStatus();
}

}  // namespace milter::manager
