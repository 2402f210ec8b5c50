// milter-manager: one milter to the MTA, an MTA to its child milters. See
// docs/milter-manager.md and milter-manager(8). Exits 0 after a clean stop
// (SIGTERM/SIGINT), 1 on a configuration or start-up error (one line on
// stderr naming the file, line and problem), 2 on a usage error.

#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "manager/config/config.h"
#include "manager/core/manager.h"
#include "manager/daemon/service.h"
#include "manager/daemon/signal_watcher.h"
#include "manager/status/status_command.h"
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

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "milter-manager: %s\n",
               std::string(status.message()).c_str());
  return 1;
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
  milter::manager::ServiceOptions options;
  options.config_path = absl::GetFlag(FLAGS_config);
  options.connection_spec = absl::GetFlag(FLAGS_connection_spec);
  std::vector<std::string> warnings;
  options.status_listen = absl::GetFlag(FLAGS_status_listen);
  absl::StatusOr<milter::manager::ManagerConfig> config =
      milter::manager::LoadEffectiveConfig(options, &warnings);
  for (const std::string& warning : warnings) {
    std::fprintf(stderr, "milter-manager: warning: %s\n", warning.c_str());
  }
  if (!config.ok()) return Fail(config.status());
  if (absl::GetFlag(FLAGS_show_config)) {
    std::fputs(milter::manager::ConfigToText(*config).c_str(), stdout);
    return 0;
  }
  if (absl::GetFlag(FLAGS_status)) {
    return milter::manager::status::PrintStatus(config->status_listen(), stdout,
                                                stderr);
  }
  if (absl::GetFlag(FLAGS_check_config)) {
    // Builds what the configuration describes, without listening.
    absl::StatusOr<std::unique_ptr<milter::manager::Manager>> built =
        milter::manager::Manager::Create(*config, nullptr);
    if (!built.ok()) {
      return Fail(absl::Status(
          built.status().code(),
          absl::StrCat(
              options.config_path.empty() ? "" : options.config_path + ": ",
              built.status().message())));
    }
    std::fprintf(stderr, "milter-manager: configuration OK (%d children)\n",
                 config->child_size());
    return 0;
  }
  // Before any thread starts, so that SIGHUP and SIGUSR1 reach only the
  // service's watcher. A closed stderr (a pipe whose reader went away)
  // must not kill the manager.
  milter::manager::BlockWatchedSignals();
  std::signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<std::unique_ptr<milter::manager::Service>> service =
      milter::manager::Service::Start(options, *std::move(config));
  if (!service.ok()) return Fail(service.status());
  return (*service)->Run().ok() ? 0 : 1;
}
