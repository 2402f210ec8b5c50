// milter-manager: one milter to the MTA, an MTA to its child milters. See
// docs/milter-manager.md. Exits 0 after a clean stop (SIGTERM/SIGINT), 1 on
// a configuration or start-up error (one line on stderr naming the file,
// line and problem), 2 on a usage error.

#include <cstdio>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "manager/config/config.h"
#include "manager/core/manager.h"
#include "manager/metrics/metrics.h"
#include "manager/status/config_provider.h"
#include "manager/status/status_command.h"
#include "manager/status/status_server.h"
#include "tools/common/command_line.h"

ABSL_FLAG(std::string, config, "",
          "configuration file (protobuf text format); without one the "
          "manager runs on its embedded default");
ABSL_FLAG(std::string, connection_spec, "",
          "where the MTA connects (overrides the configuration), e.g. "
          "inet:10025@[127.0.0.1] or unix:/run/milter-manager.sock");
ABSL_FLAG(bool, show_config, false,
          "print the effective configuration (defaults filled in) and exit");
ABSL_FLAG(bool, check_config, false,
          "validate the configuration and exit (0: valid)");
ABSL_FLAG(std::string, status_listen, "",
          "where the status and metrics HTTP listener listens (overrides the "
          "configuration's status_listen), e.g. inet:9125@[127.0.0.1]; with "
          "--status, where to ask");
ABSL_FLAG(bool, status, false,
          "ask the running manager (at its status_listen) for its status, "
          "print it and exit");

namespace {

using milter::manager::config::LogLevel;

const char* LevelName(LogLevel level) {
  switch (level) {
    case milter::manager::config::ERROR:
      return "error";
    case milter::manager::config::WARNING:
      return "warning";
    case milter::manager::config::DEBUG:
      return "debug";
    default:
      return "info";
  }
}

void LogToStderr(LogLevel level, std::string_view line) {
  // One write per line, so that lines from several threads do not mix.
  std::string text = absl::StrCat("milter-manager: ", LevelName(level), ": ",
                                  std::string(line), "\n");
  std::fwrite(text.data(), 1, text.size(), stderr);
}

absl::StatusOr<milter::manager::ManagerConfig> Configuration() {
  std::string path = absl::GetFlag(FLAGS_config);
  absl::StatusOr<milter::manager::ManagerConfig> config =
      path.empty() ? milter::manager::EmbeddedDefault()
                   : milter::manager::LoadConfigFile(path);
  if (!config.ok()) return config;
  std::string spec = absl::GetFlag(FLAGS_connection_spec);
  if (!spec.empty()) {
    // Validated like the file's own value.
    config->set_connection_spec(spec);
    auto checked = milter::manager::ParseConfig(
        milter::manager::ConfigToText(*config), "--connection-spec");
    if (!checked.ok()) return checked.status();
  }
  std::string status = absl::GetFlag(FLAGS_status_listen);
  if (!status.empty()) {
    config->set_status_listen(status);
    auto checked = milter::manager::ParseConfig(
        milter::manager::ConfigToText(*config), "--status-listen");
    if (!checked.ok()) return checked.status();
  }
  return config;
}

// The status listener when status_listen is set (else null). Children are
// known from the configuration only; reload is not offered yet.
absl::StatusOr<std::unique_ptr<milter::manager::status::StatusServer>>
StartStatus(const milter::manager::ManagerConfig& config,
            std::shared_ptr<milter::manager::metrics::Metrics> metrics) {
  if (config.status_listen().empty()) return nullptr;
  milter::manager::status::StatusServerOptions options;
  options.listen = config.status_listen();
  options.unix_socket_mode = milter::manager::SocketMode(config).value_or(0660);
  options.metrics = std::move(metrics);
  options.provider = milter::manager::status::ConfigProvider(
      std::make_shared<const milter::manager::ManagerConfig>(config));
  auto server = milter::manager::status::StatusServer::Start(options);
  if (server.ok()) {
    LogToStderr(milter::manager::config::INFO,
                absl::StrCat("status on ", (*server)->bound_spec()));
  }
  return server;
}

}  // namespace

int main(int argc, char** argv) {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "manager/main");
  };
  usage.version_string = [] { return std::string("milter-manager 0.1\n"); };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "One milter to the MTA, an MTA to its child milters.\n"
      "Usage: milter-manager [--config FILE] [-s|--connection-spec SPEC]\n"
      "                      [--show-config] [--check-config]\n"
      "                      [--status-listen SPEC] [--status]");
  if (std::optional<int> exit_status = milter_tools::ParseToolCommandLine(
          argc, argv,
          {{'c', "config", true},
           {'s', "connection_spec", true},
           {'h', "help", false}},
          "milter-manager", "give the configuration with --config FILE")) {
    return *exit_status;
  }
  absl::StatusOr<milter::manager::ManagerConfig> config = Configuration();
  if (!config.ok()) {
    std::fprintf(stderr, "milter-manager: %s\n",
                 std::string(config.status().message()).c_str());
    return 1;
  }
  if (absl::GetFlag(FLAGS_show_config)) {
    std::fputs(milter::manager::ConfigToText(*config).c_str(), stdout);
    return 0;
  }
  if (absl::GetFlag(FLAGS_status)) {
    return milter::manager::status::PrintStatus(config->status_listen(), stdout,
                                                stderr);
  }
  // Metrics are kept when someone can read them.
  std::shared_ptr<milter::manager::metrics::Metrics> metrics;
  if (!config->status_listen().empty()) {
    metrics = std::make_shared<milter::manager::metrics::Metrics>();
  }
  absl::StatusOr<std::unique_ptr<milter::manager::Manager>> created =
      milter::manager::Manager::Create(*config, LogToStderr, metrics);
  if (!created.ok()) {
    std::string file = absl::GetFlag(FLAGS_config);
    std::fprintf(stderr, "milter-manager: %s%s\n",
                 file.empty() ? "" : (file + ": ").c_str(),
                 std::string(created.status().message()).c_str());
    return 1;
  }
  if (absl::GetFlag(FLAGS_check_config)) {
    std::fprintf(stderr, "milter-manager: configuration OK (%d children)\n",
                 config->child_size());
    return 0;
  }
  milter::manager::Manager& manager = **created;
  if (absl::Status s = manager.Listen(); !s.ok()) {
    std::fprintf(stderr, "milter-manager: %s\n",
                 std::string(s.message()).c_str());
    return 1;
  }
  LogToStderr(milter::manager::config::INFO,
              absl::StrCat("listening on ", manager.bound_specs().front(),
                           " with ", config->child_size(), " children"));
  absl::StatusOr<std::unique_ptr<milter::manager::status::StatusServer>>
      status = StartStatus(*config, metrics);
  if (!status.ok()) {
    std::fprintf(stderr, "milter-manager: %s\n",
                 std::string(status.status().message()).c_str());
    return 1;
  }
  absl::Status s = manager.Run();
  if (!s.ok()) {
    std::fprintf(stderr, "milter-manager: %s\n",
                 std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
