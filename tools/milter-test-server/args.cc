// milter-test-server's command line: option rewriting, flag parsing,
// validation into ToolOptions, and the --help text.

#include "tools/milter-test-server/args.h"

#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "asio/ip/address.hpp"
#include "milter/codec/protocol.h"
#include "milter/net/socket_spec.h"

ABSL_FLAG(std::string, connection_spec, "inet:10025@[127.0.0.1]",
          "the filter's socket");
ABSL_FLAG(int, negotiate_version, 6, "milter protocol version to offer");
ABSL_FLAG(std::string, connect_host, "mx.example.net", "SMTP client host");
ABSL_FLAG(std::string, connect_address, "inet:50443@[192.168.123.123]",
          "SMTP client address");
ABSL_FLAG(std::string, helo_fqdn, "delian", "HELO name");
ABSL_FLAG(std::string, envelope_from, "", "MAIL FROM address");
ABSL_FLAG(std::string, unknown, "", "an unknown SMTP command to send");
ABSL_FLAG(std::string, authenticated_name, "", "SASL login ({auth_authen})");
ABSL_FLAG(std::string, authenticated_type, "", "SASL method ({auth_type})");
ABSL_FLAG(std::string, authenticated_author, "", "SASL sender ({auth_author})");
ABSL_FLAG(std::string, mail_file, "", "RFC 5322 message file");
ABSL_FLAG(bool, output_message, false, "print the resulting message");
ABSL_FLAG(double, connection_timeout, 300, "seconds");
ABSL_FLAG(double, reading_timeout, 10, "seconds");
ABSL_FLAG(double, writing_timeout, 10, "seconds");
ABSL_FLAG(double, end_of_message_timeout, 300, "seconds");
ABSL_FLAG(int, threads, 1, "concurrent sessions");
ABSL_FLAG(int, n_sessions, 0, "total sessions (default: --threads)");
ABSL_FLAG(int, event_loops, 1, "event loop threads");
ABSL_FLAG(int, n_messages, 1, "messages per session");
ABSL_FLAG(bool, json, false, "JSON output");
ABSL_FLAG(bool, verbose, false, "print every stage");

namespace milter_test_server {
namespace {

using milter::server::HeaderField;

// The values of a repeatable option, in order.
using Repeated = std::function<std::vector<std::string>(const std::string&)>;

const std::set<std::string>& BoolFlags() {
  static const auto* flags = new std::set<std::string>{
      "json", "verbose", "output-message", "help", "version"};
  return *flags;
}

std::set<std::string> RepeatedFlags() {
  std::set<std::string> out = {"envelope-recipient", "header", "body"};
  for (const std::string& stage : MacroStageNames()) {
    out.insert(stage + "-macro");
  }
  return out;
}

const char* ShortToLong(char c) {
  switch (c) {
    case 's':
      return "connection-spec";
    case 'f':
      return "envelope-from";
    case 'r':
      return "envelope-recipient";
    case 'h':
      return "header";
    case 'b':
      return "body";
  }
  return nullptr;
}

absl::StatusOr<std::pair<std::string, std::string>> SplitNameValue(
    const std::string& option, const std::string& text) {
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", option, " wants NAME:VALUE, got \"", text, "\""));
  }
  return std::make_pair(text.substr(0, colon), text.substr(colon + 1));
}

absl::Duration Seconds(double s) { return absl::Milliseconds(s * 1000); }

absl::StatusOr<milter::server::ConnectionInfo> ParseConnectAddress(
    const std::string& host, const std::string& text) {
  milter::server::ConnectionInfo info;
  info.hostname = host;
  asio::error_code ec;
  asio::ip::address bare = asio::ip::make_address(text, ec);
  if (!ec) {
    info.family = bare.is_v6() ? milter::codec::Family::kInet6
                               : milter::codec::Family::kInet;
    info.port = 50443;
    info.address = text;
    return info;
  }
  absl::StatusOr<milter::net::SocketSpec> spec =
      milter::net::ParseSocketSpec(text);
  if (!spec.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--connect-address: ", spec.status().message()));
  }
  switch (spec->kind) {
    case milter::net::SocketSpec::Kind::kUnix:
      info.family = milter::codec::Family::kUnix;
      info.address = spec->path;
      break;
    case milter::net::SocketSpec::Kind::kInet:
    case milter::net::SocketSpec::Kind::kInet6:
      info.family = spec->kind == milter::net::SocketSpec::Kind::kInet
                        ? milter::codec::Family::kInet
                        : milter::codec::Family::kInet6;
      info.port = spec->port;
      info.address = spec->host;
      break;
  }
  return info;
}

}  // namespace

const std::vector<std::string>& MacroStageNames() {
  static const auto* names = new std::vector<std::string>{
      "connect", "helo",          "envelope-from", "envelope-recipient",
      "data",    "end-of-header", "end-of-message"};
  return *names;
}

absl::StatusOr<RewrittenArgs> RewriteArgs(
    const std::vector<std::string>& args) {
  RewrittenArgs out;
  std::set<std::string> repeated = RepeatedFlags();
  if (args.empty()) return out;
  out.argv.push_back(args[0]);
  // --help and --version win wherever they stand, even after a bad option.
  for (size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    if (args[i] == "--help") out.help = true;
    if (args[i] == "--version") out.version = true;
  }
  if (out.help || out.version) return out;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      // End of options; the tool takes no operands, so anything after it is
      // reported as an unexpected argument.
      for (++i; i < args.size(); ++i) out.argv.push_back(args[i]);
      break;
    }
    std::string name;
    std::optional<std::string> value;
    if (arg.size() >= 2 && arg[0] == '-' && arg[1] != '-') {
      const char* long_name = ShortToLong(arg[1]);
      if (long_name == nullptr) {
        out.argv.push_back(arg);  // let absl complain
        continue;
      }
      name = long_name;
      if (arg.size() > 2) value = arg.substr(arg[2] == '=' ? 3 : 2);
    } else if (absl::StartsWith(arg, "--") && arg.size() > 2) {
      size_t eq = arg.find('=');
      name =
          arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      name = absl::StrReplaceAll(name, {{"_", "-"}});
      if (eq != std::string::npos) value = arg.substr(eq + 1);
    } else {
      out.argv.push_back(arg);
      continue;
    }
    if (name == "help") {
      out.help = true;
      continue;
    }
    if (name == "version") {
      out.version = true;
      continue;
    }
    if (absl::StartsWith(name, "no-") && BoolFlags().count(name.substr(3))) {
      name = "no" + name.substr(3);  // --no-json -> --nojson
    }
    bool is_bool =
        BoolFlags().count(name) > 0 ||
        (absl::StartsWith(name, "no") && BoolFlags().count(name.substr(2)) > 0);
    if (!is_bool && repeated.count(name) == 0 &&
        absl::FindCommandLineFlag(absl::StrReplaceAll(name, {{"-", "_"}})) ==
            nullptr) {
      // Refuse before taking the next argument as its value.
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option --", name));
    }
    if (!value && !is_bool) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("option --", name, " needs a value"));
      }
      value = args[++i];
    }
    if (repeated.count(name)) {
      out.repeated[name].push_back(*value);
      continue;
    }
    std::string flag =
        absl::StrCat("--", absl::StrReplaceAll(name, {{"-", "_"}}));
    if (value) absl::StrAppend(&flag, "=", *value);
    out.argv.push_back(flag);
  }
  return out;
}

absl::Status ApplyFlags(const std::vector<std::string>& argv) {
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", arg, "\""));
    }
    size_t eq = arg.find('=');
    std::string name =
        arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::optional<std::string> value;
    if (eq != std::string::npos) value = arg.substr(eq + 1);
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && !value && absl::StartsWith(name, "no")) {
      flag = absl::FindCommandLineFlag(name.substr(2));
      if (flag != nullptr && flag->IsOfType<bool>()) value = "false";
    }
    std::string shown = absl::StrReplaceAll(name, {{"_", "-"}});
    if (flag == nullptr || flag->IsRetired()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option --", shown));
    }
    if (!value) {
      if (!flag->IsOfType<bool>()) {
        return absl::InvalidArgumentError(
            absl::StrCat("option --", shown, " needs a value"));
      }
      value = "true";
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", shown, "=", *value, ": ", error));
    }
  }
  return absl::OkStatus();
}

namespace {

// The connection, negotiation, timeouts and SMTP client: --connection-spec,
// --negotiate-version, the timeouts, --connect-*, --helo-fqdn, --unknown,
// --authenticated-*.
absl::Status SessionFromFlags(ToolOptions* o) {
  o->connection_spec = absl::GetFlag(FLAGS_connection_spec);
  if (absl::StatusOr<milter::net::SocketSpec> spec =
          milter::net::ParseSocketSpec(o->connection_spec);
      !spec.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--connection-spec: ", spec.status().message()));
  }
  int version = absl::GetFlag(FLAGS_negotiate_version);
  if (version < static_cast<int>(milter::codec::kMinVersion) ||
      version > static_cast<int>(milter::codec::kMaxVersion)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--negotiate-version must be 2..6, not ", version));
  }
  o->session = milter::server::SessionOptions::ForVersion(version);
  o->session.connect_timeout = Seconds(absl::GetFlag(FLAGS_connection_timeout));
  o->session.read_timeout = Seconds(absl::GetFlag(FLAGS_reading_timeout));
  o->session.write_timeout = Seconds(absl::GetFlag(FLAGS_writing_timeout));
  o->session.end_of_message_timeout =
      Seconds(absl::GetFlag(FLAGS_end_of_message_timeout));
  for (double t : {absl::GetFlag(FLAGS_connection_timeout),
                   absl::GetFlag(FLAGS_reading_timeout),
                   absl::GetFlag(FLAGS_writing_timeout),
                   absl::GetFlag(FLAGS_end_of_message_timeout)}) {
    if (!(t > 0)) {
      return absl::InvalidArgumentError("timeouts must be positive seconds");
    }
  }

  absl::StatusOr<milter::server::ConnectionInfo> connect = ParseConnectAddress(
      absl::GetFlag(FLAGS_connect_host), absl::GetFlag(FLAGS_connect_address));
  if (!connect.ok()) return connect.status();
  o->connect = *connect;
  o->helo = absl::GetFlag(FLAGS_helo_fqdn);
  if (std::string unknown = absl::GetFlag(FLAGS_unknown); !unknown.empty()) {
    o->unknown = unknown;
  }
  o->auth_name = absl::GetFlag(FLAGS_authenticated_name);
  o->auth_type = absl::GetFlag(FLAGS_authenticated_type);
  o->auth_author = absl::GetFlag(FLAGS_authenticated_author);
  return absl::OkStatus();
}

// The message: --mail-file or defaults, then --header, --body,
// --envelope-from and --envelope-recipient on top.
absl::Status MessageFromFlags(const Repeated& repeated, ToolOptions* o) {
  // The message: a mail file, or defaults; then the command line on top.
  std::string mail_file = absl::GetFlag(FLAGS_mail_file);
  if (!mail_file.empty()) {
    std::ifstream in(mail_file, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("--mail-file: cannot read ", mail_file));
    }
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<milter::server::MailMessage> parsed =
        milter::server::ParseRfc5322(text.str());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--mail-file ", mail_file, ": ", parsed.status().message()));
    }
    o->message = *std::move(parsed);
  }
  std::vector<std::string> headers = repeated("header");
  for (const std::string& h : headers) {
    auto nv = SplitNameValue("header", h);
    if (!nv.ok()) return nv.status();
    // As on the wire: "Name: value".
    const std::string& value = nv->second;
    bool spaced = !value.empty() && (value[0] == ' ' || value[0] == '\t');
    o->message.headers.push_back(
        HeaderField{nv->first, spaced ? value : absl::StrCat(" ", value)});
  }
  if (mail_file.empty() && headers.empty()) {
    o->message.headers = {{"From", " <sender@example.com>"},
                          {"To", " <receiver@example.org>"},
                          {"Subject", " Hello"}};
  }
  o->body_chunks = repeated("body");
  if (mail_file.empty() && o->body_chunks.empty()) {
    o->message.body = "Hello, milter.\r\n";
  }
  if (!o->body_chunks.empty()) {
    o->message.body.clear();
    for (const std::string& chunk : o->body_chunks) o->message.body += chunk;
  }

  auto header_addresses = [&](const char* name) {
    std::vector<std::string> out;
    for (const HeaderField& h : o->message.headers) {
      if (absl::EqualsIgnoreCase(h.name, name)) {
        for (std::string& a : milter::server::ExtractAddresses(h.value)) {
          out.push_back(std::move(a));
        }
      }
    }
    return out;
  };
  o->message.envelope_from = absl::GetFlag(FLAGS_envelope_from);
  if (o->message.envelope_from.empty()) {
    std::vector<std::string> from = header_addresses("From");
    o->message.envelope_from =
        from.empty() ? "<sender@example.com>" : from.front();
  }
  o->message.recipients = repeated("envelope-recipient");
  if (o->message.recipients.empty()) {
    o->message.recipients = header_addresses("To");
    if (o->message.recipients.empty()) {
      o->message.recipients = {"<receiver@example.org>"};
    }
  }
  return absl::OkStatus();
}

// --STAGE-macro values, and the options of a load run and of the output.
absl::Status RunFromFlags(const Repeated& repeated, ToolOptions* o) {
  for (const std::string& stage : MacroStageNames()) {
    for (const std::string& m : repeated(stage + "-macro")) {
      auto nv = SplitNameValue(stage + "-macro", m);
      if (!nv.ok()) return nv.status();
      o->macros[stage].push_back(*nv);
    }
  }

  o->output_message = absl::GetFlag(FLAGS_output_message);
  o->threads = absl::GetFlag(FLAGS_threads);
  o->n_sessions = absl::GetFlag(FLAGS_n_sessions);
  o->event_loops = absl::GetFlag(FLAGS_event_loops);
  o->n_messages = absl::GetFlag(FLAGS_n_messages);
  if (o->n_messages < 1) {
    return absl::InvalidArgumentError("--n-messages must be >= 1");
  }
  if (o->threads < 1)
    return absl::InvalidArgumentError("--threads must be >= 1");
  if (o->n_sessions == 0) o->n_sessions = o->threads;
  if (o->n_sessions < 1) {
    return absl::InvalidArgumentError("--n-sessions must be >= 1");
  }
  if (o->event_loops < 1 || o->event_loops > 64) {
    return absl::InvalidArgumentError("--event-loops must be 1..64");
  }
  o->json = absl::GetFlag(FLAGS_json);
  o->verbose = absl::GetFlag(FLAGS_verbose);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ToolOptions> BuildOptions(const RewrittenArgs& args) {
  ToolOptions o;
  Repeated repeated = [&](const std::string& name) {
    auto it = args.repeated.find(name);
    return it == args.repeated.end() ? std::vector<std::string>{} : it->second;
  };
  if (absl::Status s = SessionFromFlags(&o); !s.ok()) return s;
  if (absl::Status s = MessageFromFlags(repeated, &o); !s.ok()) return s;
  if (absl::Status s = RunFromFlags(repeated, &o); !s.ok()) return s;
  return o;
}

std::string VersionText() { return "milter-test-server (libmilter++) 0.1.0\n"; }

std::string Usage() {
  return R"(Usage: milter-test-server [OPTIONS]

Plays the MTA: connects to a milter, runs an SMTP session through it and
reports the filter's verdict and modifications.

Connection:
  -s, --connection-spec=SPEC    filter socket: unix:/path, inet:PORT@HOST,
                                inet6:PORT@[ADDR] (default inet:10025@[127.0.0.1])
      --negotiate-version=N     protocol version to offer, 2..6 (default 6)
      --connection-timeout=SEC  connect timeout (default 300)
      --reading-timeout=SEC     per-answer timeout (default 10)
      --writing-timeout=SEC     write timeout (default 10)
      --end-of-message-timeout=SEC
                                end-of-message answer timeout (default 300)
SMTP session:
      --connect-host=HOST       client host name (default mx.example.net)
      --connect-address=ADDR    client address: an IP address or a spec such
                                as inet:50443@[192.168.123.123] (the default)
      --helo-fqdn=NAME          HELO name (default delian)
      --unknown=COMMAND         also send this unknown SMTP command
  -f, --envelope-from=ADDR      MAIL FROM (default: the From: header)
  -r, --envelope-recipient=ADDR RCPT TO, repeatable (default: the To: header)
      --authenticated-name=NAME --authenticated-type=TYPE
      --authenticated-author=AUTHOR
                                SMTP AUTH ({auth_authen}, {auth_type},
                                {auth_author} at MAIL FROM)
  -h, --header=NAME:VALUE       a header, repeatable (not help!); one space
                                is put after the colon unless VALUE starts
                                with one
  -b, --body=CHUNK              a body chunk, repeatable
      --mail-file=FILE          an RFC 5322 message: headers and body; its
                                From:/To: fill the envelope when not given
      --STAGE-macro=NAME:VALUE  a macro for STAGE (connect, helo,
                                envelope-from, envelope-recipient, data,
                                end-of-header, end-of-message), repeatable;
                                overrides a default macro of that name
Output:
      --output-message          print the message after the modifications
                                (single session only)
      --json                    JSON output
      --verbose                 print every stage's answer (single session
                                only)
      --help                    this text
      --version                 version
Load:
      --threads=N               concurrent sessions (default 1)
      --n-sessions=N            total sessions (default: --threads); with more
                                than one, prints counts per status,
                                sessions/s and latency percentiles
      --event-loops=N           event loop threads (default 1)
      --n-messages=N            messages per session (default 1), with an
                                abort between them; the status is the last
                                message's, earlier ones are listed first

Output: "status: pass|accept|reject|temporary-failure|discard|quarantine",
the reply code if any, the modifications, "elapsed-time: N seconds"; on
failure "status: error" and an "error: ..." line saying why.

Exit status:
  0  pass or accept (several sessions: every session ran without error)
  1  error: cannot connect, protocol violation, timeout (any session)
  2  usage error or unreadable mail file
  3  reject        4  temporary-failure (also 421 shutdown)
  5  discard       6  quarantine
)";
}

}  // namespace milter_test_server
