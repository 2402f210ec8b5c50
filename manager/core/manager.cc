// Manager: a client::Runner serving ManagerSessions.

#include "manager/core/manager.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "manager/config/config.h"

namespace milter::manager {

absl::StatusOr<std::unique_ptr<Manager>> Manager::Create(
    config::ManagerConfig config, LogSink log,
    std::shared_ptr<metrics::Metrics> metrics) {
  auto shared = std::make_shared<ManagerShared>();
  shared->metrics = std::move(metrics);
  shared->config =
      std::make_shared<const config::ManagerConfig>(std::move(config));
  shared->log = std::move(log);
  absl::StatusOr<std::shared_ptr<const conditions::ConditionSet>> set =
      conditions::ConditionSet::Build(*shared->config);
  if (!set.ok()) return set.status();
  shared->conditions = *std::move(set);
  if (shared->config->has_access()) {
    absl::StatusOr<std::shared_ptr<const conditions::AccessLists>> access =
        conditions::AccessLists::Build(shared->config->access());
    if (!access.ok()) return access.status();
    shared->access = *std::move(access);
  }
  return std::unique_ptr<Manager>(new Manager(std::move(shared)));
}

Manager::Manager(std::shared_ptr<ManagerShared> shared)
    : shared_(std::move(shared)) {
  const config::ManagerConfig& config = *shared_->config;
  client::RunnerOptions options;
  options.listen = {config.connection_spec()};
  options.unix_socket_mode = SocketMode(config).value_or(0660);
  options.unix_socket_group = config.unix_socket_group();
  options.max_sessions = config.max_connections();
  options.io_threads = static_cast<int>(config.io_threads());
  options.worker_threads = 0;  // coroutine sessions: no blocking callbacks
  ManagerShared* raw = shared_.get();
  options.diagnostics = [raw](std::string_view line) {
    if (raw->log) raw->log(config::WARNING, line);
  };
  std::shared_ptr<const ManagerShared> for_sessions = shared_;
  client::FilterFactory factory = client::MakeFilterFactory<ManagerSession>(
      std::function<std::unique_ptr<ManagerSession>()>([for_sessions] {
        return std::make_unique<ManagerSession>(for_sessions);
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
