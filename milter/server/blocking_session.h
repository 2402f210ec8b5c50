// A blocking facade over the coroutine Session, for tests and simple tools:
// each call runs a private io_context until the stage completes. One thread
// per BlockingSession while a call runs; use Session for concurrency.

#ifndef MILTER_SERVER_BLOCKING_SESSION_H_
#define MILTER_SERVER_BLOCKING_SESSION_H_

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asio/awaitable.hpp"
#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "milter/net/socket_spec.h"
#include "milter/server/session.h"

namespace milter::server {

class BlockingSession {
 public:
  explicit BlockingSession(SessionOptions options = {})
      : session_(io_.get_executor(), options) {}

  // Parses `spec` ("unix:/p", "inet:10025@127.0.0.1"), connects, negotiates.
  absl::Status Open(std::string_view spec) {
    absl::StatusOr<net::SocketSpec> parsed = net::ParseSocketSpec(spec);
    if (!parsed.ok()) return parsed.status();
    return Run(session_.Open(*parsed));
  }
  absl::Status Open(const ResolvedSpec& resolved) {
    return Run(session_.Open(resolved));
  }
  // Connects without negotiating: Negotiate() next.
  absl::Status Dial(std::string_view spec) {
    absl::StatusOr<net::SocketSpec> parsed = net::ParseSocketSpec(spec);
    if (!parsed.ok()) return parsed.status();
    return Run(session_.Connect(*parsed));
  }
  absl::Status Negotiate() { return Run(session_.Negotiate()); }

  absl::StatusOr<Verdict> Connect(const ConnectionInfo& info,
                                  const Macros& macros = {}) {
    return Run(session_.ConnectStage(info, macros));
  }
  absl::StatusOr<Verdict> Helo(std::string_view name,
                               const Macros& macros = {}) {
    return Run(session_.Helo(name, macros));
  }
  absl::StatusOr<Verdict> Mail(std::string_view address,
                               codec::EsmtpArgs args = {},
                               const Macros& macros = {}) {
    return Run(session_.Mail(address, args, macros));
  }
  absl::StatusOr<Verdict> Rcpt(std::string_view address,
                               codec::EsmtpArgs args = {},
                               const Macros& macros = {}) {
    return Run(session_.Rcpt(address, args, macros));
  }
  absl::StatusOr<Verdict> Data(const Macros& macros = {}) {
    return Run(session_.Data(macros));
  }
  absl::StatusOr<Verdict> Unknown(std::string_view command) {
    return Run(session_.Unknown(command));
  }
  absl::StatusOr<Verdict> Header(std::string_view name,
                                 std::string_view value) {
    return Run(session_.Header(name, value));
  }
  absl::StatusOr<Verdict> EndOfHeaders(const Macros& macros = {}) {
    return Run(session_.EndOfHeaders(macros));
  }
  absl::StatusOr<Verdict> Body(std::string_view body) {
    return Run(session_.Body(body));
  }
  absl::StatusOr<EndOfMessageResult> EndOfMessage(const Macros& macros = {}) {
    return Run(session_.EndOfMessage(macros));
  }
  absl::Status Abort() { return Run(session_.Abort()); }
  absl::Status Quit() { return Run(session_.Quit()); }
  absl::Status QuitNewConnection() { return Run(session_.QuitNewConnection()); }

  Session& session() { return session_; }

 private:
  template <typename T>
  T Run(asio::awaitable<T> awaitable) {
    std::optional<T> result;
    std::exception_ptr failure;
    bool done = false;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          result.emplace(co_await std::move(awaitable));
        },
        [&](std::exception_ptr e) {
          failure = e;
          done = true;
        });
    // Until this call's result, not until the loop runs out of work.
    io_.restart();
    while (!done) io_.run_one();
    if (failure) std::rethrow_exception(failure);  // e.g. std::bad_alloc
    return *std::move(result);
  }

  asio::io_context io_;
  Session session_;
};

}  // namespace milter::server

#endif  // MILTER_SERVER_BLOCKING_SESSION_H_
