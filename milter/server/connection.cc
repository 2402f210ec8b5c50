// Connection: the non-blocking socket to a filter, with a timeout on every
// wait and TCP settings that keep unanswered packets from stalling.

#include "milter/server/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/basic_stream_socket.hpp"
#include "asio/generic/basic_endpoint.hpp"
#include "asio/generic/stream_protocol.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/local/stream_protocol.hpp"
#include "asio/post.hpp"
#include "asio/redirect_error.hpp"
#include "asio/steady_timer.hpp"
#include "asio/use_awaitable.hpp"

namespace milter::server {

namespace {

// asio's generic stream protocol for sockets this file creates itself,
// non-blocking from the start (SOCK_NONBLOCK: no FIONBIO system call before
// the first write), and hands to asio only once an operation has to wait.
// type() is plain SOCK_STREAM: asio reads it on assign() to treat the socket
// as a stream (a zero-byte receive is the end of the stream).
class NonBlockingStream {
 public:
  using endpoint = asio::generic::basic_endpoint<NonBlockingStream>;
  using socket = asio::basic_stream_socket<NonBlockingStream>;

  NonBlockingStream(int family, int protocol)
      : family_(family), protocol_(protocol) {}
  int type() const { return SOCK_STREAM; }
  int protocol() const { return protocol_; }
  int family() const { return family_; }

 private:
  int family_;
  int protocol_;
};

}  // namespace

struct Connection::State {
  explicit State(asio::any_io_executor executor)
      : socket(executor), timer(executor) {}
  ~State() {
    if (!socket.is_open() && fd >= 0) ::close(fd);
  }
  // The connection's socket, or -1. Registered with the event loop (assigned
  // to `socket`) only once an operation has to wait: under load most
  // sessions never wait, and registering costs an epoll_ctl.
  int fd = -1;
  int family = 0, protocol = 0;
  NonBlockingStream::socket socket;
  // One timer per connection follows the deadline of the current wait
  // (`waiting`). A wait only moves `deadline`; the timer is set again only
  // when it is not armed or armed for later, and when it fires before the
  // deadline. Setting and cancelling a timer per wait would cost a pass
  // through the event loop each (the cancelled handler is posted).
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::steady_clock::time_point timer_expiry;
  uint64_t arming = 0;  // identifies the timer's current wait
  bool timer_armed = false;
  bool waiting = false;
  bool timed_out = false;
  // The first bytes of an answer (most answers fit: "continue" is 5 bytes).
  char inbox[Connection::kInboxSize];
};

namespace {

absl::Status FromError(const asio::error_code& ec, std::string_view what) {
  std::string message = absl::StrCat(
      absl::string_view(what.data(), what.size()), ": ", ec.message());
  if (ec == asio::error::eof) {
    return absl::UnavailableError(
        absl::StrCat(absl::string_view(what.data(), what.size()),
                     ": the filter closed the connection"));
  }
  return absl::UnavailableError(message);
}

bool IsTransient(const asio::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again ||
         ec == asio::error::no_buffer_space;
}

}  // namespace

namespace {

// Sets the connection's timer for its current deadline. On expiry: if a wait
// is still on and its deadline has come, the socket's pending operations are
// cancelled; if the deadline moved on, the timer is set for it.
void ArmTimer(const std::shared_ptr<Connection::State>& state) {
  uint64_t arming = ++state->arming;
  state->timer_armed = true;
  state->timer_expiry = state->deadline;
  state->timer.expires_at(state->deadline);
  state->timer.async_wait([weak = std::weak_ptr<Connection::State>(state),
                           arming](const asio::error_code& ec) {
    if (ec) return;  // set again or cancelled
    std::shared_ptr<Connection::State> s = weak.lock();
    if (!s || s->arming != arming) return;
    s->timer_armed = false;
    if (!s->waiting) return;
    if (std::chrono::steady_clock::now() < s->deadline) {
      ArmTimer(s);
      return;
    }
    s->timed_out = true;
    asio::error_code ignored;
    s->socket.cancel(ignored);
  });
}

}  // namespace

// One operation's timeout: sets the connection's deadline (see State).
class TimeoutGuard {
 public:
  TimeoutGuard(const std::shared_ptr<Connection::State>& state,
               absl::Duration timeout)
      : state_(state.get()) {
    state_->timed_out = false;
    state_->waiting = true;
    state_->deadline =
        std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
    if (!state_->timer_armed || state_->timer_expiry > state_->deadline) {
      ArmTimer(state);
    }
  }
  ~TimeoutGuard() { state_->waiting = false; }
  bool timed_out() const { return state_->timed_out; }

 private:
  Connection::State* state_;
};

Connection::Connection(asio::any_io_executor executor)
    : state_(std::make_shared<State>(std::move(executor))) {}

Connection::~Connection() { Close(); }

bool Connection::is_open() const { return state_->fd >= 0; }

asio::error_code Connection::Register() {
  asio::error_code ec;
  if (!state_->socket.is_open()) {
    state_->socket.assign(NonBlockingStream(state_->family, state_->protocol),
                          state_->fd, ec);
  }
  return ec;
}

asio::any_io_executor Connection::executor() const {
  return state_->socket.get_executor();
}

void Connection::ReleaseTimer() {
  if (!state_->timer_armed) return;
  state_->timer_armed = false;
  ++state_->arming;
  state_->timer.cancel();
}

void Connection::Close() {
  asio::error_code ignored;
  ReleaseTimer();  // a pending wait would keep the event loop running
  if (state_->socket.is_open()) {
    state_->socket.close(ignored);  // closes fd
  } else if (state_->fd >= 0) {
    ::close(state_->fd);
  }
  state_->fd = -1;
}

size_t Connection::Available() {
  int n = 0;
  if (state_->fd < 0 || ::ioctl(state_->fd, FIONREAD, &n) != 0) return 0;
  return static_cast<size_t>(n);
}

absl::StatusOr<ResolvedSpec> Resolve(const net::SocketSpec& spec) {
  ResolvedSpec resolved{spec, {}};
  if (spec.kind == net::SocketSpec::Kind::kUnix) {
    resolved.endpoints.emplace_back(
        asio::local::stream_protocol::endpoint(spec.path));
  } else {
    absl::StatusOr<std::vector<asio::ip::tcp::endpoint>> addresses =
        net::ResolveTcp(spec, /*for_listening=*/false);
    if (!addresses.ok()) return addresses.status();
    for (const auto& e : *addresses) resolved.endpoints.emplace_back(e);
  }
  return resolved;
}

asio::awaitable<absl::Status> Connection::Connect(const net::SocketSpec& spec,
                                                  absl::Duration timeout) {
  absl::StatusOr<ResolvedSpec> resolved = Resolve(spec);
  if (!resolved.ok()) co_return resolved.status();
  co_return co_await Connect(*resolved, timeout);
}

// Opens a non-blocking socket for `endpoint` and starts connecting: OK when
// connected (a Unix socket, at once), in_progress (TCP) or an error.
asio::error_code Connection::StartConnect(
    const asio::generic::stream_protocol::endpoint& endpoint) {
  state_->family = endpoint.protocol().family();
  state_->protocol = endpoint.protocol().protocol();
  state_->fd =
      ::socket(state_->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
               state_->protocol);
  if (state_->fd < 0) {
    return asio::error_code(errno, asio::error::get_system_category());
  }
  if (::connect(state_->fd, endpoint.data(),
                static_cast<socklen_t>(endpoint.size())) == 0) {
    return asio::error_code();
  }
  int error = errno;
  // Linux: a Unix listener's full queue (asio maps it likewise).
  if (error == EAGAIN) return asio::error::no_buffer_space;
  return asio::error_code(error, asio::error::get_system_category());
}

asio::awaitable<absl::Status> Connection::Connect(const ResolvedSpec& resolved,
                                                  absl::Duration timeout) {
  const net::SocketSpec& spec = resolved.spec;
  absl::Status last = absl::UnavailableError("no address to connect to");
  auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  for (const auto& endpoint : resolved.endpoints) {
    asio::error_code ec;
    bool timed_out = false;
    // A full listen queue (EAGAIN on Unix sockets) or a momentary lack of
    // kernel buffers is retried with backoff until the timeout.
    for (auto backoff = std::chrono::milliseconds(1);;
         backoff = std::min(backoff * 2, std::chrono::milliseconds(100))) {
      Close();
      ec.clear();
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        timed_out = true;
        break;
      }
      ec = StartConnect(endpoint);
      if (ec == asio::error::in_progress || ec == asio::error::would_block) {
        ec = Register();
        if (!ec) {
          TimeoutGuard guard(state_, absl::FromChrono(left));
          co_await state_->socket.async_wait(
              asio::socket_base::wait_write,
              asio::redirect_error(asio::use_awaitable, ec));
          timed_out = guard.timed_out();
        }
        if (!ec && !timed_out) {
          int error = 0;
          socklen_t length = sizeof(error);
          if (::getsockopt(state_->fd, SOL_SOCKET, SO_ERROR, &error, &length) !=
              0) {
            error = errno;
          }
          ec = asio::error_code(error, asio::error::get_system_category());
        }
      }
      if (timed_out || !IsTransient(ec)) break;
      asio::steady_timer pause(state_->socket.get_executor());
      pause.expires_after(std::min<std::chrono::steady_clock::duration>(
          backoff, deadline - std::chrono::steady_clock::now()));
      asio::error_code ignored;
      co_await pause.async_wait(
          asio::redirect_error(asio::use_awaitable, ignored));
    }
    if (!ec && !timed_out) {
      if (spec.kind != net::SocketSpec::Kind::kUnix) {
        // Our packets that get no answer (macros, no-reply stages) go out at
        // once, not after the filter's delayed ACK of the previous one.
        int one = 1;
        ::setsockopt(state_->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      }
      co_return absl::OkStatus();
    }
    if (timed_out) {
      last = absl::DeadlineExceededError(
          absl::StrCat("connecting to ", spec.ToString(), ": timed out after ",
                       absl::FormatDuration(timeout)));
    } else {
      last = FromError(ec, absl::StrCat("connecting to ", spec.ToString()));
    }
  }
  Close();
  co_return last;
}

absl::Status Connection::WriteNow(std::string_view* bytes) {
  while (!bytes->empty()) {
    // The socket is non-blocking: this never waits.
    ssize_t n = ::send(state_->fd, bytes->data(), bytes->size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return FromError(
          asio::error_code(errno, asio::error::get_system_category()),
          "writing to the filter");
    }
    bytes->remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

asio::awaitable<absl::Status> Connection::Write(std::string_view bytes,
                                                absl::Duration timeout) {
  auto& socket = state_->socket;
  while (true) {
    if (absl::Status s = WriteNow(&bytes); !s.ok()) co_return s;
    if (bytes.empty()) break;
    asio::error_code ec = Register();
    if (ec) co_return FromError(ec, "writing to the filter");
    TimeoutGuard guard(state_, timeout);
    co_await socket.async_wait(asio::socket_base::wait_write,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (guard.timed_out()) {
      co_return absl::DeadlineExceededError(
          absl::StrCat("writing to the filter: timed out after ",
                       absl::FormatDuration(timeout)));
    }
    if (ec) co_return FromError(ec, "writing to the filter");
  }
  co_return absl::OkStatus();
}

// Linux delays the ACK of received data up to 40 ms, hoping to send it with
// this side's next packet. A filter that writes several packets in a row
// (end-of-message modifications, then the verdict) with Nagle's algorithm on,
// as libmilter does, holds the rest back until the first is acknowledged:
// 40 ms per message unless the waiting side acknowledges at once.
void Connection::AcknowledgeNow() {
  if (state_->family == AF_UNIX || state_->fd < 0) return;
  int one = 1;
  ::setsockopt(state_->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

absl::StatusOr<size_t> Connection::ReadNow(char* buffer, size_t size) {
  while (true) {
    ssize_t n = ::recv(state_->fd, buffer, size, 0);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) return FromError(asio::error::eof, "reading from the filter");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return FromError(
        asio::error_code(errno, asio::error::get_system_category()),
        "reading from the filter");
  }
}

asio::awaitable<absl::StatusOr<std::string_view>> Connection::Receive(
    absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) {
    co_return absl::DeadlineExceededError(
        "waiting for the filter: no answer in time");
  }
  if (asio::error_code ec = Register()) {
    co_return FromError(ec, "reading from the filter");
  }
  // asio tries the receive at once only if the socket has signalled data
  // since its last empty read; otherwise it waits for the event loop's
  // report without a system call.
  TimeoutGuard guard(state_, timeout);
  asio::error_code ec;
  size_t n = co_await state_->socket.async_receive(
      asio::buffer(state_->inbox),
      asio::redirect_error(asio::use_awaitable, ec));
  if (guard.timed_out()) {
    co_return absl::DeadlineExceededError(
        "waiting for the filter: no answer in time");
  }
  if (ec) co_return FromError(ec, "reading from the filter");
  co_return std::string_view(state_->inbox, n);
}

}  // namespace milter::server
