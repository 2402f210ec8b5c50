// milter-test-server: plays the MTA against a milter from the command line.
// See Usage() in args.cc for options and exit statuses.

#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/io_context.hpp"
#include "tools/milter-test-server/args.h"
#include "tools/milter-test-server/report.h"
#include "tools/milter-test-server/run.h"

namespace milter_test_server {
namespace {

int Main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<RewrittenArgs> args =
      RewriteArgs(std::vector<std::string>(argv, argv + argc));
  if (!args.ok()) {
    std::cerr << "milter-test-server: " << args.status().message() << "\n";
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
    std::cerr << "milter-test-server: " << s.message()
              << "\n(see milter-test-server --help)\n";
    return kExitUsage;
  }
  absl::StatusOr<ToolOptions> options = BuildOptions(*args);
  if (!options.ok()) {
    std::cerr << "milter-test-server: " << options.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<Plan> plan = MakePlan(*options);
  if (!plan.ok()) {
    std::cerr << "milter-test-server: " << plan.status().message() << "\n";
    return kExitUsage;
  }

  if (options->n_sessions > 1) {
    Summary summary = RunMany(*plan, options->n_sessions, options->threads,
                              options->event_loops);
    std::cout << FormatSummary(summary, options->threads, options->json);
    return summary.errors == 0 && summary.sessions == options->n_sessions
               ? kExitPass
               : kExitError;
  }

  asio::io_context io(1);
  Outcome outcome;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        outcome = co_await RunSession(io.get_executor(), *plan,
                                      options->verbose || options->json);
      },
      asio::detached);
  io.run();
  milter::server::MailMessage message = plan->message;
  bool show_message = options->output_message && outcome.error.ok();
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
                             options->json);
  return ExitStatusFor(outcome);
}

}  // namespace
}  // namespace milter_test_server

int main(int argc, char** argv) { return milter_test_server::Main(argc, argv); }
