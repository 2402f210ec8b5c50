// milter-test-server: plays the MTA against a milter from the command line.
// See Usage() in args.cc for options and exit statuses.

#include <signal.h>

#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "tools/milter-test-server/args.h"
#include "tools/milter-test-server/report.h"
#include "tools/milter-test-server/run.h"

namespace milter_test_server {
namespace {

constexpr char kProgram[] = "milter-test-server";

// The one line on standard error that says why the tool failed.
void Complain(absl::string_view why) {
  std::cerr << kProgram << ": " << why << "\n";
}

// Parses the command line; an exit status if the tool stops here (usage
// error, --help, --version).
std::optional<int> ParseOptions(int argc, char** argv, ToolOptions* options) {
  absl::StatusOr<RewrittenArgs> args =
      RewriteArgs(std::vector<std::string>(argv, argv + argc));
  if (!args.ok()) {
    Complain(args.status().message());
    return kExitUsage;
  }
  if (args->help) {
    std::cout << Usage();
    return kExitPass;
  }
  if (args->version) {
    std::cout << VersionText();
    return kExitPass;
  }
  if (absl::Status s = ApplyFlags(args->argv); !s.ok()) {
    Complain(absl::StrCat(s.message(), " (see ", kProgram, " --help)"));
    return kExitUsage;
  }
  absl::StatusOr<ToolOptions> built = BuildOptions(*args);
  if (!built.ok()) {
    Complain(built.status().message());
    return kExitUsage;
  }
  *options = *std::move(built);
  return std::nullopt;
}

// Runs `n_sessions` sessions; the summary on standard output, the first
// error (if any) on standard error.
int RunLoad(const Plan& plan, const ToolOptions& options) {
  Summary summary =
      RunMany(plan, options.n_sessions, options.threads, options.event_loops);
  std::cout << FormatSummary(summary, options.threads, options.json);
  if (summary.errors == 0 && summary.sessions == options.n_sessions) {
    return kExitPass;
  }
  std::string first = summary.error_messages.empty()
                          ? "no result"
                          : summary.error_messages.begin()->first;
  Complain(absl::StrCat(summary.errors, " of ", options.n_sessions,
                        " sessions failed (e.g. ", first, ")"));
  return kExitError;
}

// One session; the outcome on standard output, an error also on standard
// error.
int RunOne(const Plan& plan, const ToolOptions& options) {
  asio::io_context io(1);
  Outcome outcome;
  std::exception_ptr failure;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        outcome = co_await RunSession(io.get_executor(), plan,
                                      options.verbose || options.json);
      },
      [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
  milter::server::MailMessage message = plan.message;
  bool show_message = options.output_message && outcome.error.ok();
  if (show_message) {
    for (const std::string& refused : outcome.refused_recipients) {
      std::erase(message.recipients, refused);
    }
    message.recipient_args.clear();
    absl::Status applied = milter::server::ApplyModifications(
        outcome.modifications, outcome.header_leading_space, &message);
    if (!applied.ok()) {
      outcome.error = applied;
      show_message = false;
    }
  }
  std::cout << FormatOutcome(outcome, show_message ? &message : nullptr,
                             options.json);
  if (!outcome.error.ok()) Complain(outcome.error.ToString());
  return ExitStatusFor(outcome);
}

int Main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  ToolOptions options;
  if (std::optional<int> exit_status = ParseOptions(argc, argv, &options)) {
    return *exit_status;
  }
  absl::StatusOr<Plan> plan = MakePlan(options);
  if (!plan.ok()) {
    Complain(plan.status().message());
    return kExitUsage;
  }
  if (options.n_sessions > 1) return RunLoad(*plan, options);
  return RunOne(*plan, options);
}

}  // namespace
}  // namespace milter_test_server

int main(int argc, char** argv) {
  try {
    return milter_test_server::Main(argc, argv);
  } catch (const std::exception& e) {
    milter_test_server::Complain(e.what());
  } catch (...) {
    milter_test_server::Complain("unknown exception");
  }
  return milter_test_server::kExitError;
}
