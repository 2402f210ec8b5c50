// server_usage_blocking: the blocking facade of milter/server (each call runs
// a private event loop until the stage completes). Good for tests and simple
// tools; use Session for many sessions at once. See docs/server.md.
//
//   server_usage_blocking SOCKET_SPEC
//
// Sends connect, HELO and MAIL FROM <reject@example.com>, prints the verdict
// of the first stage that ends the session (or of MAIL FROM) and quits.
// Exit status: 0 if the filter let the sender through (or --help), 1 on an
// error, 2 on a usage error, 3 if it refused; the reason for a failure on
// standard error, one line.

#include <exception>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "milter/net/socket_spec.h"
#include "milter/server/blocking_session.h"

namespace server = milter::server;

namespace {

// The one line on standard error that says why the session failed.
void Complain(const std::string& what, const absl::Status& status) {
  std::cerr << "server_usage_blocking: " << what << ": " << status << "\n";
}

int Main(int argc, char** argv) {
  if (argc == 2 &&
      (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << "usage: server_usage_blocking SOCKET_SPEC\n";
    return 0;
  }
  if (argc != 2) {
    std::cerr << "server_usage_blocking: want one SOCKET_SPEC (see --help)\n";
    return 2;
  }
  if (absl::StatusOr<milter::net::SocketSpec> spec =
          milter::net::ParseSocketSpec(argv[1]);
      !spec.ok()) {
    std::cerr << "server_usage_blocking: " << spec.status().message() << "\n";
    return 2;
  }
  server::BlockingSession session;  // default SessionOptions
  if (absl::Status s = session.Open(argv[1]); !s.ok()) {
    Complain("open", s);
    return 1;
  }
  server::ConnectionInfo client;
  client.hostname = "localhost";
  client.family = milter::codec::Family::kInet;
  client.address = "192.0.2.25";
  client.port = 50443;

  // Each call returns the filter's verdict, or the error that ended the
  // session (every later call would return the same error).
  absl::StatusOr<server::Verdict> v = session.Connect(client);  // the stage
  const char* stage = "connect";
  if (v.ok() && !v->Final()) {
    v = session.Helo("mx.example.net");
    stage = "helo";
  }
  if (v.ok() && !v->Final()) {
    v = session.Mail("<reject@example.com>");
    stage = "mail";
  }
  if (!v.ok()) {
    Complain(stage, v.status());
    return 1;
  }
  std::cout << stage << ": " << server::StatusName(v->decision)
            << (v->reply.empty() ? "" : " ") << v->reply << "\n";
  if (absl::Status s = session.Quit(); !s.ok()) {
    Complain("quit", s);
    return 1;
  }
  return v->Final() ? 3 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "server_usage_blocking: " << e.what() << "\n";
  }
  return 1;
}
