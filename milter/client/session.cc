// One MTA connection: readiness-driven reads, the command loop with
// backpressure, the answer writer, and the end of the session.

#include "milter/client/session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <exception>
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

// One read's worth; larger packets are assembled by the decoder (which
// holds at most one packet), so what a read copies stays small.
constexpr size_t kScratchSize = Session::kReadSize;

char* Scratch() {
  thread_local std::unique_ptr<char[]> scratch(new char[kScratchSize]);
  return scratch.get();
}

std::string ExceptionText(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

Session::Session(Socket socket, const SessionConfig* config, bool tcp)
    : socket_(std::move(socket)),
      config_(config),
      engine_(config->factory, config->pool, config->diagnostics),
      tcp_(tcp) {}

void Session::Report(std::string_view what) {
  if (config_->diagnostics != nullptr && *config_->diagnostics) {
    (*config_->diagnostics)(what);
  }
}

void Session::Event(std::string_view name) {
  if (config_->test_events != nullptr && *config_->test_events) {
    (*config_->test_events)(name);
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

bool Session::StuckInCallback() const {
  return final_stop_seen_.load(std::memory_order_acquire) &&
         in_callback_.load(std::memory_order_acquire) != 0;
}

const char* Session::CallbackName() const {
  char code = in_callback_.load(std::memory_order_acquire);
  if (code == 0) return "none";
  if (code == 'Q') return "close";
  return codec::CommandName(static_cast<codec::CommandCode>(code));
}

void Session::Stop(bool final) {
  stopped_ = true;
  std::error_code ec;
  socket_.cancel(ec);
  socket_.shutdown(Socket::shutdown_both, ec);
  if (final && !final_stop_) {
    final_stop_ = true;
    final_stop_seen_.store(true, std::memory_order_release);
    if (config_->on_final_stop) config_->on_final_stop();
  }
}

void Session::Start() {
  engine_.SetProgressSink([this] { SendProgress(); });
  std::error_code ec;
  socket_.non_blocking(true, ec);
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

// The engine's progress notification, on the filter's thread: the packets
// go out now, behind the answers already queued (and the engine puts any
// not yet taken ahead of the stage's answer).
void Session::SendProgress() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->engine_.TakeProgress(&self->out_);
    self->NoteQueued();
    self->KickWriter();
  });
}

void Session::NoteQueued() {
  if (config_->queued_high_water == nullptr) return;
  size_t queued = Queued();
  size_t seen = config_->queued_high_water->load(std::memory_order_relaxed);
  while (queued > seen && !config_->queued_high_water->compare_exchange_weak(
                              seen, queued, std::memory_order_relaxed)) {
  }
}

void Session::KickWriter() {
  if (writing_ || out_.empty() || write_failed_ || stopped_) return;
  writing_ = true;
  sending_.swap(out_);
  SetDeadline();
  asio::async_write(
      socket_, asio::buffer(sending_),
      [self = shared_from_this()](const std::error_code& ec, size_t) {
        self->WriteDone(ec);
        self->KickWriter();
        if (!self->writing_ && self->writer_waiter_) {
          self->writer_waiter_->cancel();
        }
      });
}

void Session::WriteDone(const std::error_code& ec) {
  writing_ = false;
  deadline_.store(0, std::memory_order_relaxed);
  std::string().swap(sending_);
  if (ec) {
    write_failed_ = true;
    out_.clear();
  }
}

size_t Session::SendNow(std::string_view bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(socket_.native_handle(), bytes.data() + sent,
                       bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        write_failed_ = true;
      }
      break;
    }
  }
  return sent;
}

asio::awaitable<bool> Session::Flush() {
  while (!write_failed_ && !stopped_) {
    if (writing_) {  // a background write (progress) is in flight
      asio::steady_timer waiter(socket_.get_executor(),
                                asio::steady_timer::time_point::max());
      writer_waiter_ = &waiter;
      std::error_code ec;
      co_await waiter.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      writer_waiter_ = nullptr;
      continue;
    }
    if (out_.empty()) break;
    // Most answers fit the socket's buffer: sent now, without the pass
    // through the event loop an asynchronous write's completion costs.
    size_t sent = SendNow(out_);
    if (write_failed_ || sent == out_.size()) {
      out_.clear();
      continue;
    }
    writing_ = true;
    sending_.assign(out_, sent);
    out_.clear();
    SetDeadline();
    std::error_code ec;
    co_await asio::async_write(socket_, asio::buffer(sending_),
                               asio::redirect_error(asio::use_awaitable, ec));
    WriteDone(ec);
  }
  co_return !write_failed_ && !stopped_;
}

// The wait is a receive into inbox_, not a readiness wait: asio then needs
// no epoll_ctl per packet (it re-arms readiness waits every time) and most
// commands arrive in that one recv. A full inbox_ is followed by one read of
// the rest into the thread's scratch buffer.
void Session::WaitForData() {
  if (stopped_) return End();
  SetDeadline();
  socket_.async_receive(
      asio::buffer(inbox_),
      [self = shared_from_this()](const std::error_code& ec, size_t n) {
        self->OnReadable(ec, n);
      });
}

void Session::OnReadable(const std::error_code& receive_error, size_t n) {
  deadline_.store(0, std::memory_order_relaxed);
  if (receive_error == asio::error::would_block ||
      receive_error == asio::error::try_again) {
    return WaitForData();
  }
  if (receive_error || n == 0 || stopped_) return End();  // EOF, reset
  std::string in(inbox_.data(), n);
  if (n == inbox_.size()) {
    std::error_code ec;
    char* scratch = Scratch();
    size_t more = socket_.read_some(asio::buffer(scratch, kScratchSize), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      return End();
    }
    if (!ec && more == 0) return End();
    in.append(scratch, ec ? 0 : more);
  }
  asio::co_spawn(socket_.get_executor(), Process(std::move(in)),
                 [self = shared_from_this()](std::exception_ptr e, bool more) {
                   self->in_callback_.store(0, std::memory_order_release);
                   if (e) {
                     self->Report(absl::StrCat("closing the MTA connection: ",
                                               ExceptionText(e)));
                   }
                   if (e || !more) {
                     self->End();
                   } else {
                     self->WaitForData();
                   }
                 });
}

// `in` lives in this coroutine's frame and the answer buffers are released
// at the end: nothing stays allocated between reads.
asio::awaitable<bool> Session::Process(std::string in) {
  decoder_.Feed(in);
  bool close = false;
  while (!close && !stopped_) {
    absl::StatusOr<std::optional<codec::Command>> next = decoder_.Next();
    if (!next.ok()) {
      // Garbage, oversize length: drop the MTA.
      Report(absl::StrCat("closing the MTA connection: ",
                          next.status().message()));
      close = true;
      break;
    }
    if (!next->has_value()) break;
    absl::StatusOr<Engine::After> after = co_await Handle(**next);
    if (!after.ok()) {
      Report(absl::StrCat("closing the MTA connection: ",
                          after.status().message()));
      close = true;
    } else if (*after == Engine::After::kClose) {
      close = true;
    } else if (*after == Engine::After::kNewSession) {
      decoder_.set_max_payload(codec::kDefaultMaxPayload);
    } else {
      decoder_.set_max_payload(engine_.max_payload());
    }
    if (!close && Queued() >= kMaxQueuedOutput) {
      // Backpressure: the MTA takes these before we handle (or read) more.
      Event("output-full");
      if (!co_await Flush()) close = true;
    }
  }
  bool nothing_to_send = out_.empty();
  if (!co_await Flush()) close = true;
  if (nothing_to_send && tcp_ && !close) {
    AcknowledgeNow();  // nothing to send the ACK with
  }
  decoder_.ReleaseMemoryIfIdle();
  std::string().swap(out_);
  co_return !close && !stopped_;
}

asio::awaitable<absl::StatusOr<Engine::After>> Session::Handle(
    const codec::Command& command) {
  in_callback_.store(static_cast<char>(codec::CodeOf(command)),
                     std::memory_order_release);
  absl::StatusOr<Engine::After> after = co_await engine_.Handle(command, &out_);
  in_callback_.store(0, std::memory_order_release);
  NoteQueued();
  co_return after;
}

void Session::End() {
  if (ended_) return;
  ended_ = true;
  deadline_.store(0, std::memory_order_relaxed);
  std::error_code ec;
  if (final_stop_) {  // no callback starts after a final stop
    socket_.close(ec);
    return;
  }
  in_callback_.store('Q', std::memory_order_release);
  asio::co_spawn(socket_.get_executor(), engine_.Finish(),
                 [self = shared_from_this()](std::exception_ptr e) {
                   self->in_callback_.store(0, std::memory_order_release);
                   if (e) self->Report(ExceptionText(e));
                   std::error_code ec;
                   self->socket_.close(ec);
                 });
}

}  // namespace milter::client
