#include "milter/client/session.h"

#include <utility>

#include "asio/buffer.hpp"
#include "asio/post.hpp"
#include "asio/redirect_error.hpp"
#include "asio/this_coro.hpp"
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
      timer_(socket_.get_executor()),
      config_(config),
      engine_(config->factory, config->pool) {}

Session::~Session() = default;

void Session::Stop() {
  stopped_ = true;
  std::error_code ec;
  socket_.cancel(ec);
  socket_.shutdown(Socket::shutdown_both, ec);
}

void Session::ArmTimer() {
  deadline_ = std::chrono::steady_clock::now() + config_->timeout;
  waiting_ = true;
  if (timer_armed_) return;
  timer_armed_ = true;
  timer_.expires_at(deadline_);
  timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
    self->OnTimer(ec);
  });
}

void Session::OnTimer(const std::error_code& ec) {
  timer_armed_ = false;
  if (ec || stopped_) return;
  if (!waiting_) return;  // re-armed by the next wait
  if (std::chrono::steady_clock::now() < deadline_) {
    timer_armed_ = true;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
      self->OnTimer(ec);
    });
    return;
  }
  Stop();  // the MTA was silent (or did not read) for too long
}

void Session::SendProgress() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    std::error_code ec;
    asio::write(self->socket_, asio::buffer(kProgressPacket), ec);
  });
}

asio::awaitable<void> Session::Run() {
  engine_.SetProgressSink([this] { SendProgress(); });
  std::error_code ec;
  socket_.non_blocking(true, ec);
  while (!stopped_) {
    ArmTimer();
    co_await socket_.async_wait(Socket::wait_read,
                                asio::redirect_error(asio::use_awaitable, ec));
    waiting_ = false;
    if (ec || stopped_) break;
    char* scratch = Scratch();
    size_t n = socket_.read_some(asio::buffer(scratch, kScratchSize), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      continue;
    }
    if (ec || n == 0) break;  // EOF, reset
    in_.assign(scratch, n);
    decoder_.Feed(in_);
    bool close = false;
    while (!close) {
      absl::StatusOr<std::optional<codec::Command>> next = decoder_.Next();
      if (!next.ok()) {
        close = true;  // garbage, oversize length: drop the MTA
        break;
      }
      if (!next->has_value()) break;
      absl::StatusOr<Engine::After> after =
          co_await engine_.Handle(**next, &out_);
      if (!after.ok() || *after == Engine::After::kClose) {
        close = true;
      } else if (*after == Engine::After::kNewSession) {
        engine_.SetProgressSink([this] { SendProgress(); });
        decoder_.set_max_payload(codec::kDefaultMaxPayload);
      } else {
        decoder_.set_max_payload(engine_.max_payload());
      }
    }
    if (!out_.empty() && !stopped_) {
      ArmTimer();
      co_await asio::async_write(socket_, asio::buffer(out_),
                                 asio::redirect_error(asio::use_awaitable, ec));
      waiting_ = false;
      if (ec) close = true;
    }
    std::string().swap(in_);
    std::string().swap(out_);
    decoder_.ReleaseMemoryIfIdle();
    if (close) break;
  }
  waiting_ = false;
  timer_.cancel();
  co_await engine_.Finish();
  socket_.close(ec);
}

}  // namespace milter::client
