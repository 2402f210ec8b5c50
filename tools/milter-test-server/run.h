// Runs milter-test-server's SMTP session(s) against a filter: one session as
// a coroutine (RunSession), or many concurrently on a few event loops
// (RunMany) with per-status counts and latencies.

#ifndef TOOLS_MILTER_TEST_SERVER_RUN_H_
#define TOOLS_MILTER_TEST_SERVER_RUN_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "milter/net/socket_spec.h"
#include "milter/server/mail_message.h"
#include "milter/server/session.h"
#include "tools/milter-test-server/args.h"

namespace milter_test_server {

// Everything a session sends, prepared once and shared by all sessions.
struct Plan {
  milter::net::SocketSpec spec;
  // Set by RunMany: `spec` looked up once for all sessions.
  std::optional<milter::server::ResolvedSpec> resolved;
  milter::server::SessionOptions session;
  milter::server::ConnectionInfo connect;
  std::string helo;
  std::optional<std::string> unknown;
  milter::server::MailMessage message;
  std::vector<std::string> body_chunks;  // empty: message.body
  milter::server::Macros connect_macros, helo_macros, mail_macros, data_macros,
      end_of_header_macros, end_of_message_macros;
  std::vector<milter::server::Macros> rcpt_macros;  // per recipient
  int n_messages = 1;  // per session, with an abort between them
};

// Defaults like Postfix's plus the user's --STAGE-macro values.
absl::StatusOr<Plan> MakePlan(const ToolOptions& options);

struct StageLog {
  std::string stage;     // "connect", "helo", ..., "end-of-message"
  std::string decision;  // "continue", "reject", ...
  std::string reply;
  std::string note;  // "not sent", "no reply" or ""
};

struct Outcome {
  absl::Status error;  // not OK: the session failed
  // pass, accept, reject, temporary-failure, discard, quarantine.
  std::string status;
  std::string reply;
  std::vector<StageLog> stages;
  // Recipients the filter refused at RCPT (not in the resulting message).
  std::vector<std::string> refused_recipients;
  std::vector<milter::server::Modification> modifications;
  std::optional<std::string> quarantine;
  int progress = 0;
  bool header_leading_space = false;
  // What negotiation settled, for --verbose and --json.
  uint32_t version = 0, actions = 0, protocol = 0;
  double elapsed_seconds = 0;
  // With --n-messages: the results of the earlier messages of the session
  // (the fields above are the last message's).
  std::vector<Outcome> previous_messages;
  // The filter asked to end the SMTP connection (421 shutdown or 'f').
  bool connection_ended = false;
};

// One SMTP session: connect, negotiate, every stage, quit. Stops at the first
// verdict that ends the message. With `log_stages`, records each stage.
asio::awaitable<Outcome> RunSession(asio::any_io_executor executor,
                                    const Plan& plan, bool log_stages);

struct Summary {
  int64_t sessions = 0;
  int64_t errors = 0;
  std::map<std::string, int64_t> statuses;        // by status
  std::map<std::string, int64_t> error_messages;  // first few kinds
  double elapsed_seconds = 0;
  double sessions_per_second = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
  double cpu_user_seconds = 0, cpu_system_seconds = 0;
};

// `n_sessions` sessions, `concurrency` at a time, on `event_loops` threads.
Summary RunMany(const Plan& plan, int n_sessions, int concurrency,
                int event_loops);

// The exit status for one outcome (see ExitStatus).
int ExitStatusFor(const Outcome& outcome);

}  // namespace milter_test_server

#endif  // TOOLS_MILTER_TEST_SERVER_RUN_H_
