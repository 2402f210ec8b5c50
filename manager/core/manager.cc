// Manager: a client::Runner serving ManagerSessions, each on the generation
// of ManagerShared in force when its MTA connection was accepted.

#include "manager/core/manager.h"

#include <chrono>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "manager/config/config.h"
#include "manager/script/store.h"

namespace milter::manager {
namespace {

// The settings Reload() cannot change: the listener, the event loops and
// the process's own settings, all made when the manager started.
constexpr const char* kFixedAtStart[] = {"connection_spec",
                                         "unix_socket_mode",
                                         "unix_socket_group",
                                         "io_threads",
                                         "max_connections",
                                         "shutdown_timeout",
                                         "log_destination",
                                         "syslog_facility",
                                         "pid_file",
                                         "user",
                                         "group",
                                         "max_open_files",
                                         "status_listen"};

// Gives `next` the running values of kFixedAtStart, naming each that
// `next` would have changed.
void KeepFixedSettings(const config::ManagerConfig& running,
                       config::ManagerConfig* next, const LogSink& log) {
  config::ManagerConfig kept = running;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  for (const char* name : kFixedAtStart) {
    const google::protobuf::FieldDescriptor* field =
        config::ManagerConfig::descriptor()->FindFieldByName(name);
    fields.push_back(field);
    std::string was, wanted;
    google::protobuf::TextFormat::PrintFieldValueToString(running, field, -1,
                                                          &was);
    google::protobuf::TextFormat::PrintFieldValueToString(*next, field, -1,
                                                          &wanted);
    if (was != wanted && log) {
      log(config::WARNING,
          absl::StrCat("reload: ", name, " changes only at a restart (still ",
                       was, ")"));
    }
  }
  next->GetReflection()->SwapFields(next, &kept, fields);
}

}  // namespace

std::shared_ptr<script::Runtime> NewScriptRuntime(const LogSink& log) {
  script::Engine::Options options;
  if (log) {
    options.log = [log](std::string_view line) { log(config::WARNING, line); };
  }
  options.store = std::make_shared<script::SharedStore>();
  return std::make_shared<script::Runtime>(std::move(options));
}

absl::StatusOr<std::shared_ptr<ManagerShared>> BuildShared(
    config::ManagerConfig config, LogSink log, const ManagerShared* previous) {
  auto shared = std::make_shared<ManagerShared>();
  shared->config =
      std::make_shared<const config::ManagerConfig>(std::move(config));
  shared->log = std::move(log);
  if (previous != nullptr) {
    shared->active_sessions = previous->active_sessions;
    shared->health = previous->health;
    shared->metrics = previous->metrics;
    shared->scripts = previous->scripts;
    shared->pool = previous->pool;
  }
  if (shared->pool == nullptr) shared->pool = std::make_shared<ChildPool>();
  if (shared->scripts == nullptr)
    shared->scripts = NewScriptRuntime(shared->log);
  absl::StatusOr<std::shared_ptr<const conditions::ConditionSet>> set =
      conditions::ConditionSet::Build(*shared->config, shared->scripts);
  if (!set.ok()) return set.status();
  shared->conditions = *std::move(set);
  if (shared->config->has_access()) {
    absl::StatusOr<std::shared_ptr<const conditions::AccessLists>> access =
        conditions::AccessLists::Build(shared->config->access());
    if (!access.ok()) return access.status();
    shared->access = *std::move(access);
  }
  return shared;
}

absl::StatusOr<std::unique_ptr<Manager>> Manager::Create(
    config::ManagerConfig config, LogSink log,
    std::shared_ptr<HealthRegistry> health,
    std::shared_ptr<metrics::Metrics> metrics) {
  absl::StatusOr<std::shared_ptr<ManagerShared>> shared =
      BuildShared(std::move(config), std::move(log));
  if (!shared.ok()) return shared.status();
  (*shared)->health = std::move(health);
  (*shared)->metrics = std::move(metrics);
  return std::unique_ptr<Manager>(new Manager(*std::move(shared)));
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
  options.shutdown_deadline =
      std::chrono::milliseconds(std::llround(config.shutdown_timeout() * 1000));
  LogSink log = shared_->log;
  options.diagnostics = [log](std::string_view line) {
    if (log) log(config::WARNING, line);
  };
  client::FilterFactory factory = client::MakeFilterFactory<ManagerSession>(
      std::function<std::unique_ptr<ManagerSession>()>(
          [this] { return std::make_unique<ManagerSession>(Current()); }));
  runner_ =
      std::make_unique<client::Runner>(std::move(factory), std::move(options));
}

Manager::~Manager() {
  std::shared_ptr<const ManagerShared> shared = Current();
  if (shared != nullptr && shared->pool != nullptr) shared->pool->Clear();
}

std::shared_ptr<const ManagerShared> Manager::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shared_;
}

absl::Status Manager::Reload(config::ManagerConfig config) {
  std::shared_ptr<const ManagerShared> old = Current();
  KeepFixedSettings(*old->config, &config, old->log);
  absl::StatusOr<std::shared_ptr<ManagerShared>> fresh =
      BuildShared(std::move(config), old->log, old.get());
  if (!fresh.ok()) return fresh.status();
  std::lock_guard<std::mutex> lock(mu_);
  shared_ = *std::move(fresh);
  return absl::OkStatus();
}

std::shared_ptr<const config::ManagerConfig> Manager::config() const {
  return Current()->config;
}

size_t Manager::active_sessions() const {
  return Current()->active_sessions->load();
}

absl::Status Manager::Listen() { return runner_->Listen(); }

std::vector<std::string> Manager::bound_specs() const {
  return runner_->bound_specs();
}

absl::Status Manager::Run() { return runner_->Run(); }

void Manager::Stop() { runner_->Stop(); }

}  // namespace milter::manager
