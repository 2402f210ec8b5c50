// Command line of milter-test-server: absl flags plus what absl lacks. absl
// flag names cannot contain '-', have no short options and no repeatable
// flags, so RewriteArgs() turns "--connection-spec" into "--connection_spec",
// "-s X" into "--connection_spec=X" (-f, -r, -h, -b likewise; -h is --header,
// not help, as in the original tool), and collects the repeatable options
// (recipients, headers, body chunks, macros) itself. BuildOptions() then reads
// the parsed flags into ToolOptions and validates them.

#ifndef TOOLS_MILTER_TEST_SERVER_ARGS_H_
#define TOOLS_MILTER_TEST_SERVER_ARGS_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "milter/server/mail_message.h"
#include "milter/server/session.h"

ABSL_DECLARE_FLAG(std::string, connection_spec);
ABSL_DECLARE_FLAG(int, negotiate_version);
ABSL_DECLARE_FLAG(std::string, connect_host);
ABSL_DECLARE_FLAG(std::string, connect_address);
ABSL_DECLARE_FLAG(std::string, helo_fqdn);
ABSL_DECLARE_FLAG(std::string, envelope_from);
ABSL_DECLARE_FLAG(std::string, unknown);
ABSL_DECLARE_FLAG(std::string, authenticated_name);
ABSL_DECLARE_FLAG(std::string, authenticated_type);
ABSL_DECLARE_FLAG(std::string, authenticated_author);
ABSL_DECLARE_FLAG(std::string, mail_file);
ABSL_DECLARE_FLAG(bool, output_message);
ABSL_DECLARE_FLAG(double, connection_timeout);
ABSL_DECLARE_FLAG(double, reading_timeout);
ABSL_DECLARE_FLAG(double, writing_timeout);
ABSL_DECLARE_FLAG(double, end_of_message_timeout);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(int, n_sessions);
ABSL_DECLARE_FLAG(int, n_messages);
ABSL_DECLARE_FLAG(int, event_loops);
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(bool, verbose);

namespace milter_test_server {

// Exit statuses (also listed in Usage()).
enum ExitStatus {
  kExitPass = 0,   // pass or accept (all sessions without error, with many)
  kExitError = 1,  // connection, protocol or timeout error (any session)
  kExitUsage = 2,  // bad command line or unreadable mail file
  kExitReject = 3,
  kExitTemporaryFailure = 4,
  kExitDiscard = 5,
  kExitQuarantine = 6,
};

struct RewrittenArgs {
  std::vector<std::string> argv;  // for absl::ParseCommandLine
  // Repeatable options by canonical long name ("envelope-recipient",
  // "header", "body", "connect-macro", ...), values in order.
  std::map<std::string, std::vector<std::string>> repeated;
  bool help = false;
  bool version = false;
};

// Rewrites `args` (argv including argv[0]); errors for a missing value.
absl::StatusOr<RewrittenArgs> RewriteArgs(const std::vector<std::string>& args);

// Sets the absl flags named in `argv` (RewriteArgs() output, argv[0]
// skipped): "--name=value", "--name" and "--noname" for booleans. Unlike
// absl::ParseCommandLine it returns errors (unknown flag, bad value, stray
// argument) instead of exiting, so that they get the usage exit status.
absl::Status ApplyFlags(const std::vector<std::string>& argv);

struct ToolOptions {
  std::string connection_spec;
  milter::server::SessionOptions session;
  milter::server::ConnectionInfo connect;
  std::string helo;
  std::optional<std::string> unknown;
  // Envelope, headers and body; header values raw (" value").
  milter::server::MailMessage message;
  // --body values: each one body chunk. Empty: message.body as a whole.
  std::vector<std::string> body_chunks;
  // User macros per stage (override the defaults of the same name).
  std::map<std::string, milter::server::Macros> macros;  // by stage name
  std::string auth_name, auth_type, auth_author;
  bool output_message = false;
  int threads = 1;
  int n_sessions = 1;
  int n_messages = 1;
  int event_loops = 1;
  bool json = false;
  bool verbose = false;
};

// Stage names for --STAGE-macro: connect, helo, envelope-from,
// envelope-recipient, data, end-of-header, end-of-message.
const std::vector<std::string>& MacroStageNames();

// Reads the parsed absl flags and `args.repeated` into options; loads
// --mail-file.
absl::StatusOr<ToolOptions> BuildOptions(const RewrittenArgs& args);

// The --help text.
std::string Usage();
std::string VersionText();

}  // namespace milter_test_server

#endif  // TOOLS_MILTER_TEST_SERVER_ARGS_H_
