// Manager: a client::Runner serving ManagerSessions.

#include "manager/core/manager.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "manager/config/config.h"

namespace milter::manager {

Manager::Manager(config::ManagerConfig config, LogSink log)
    : config_(std::make_shared<const config::ManagerConfig>(std::move(config))),
      log_(std::move(log)) {
  client::RunnerOptions options;
  options.listen = {config_->connection_spec()};
  options.unix_socket_mode = SocketMode(*config_).value_or(0660);
  options.unix_socket_group = config_->unix_socket_group();
  options.max_sessions = config_->max_connections();
  options.io_threads = static_cast<int>(config_->io_threads());
  options.worker_threads = 0;  // coroutine sessions: no blocking callbacks
  options.diagnostics = [this](std::string_view line) {
    if (log_) log_(config::WARNING, line);
  };
  std::shared_ptr<const config::ManagerConfig> shared = config_;
  const LogSink* sink = &log_;
  client::FilterFactory factory = client::MakeFilterFactory<ManagerSession>(
      std::function<std::unique_ptr<ManagerSession>()>([shared, sink] {
        return std::make_unique<ManagerSession>(shared, sink);
      }));
  runner_ =
      std::make_unique<client::Runner>(std::move(factory), std::move(options));
}

absl::Status Manager::Listen() { return runner_->Listen(); }

std::vector<std::string> Manager::bound_specs() const {
  return runner_->bound_specs();
}

absl::Status Manager::Run() { return runner_->Run(); }

void Manager::Stop() { runner_->Stop(); }

}  // namespace milter::manager
