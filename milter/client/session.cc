#include "milter/client/session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/buffer.hpp"
#include "asio/co_spawn.hpp"
#include "asio/post.hpp"
#include "asio/redirect_error.hpp"
#include "asio/use_awaitable.hpp"
#include "asio/write.hpp"
#include "milter/codec/protocol.h"

namespace milter::client {
namespace {

// Big enough for a whole maximal packet in one read.
constexpr size_t kScratchSize = codec::kMaxPayload1M + 5;

char* Scratch() {
  thread_local std::unique_ptr<char[]> scratch(new char[kScratchSize]);
  return scratch.get();
}

constexpr char kProgressPacket[] = {0, 0, 0, 1, 'p'};

}  // namespace

Session::Session(Socket socket, const SessionConfig* config)
    : socket_(std::move(socket)),
      config_(config),
      engine_(config->factory, config->pool, config->diagnostics) {}

void Session::Report(std::string_view what) {
  if (config_->diagnostics != nullptr && *config_->diagnostics) {
    (*config_->diagnostics)(what);
  }
}

Session::~Session() {
  if (config_->on_end) config_->on_end(this);
}

bool Session::Expired(std::chrono::steady_clock::time_point now) const {
  int64_t d = deadline_.load(std::memory_order_relaxed);
  return d != 0 && now.time_since_epoch().count() > d;
}

void Session::SetDeadline() {
  deadline_.store((std::chrono::steady_clock::now() + config_->timeout)
                      .time_since_epoch()
                      .count(),
                  std::memory_order_relaxed);
}

void Session::Stop() {
  stopped_ = true;
  std::error_code ec;
  socket_.cancel(ec);
  socket_.shutdown(Socket::shutdown_both, ec);
}

void Session::Start() {
  engine_.SetProgressSink([this] { SendProgress(); });
  std::error_code ec;
  socket_.non_blocking(true, ec);
  // Succeeds on TCP sockets only: tells them apart at no extra cost.
  tcp_ = AcknowledgeNow();
  WaitForData();
}

// Linux delays the ACK of received data up to 40 ms, hoping to send it with
// an answer. After a packet the filter does not answer (a no-reply stage)
// there is none, and an MTA that writes its next small packets without
// waiting (Postfix: headers, body, end of message) holds them back (Nagle's
// algorithm) until that ACK comes. TCP_QUICKACK sends the pending ACK now;
// the kernel clears it again, so it is set after every such read.
bool Session::AcknowledgeNow() {
  int one = 1;
  return ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one,
                      sizeof one) == 0;
}

void Session::SendProgress() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    std::error_code ec;
    asio::write(self->socket_, asio::buffer(kProgressPacket), ec);
  });
}

void Session::WaitForData() {
  if (stopped_) return End();
  SetDeadline();
  socket_.async_wait(Socket::wait_read,
                     [self = shared_from_this()](const std::error_code& ec) {
                       self->OnReadable(ec);
                     });
}

void Session::OnReadable(const std::error_code& wait_error) {
  deadline_.store(0, std::memory_order_relaxed);
  if (wait_error || stopped_) return End();
  std::error_code ec;
  char* scratch = Scratch();
  size_t n = socket_.read_some(asio::buffer(scratch, kScratchSize), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    return WaitForData();
  }
  if (ec || n == 0) return End();  // EOF, reset
  asio::co_spawn(socket_.get_executor(), Process(std::string(scratch, n)),
                 [self = shared_from_this()](std::exception_ptr e, bool more) {
                   if (e || !more) {
                     self->End();
                   } else {
                     self->WaitForData();
                   }
                 });
}

// `in` and `out` live in this coroutine's frame: nothing stays allocated
// between reads.
asio::awaitable<bool> Session::Process(std::string in) {
  std::string out;
  decoder_.Feed(in);
  bool close = false;
  while (!close) {
    absl::StatusOr<std::optional<codec::Command>> next = decoder_.Next();
    if (!next.ok()) {
      // Garbage, oversize length: drop the MTA.
      Report(absl::StrCat("closing the MTA connection: ",
                          next.status().message()));
      close = true;
      break;
    }
    if (!next->has_value()) break;
    absl::StatusOr<Engine::After> after = co_await engine_.Handle(**next, &out);
    if (!after.ok()) {
      Report(absl::StrCat("closing the MTA connection: ",
                          after.status().message()));
      close = true;
    } else if (*after == Engine::After::kClose) {
      close = true;
    } else if (*after == Engine::After::kNewSession) {
      engine_.SetProgressSink([this] { SendProgress(); });
      decoder_.set_max_payload(codec::kDefaultMaxPayload);
    } else {
      decoder_.set_max_payload(engine_.max_payload());
    }
  }
  if (!out.empty() && !stopped_) {
    SetDeadline();
    std::error_code ec;
    co_await asio::async_write(socket_, asio::buffer(out),
                               asio::redirect_error(asio::use_awaitable, ec));
    deadline_.store(0, std::memory_order_relaxed);
    if (ec) close = true;
  } else if (tcp_ && !close) {
    AcknowledgeNow();  // nothing to send the ACK with
  }
  decoder_.ReleaseMemoryIfIdle();
  co_return !close && !stopped_;
}

void Session::End() {
  if (ended_) return;
  ended_ = true;
  deadline_.store(0, std::memory_order_relaxed);
  asio::co_spawn(socket_.get_executor(), engine_.Finish(),
                 [self = shared_from_this()](std::exception_ptr) {
                   std::error_code ec;
                   self->socket_.close(ec);
                 });
}

}  // namespace milter::client
