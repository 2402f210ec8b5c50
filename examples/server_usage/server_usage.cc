// server_usage: plays the MTA for one message against a filter, with the
// coroutine API of milter/server, and prints the verdicts, the modifications
// and the message as the filter left it. See docs/server.md.
//
//   server_usage SOCKET_SPEC        e.g. unix:/tmp/filter.sock
//
// Exit status: 0 if the message would be delivered (or --help), 1 on a
// session error (cannot connect, timeout, protocol violation), 2 on a usage
// error, 3 if the filter refused the message. Verdicts go to standard
// output; the reason for a failure to standard error, one line.

#include <exception>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/awaitable.hpp"
#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "milter/codec/header_value.h"
#include "milter/codec/modification.h"
#include "milter/codec/protocol.h"
#include "milter/net/socket_spec.h"
#include "milter/server/mail_message.h"
#include "milter/server/session.h"

namespace server = milter::server;
using VerdictOr = absl::StatusOr<server::Verdict>;

// The one line on standard error that says why the session failed.
void Complain(const std::string& what, const absl::Status& status) {
  std::cerr << "server_usage: " << what << ": " << status << "\n";
}

// The message as the MTA holds it: header values raw, as after the colon.
server::MailMessage ExampleMessage() {
  server::MailMessage message;
  message.envelope_from = "<alice@example.com>";
  message.recipients = {"<bob@example.org>"};
  message.headers = {{"From", " Alice <alice@example.com>"},
                     {"To", " Bob <bob@example.org>"},
                     {"Subject", " Lunch"}};
  message.body = "Noon at the usual place?\r\n";
  return message;
}

// Prints a stage's verdict; true if the session must stop here (an error, or
// a verdict that ends the message: anything but continue and skip).
bool Stop(const char* stage, const VerdictOr& v) {
  if (!v.ok()) {
    Complain(stage, v.status());
    return true;
  }
  std::cout << stage << ": " << server::StatusName(v->decision)
            << (v->reply.empty() ? "" : " ") << v->reply
            << (!v->sent       ? " (not sent)"
                : !v->answered ? " (no reply)"
                               : "")
            << "\n";
  return v->Final();
}

// Connect to end of headers and the body. Returns the last verdict: an
// error, a final verdict, or continue (or skip) to go on to end of message.
asio::awaitable<VerdictOr> SendUpToBody(server::Session& session,
                                        const server::MailMessage& message) {
  server::ConnectionInfo client;
  client.hostname = "mx.example.net";
  client.family = milter::codec::Family::kInet;
  client.port = 50443;
  client.address = "192.0.2.25";
  const server::Macros connect_macros = {{"j", "mail.example.net"},
                                         {"{client_addr}", "192.0.2.25"}};
  const server::Macros queue_id = {{"i", "4Dx1Yz0TestQ"}};

  VerdictOr v = co_await session.ConnectStage(client, connect_macros);
  if (Stop("connect", v)) co_return v;
  v = co_await session.Helo("mx.example.net", {});
  if (Stop("helo", v)) co_return v;
  v = co_await session.Mail(message.envelope_from, {}, {});
  if (Stop("mail", v)) co_return v;
  for (const std::string& rcpt : message.recipients) {
    // A real MTA drops a refused recipient and goes on with the others.
    v = co_await session.Rcpt(rcpt, {}, {});
    if (Stop("rcpt", v)) co_return v;
  }
  v = co_await session.Data(queue_id);
  if (Stop("data", v)) co_return v;
  for (const server::HeaderField& h : message.headers) {
    // Without HDR_LEADSPC the filter gets the value without its leading space.
    v = co_await session.Header(h.name,
                                milter::codec::HeaderValueForFilter(
                                    h.value, session.header_leading_space()));
    if (Stop("header", v)) co_return v;
  }
  v = co_await session.EndOfHeaders(queue_id);
  if (Stop("end-of-headers", v)) co_return v;
  v = co_await session.Body(message.body);  // in chunks; stops at skip
  Stop("body", v);
  co_return v;
}

// End of message, quit, and the message as the filter left it. Returns the
// exit status.
asio::awaitable<int> FinishMessage(server::Session& session,
                                   server::MailMessage& message) {
  const server::Macros queue_id = {{"i", "4Dx1Yz0TestQ"}};
  absl::StatusOr<server::EndOfMessageResult> eom =
      co_await session.EndOfMessage(queue_id);
  if (Stop("end-of-message",
           eom.ok() ? VerdictOr(eom->verdict) : VerdictOr(eom.status()))) {
    if (!eom.ok()) co_return 1;
    if (eom->verdict.decision != server::Decision::kAccept) {
      co_await session.Quit();
      co_return 3;
    }
  }
  if (absl::Status s = co_await session.Quit(); !s.ok()) {
    Complain("quit", s);
    co_return 1;
  }

  for (const server::Modification& m : eom->modifications) {
    std::cout << "modification: " << milter::codec::ToString(m) << "\n";
  }
  absl::Status applied = server::ApplyModifications(
      eom->modifications, session.header_leading_space(), &message);
  if (!applied.ok()) {
    Complain("apply", applied);
    co_return 1;
  }
  std::cout << "envelope-from: " << message.envelope_from << "\n";
  for (const std::string& r : message.recipients) {
    std::cout << "envelope-recipient: " << r << "\n";
  }
  std::cout << "\n" << server::SerializeMessage(message, /*lf_only=*/true);
  co_return 0;
}

// One SMTP session through the filter. Returns the exit status.
asio::awaitable<int> RunOne(const milter::net::SocketSpec& spec) {
  server::SessionOptions options;  // offers everything protocol 6 defines
  options.read_timeout = absl::Seconds(10);
  server::Session session(co_await asio::this_coro::executor, options);

  if (absl::Status s = co_await session.Open(spec); !s.ok()) {
    Complain("open", s);
    co_return 1;
  }
  std::cout << "negotiated: version " << session.negotiated().version
            << ", actions "
            << milter::codec::ActionFlagsToString(session.negotiated().actions)
            << "\n";

  server::MailMessage message = ExampleMessage();
  VerdictOr v = co_await SendUpToBody(session, message);
  if (!v.ok()) co_return 1;  // the session is closed already
  if (v->Final()) {
    co_await session.Quit();
    co_return 3;
  }
  co_return co_await FinishMessage(session, message);
}

int Main(int argc, char** argv) {
  if (argc == 2 &&
      (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << "usage: server_usage SOCKET_SPEC\n";
    return 0;
  }
  if (argc != 2) {
    std::cerr << "server_usage: want one SOCKET_SPEC (see --help)\n";
    return 2;
  }
  absl::StatusOr<milter::net::SocketSpec> spec =
      milter::net::ParseSocketSpec(argv[1]);
  if (!spec.ok()) {
    std::cerr << "server_usage: " << spec.status().message() << "\n";
    return 2;
  }
  asio::io_context io;
  int exit_status = 1;
  std::exception_ptr failure;  // an exception the coroutine let out
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> { exit_status = co_await RunOne(*spec); },
      [&](std::exception_ptr e) { failure = e; });
  io.run();  // returns once the session's coroutine has finished
  if (failure) std::rethrow_exception(failure);
  return exit_status;
}

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "server_usage: " << e.what() << "\n";
  }
  return 1;
}
