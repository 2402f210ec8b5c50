// The filter interface: one virtual callback per milter stage, in two
// flavours. `Filter` callbacks are plain functions run on the runner's bounded
// worker pool (they may block on DNS or a database); `CoroutineFilter`
// callbacks are asio coroutines that stay on the event loop (they may await
// other asynchronous work, e.g. MTA-side sessions to other milters).
//
// One filter object serves one MTA connection (made by a FilterFactory), so
// per-session state is plain members. Callbacks a class does not override are
// negotiated away ("don't send" flags) by MakeFilterFactory.
//
// Here "client" is the filter side of the protocol (libmilter's role); the MTA
// is the server.

#ifndef MILTER_CLIENT_FILTER_H_
#define MILTER_CLIENT_FILTER_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/types/span.h"
#include "asio/awaitable.hpp"
#include "milter/client/context.h"
#include "milter/client/status.h"
#include "milter/codec/connection_info.h"
#include "milter/codec/message.h"
#include "milter/codec/negotiation.h"

namespace milter::client {

// What option negotiation settles, as the filter may adjust it in
// OnNegotiate: `offer` is the MTA's, `request` starts as the factory's
// default (derived from the overridden callbacks and FilterOptions).
struct Negotiation {
  codec::OptionNegotiation offer;
  codec::FilterRequest request;
  // Macro names per stage (index: codec::MacroStage), space-separated, e.g.
  // "{auth_authen} i". Sent only if the MTA offers setsymlist.
  std::array<std::optional<std::string>, codec::kNumMacroStages> symbol_lists;
};

// Arguments after the address of MAIL FROM / RCPT TO ("SIZE=100").
using codec::EsmtpArgs;

class Filter {
 public:
  virtual ~Filter() = default;

  // Return kReject to refuse the MTA (the connection is closed).
  virtual Status OnNegotiate(Context&, Negotiation&) {
    return Status::kContinue;
  }
  virtual Status OnConnect(Context&, const ConnectionInfo&) {
    return Status::kContinue;
  }
  virtual Status OnHelo(Context&, std::string_view /*name*/) {
    return Status::kContinue;
  }
  virtual Status OnMailFrom(Context&, std::string_view /*address*/, EsmtpArgs) {
    return Status::kContinue;
  }
  virtual Status OnRcptTo(Context&, std::string_view /*address*/, EsmtpArgs) {
    return Status::kContinue;
  }
  virtual Status OnData(Context&) { return Status::kContinue; }
  virtual Status OnUnknown(Context&, std::string_view /*command*/) {
    return Status::kContinue;
  }
  virtual Status OnHeader(Context&, std::string_view /*name*/,
                          std::string_view /*value*/) {
    return Status::kContinue;
  }
  virtual Status OnEndOfHeaders(Context&) { return Status::kContinue; }
  virtual Status OnBody(Context&, std::string_view /*chunk*/) {
    return Status::kContinue;
  }
  virtual Status OnEndOfMessage(Context&) { return Status::kContinue; }
  // The current message ended early (RSET, a reject elsewhere, Postfix's
  // abort after end of message); the session goes on.
  virtual void OnAbort(Context&) {}
  // The session ends (quit, connection lost); called once.
  virtual void OnClose(Context&) {}
};

class CoroutineFilter {
 public:
  virtual ~CoroutineFilter() = default;

  virtual asio::awaitable<Status> OnNegotiate(Context&, Negotiation&) {
    co_return Status::kContinue;
  }
  virtual asio::awaitable<Status> OnConnect(Context&, const ConnectionInfo&) {
    co_return Status::kContinue;
  }
  virtual asio::awaitable<Status> OnHelo(Context&, std::string_view) {
    co_return Status::kContinue;
  }
  virtual asio::awaitable<Status> OnMailFrom(Context&, std::string_view,
                                             EsmtpArgs) {
    co_return Status::kContinue;
  }
  virtual asio::awaitable<Status> OnRcptTo(Context&, std::string_view,
                                           EsmtpArgs) {
    co_return Status::kContinue;
  }
  virtual asio::awaitable<Status> OnData(Context&) {
    co_return Status::kContinue;
  }
  virtual asio::awaitable<Status> OnUnknown(Context&, std::string_view) {
    co_return Status::kContinue;
  }
  virtual asio::awaitable<Status> OnHeader(Context&, std::string_view,
                                           std::string_view) {
    co_return Status::kContinue;
  }
  virtual asio::awaitable<Status> OnEndOfHeaders(Context&) {
    co_return Status::kContinue;
  }
  virtual asio::awaitable<Status> OnBody(Context&, std::string_view) {
    co_return Status::kContinue;
  }
  virtual asio::awaitable<Status> OnEndOfMessage(Context&) {
    co_return Status::kContinue;
  }
  virtual asio::awaitable<void> OnAbort(Context&) { co_return; }
  virtual asio::awaitable<void> OnClose(Context&) { co_return; }
};

}  // namespace milter::client

#endif  // MILTER_CLIENT_FILTER_H_
