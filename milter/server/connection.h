// The byte stream of an MTA-side (server) session: a non-blocking stream
// socket to a filter (Unix or TCP) with a timeout on every wait, for C++20
// coroutines on one asio executor. Errors are absl::Status values:
// DEADLINE_EXCEEDED for a timeout, UNAVAILABLE for a refused, reset or closed
// connection. No thread per connection and only a small read buffer per
// connection: callers receive the first bytes of an answer there and read
// any rest into their own (typically per-thread) buffer.
//
// Not thread-safe: use one Connection from one executor (strand) at a time.

#ifndef MILTER_SERVER_CONNECTION_H_
#define MILTER_SERVER_CONNECTION_H_

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/generic/stream_protocol.hpp"
#include "milter/net/socket_spec.h"

namespace milter::server {

// A socket spec with its addresses looked up once, for connecting many times
// (a load generator) without a lookup per connection.
struct ResolvedSpec {
  net::SocketSpec spec;
  std::vector<asio::generic::stream_protocol::endpoint> endpoints;
};

// The spec's path, or its host's addresses (a blocking DNS lookup if the host
// is a name).
absl::StatusOr<ResolvedSpec> Resolve(const net::SocketSpec& spec);

class Connection {
 public:
  explicit Connection(asio::any_io_executor executor);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to `spec` (each resolved address in turn for TCP).
  asio::awaitable<absl::Status> Connect(const net::SocketSpec& spec,
                                        absl::Duration timeout);
  // The same with the addresses looked up beforehand.
  asio::awaitable<absl::Status> Connect(const ResolvedSpec& resolved,
                                        absl::Duration timeout);

  // Writes all of `bytes`.
  asio::awaitable<absl::Status> Write(std::string_view bytes,
                                      absl::Duration timeout);
  // Writes what the socket takes now, without waiting, and removes it from
  // `bytes`. Errors only for a failed write, not for a full socket buffer.
  absl::Status WriteNow(std::string_view* bytes);

  // Waits for data and receives the first of it (at most a small
  // per-connection buffer's worth; read the rest with ReadNow()). The view
  // is valid until the next call. DEADLINE_EXCEEDED after `timeout` (at once
  // if it is not positive), UNAVAILABLE at end of stream or on an error.
  // Costs no system call to wait beyond the event loop's own: no readiness
  // re-arming per wait and no timer set per wait (one timer per connection
  // follows the latest deadline).
  asio::awaitable<absl::StatusOr<std::string_view>> Receive(
      absl::Duration timeout);
  static constexpr size_t kInboxSize = 64;  // at most this much per Receive

  // Reads what is readable now, without waiting: the byte count, 0 if
  // nothing is there yet, UNAVAILABLE at end of stream or on an error.
  absl::StatusOr<size_t> ReadNow(char* buffer, size_t size);

  // TCP: acknowledges what was read at once instead of with this side's
  // next packet (TCP_QUICKACK; the kernel clears it again). Needed before
  // waiting for the rest of an answer: a filter with Nagle's algorithm on
  // (libmilter) holds its next packet until the last one is acknowledged.
  // No-op on unix sockets.
  void AcknowledgeNow();

  // Bytes readable right now without waiting.
  size_t Available();

  // Releases the timer a wait leaves set (its pending wait holds memory)
  // when no wait is expected soon: after negotiation, a connection may stay
  // idle for long.
  void ReleaseTimer();

  bool is_open() const;
  asio::any_io_executor executor() const;
  void Close();

  struct State;  // socket and timer; shared with pending timeout handlers

 private:
  // Registers the socket with the event loop (before the first wait).
  asio::error_code Register();
  asio::error_code StartConnect(
      const asio::generic::stream_protocol::endpoint& endpoint);

  std::shared_ptr<State> state_;
};

}  // namespace milter::server

#endif  // MILTER_SERVER_CONNECTION_H_
