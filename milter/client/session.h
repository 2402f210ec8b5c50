// One MTA connection on the filter side. While idle it holds no coroutine,
// no timer and no buffer: only the socket, a pending readiness wait and the
// session engine. When bytes arrive they are read (at most kReadSize at a
// time) into a per-thread scratch buffer, copied out only for the packets in
// flight, and handled by a coroutine that lives until the answers are
// written. Backpressure: once kMaxQueuedOutput bytes of answers are queued,
// no further command is handled (and nothing more is read) until the MTA has
// taken them. Deadlines are checked by the runner's sweeper (see Expired).

#ifndef MILTER_CLIENT_SESSION_H_
#define MILTER_CLIENT_SESSION_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/basic_stream_socket.hpp"
#include "asio/generic/stream_protocol.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "milter/client/engine.h"
#include "milter/client/filter_factory.h"
#include "milter/codec/decoder.h"

namespace milter::client {

class Session;

// Shared by every session of a runner; must outlive them.
struct SessionConfig {
  const FilterFactory* factory = nullptr;
  const asio::any_io_executor* pool = nullptr;  // null: callbacks inline
  std::chrono::milliseconds timeout{std::chrono::hours(2)};
  // Where problems go (see RunnerOptions::diagnostics); null: dropped.
  const DiagnosticSink* diagnostics = nullptr;
  // Called from the session's destructor (on any thread).
  std::function<void(Session*)> on_end;
  // Called on the session's thread once Stop(/*final=*/true) took effect.
  std::function<void()> on_final_stop;
  // For tests (may be null): named internal events, e.g. "output-full".
  const DiagnosticSink* test_events = nullptr;
  // Raised to the most answer bytes one session has queued (may be null).
  std::atomic<size_t>* queued_high_water = nullptr;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Socket = asio::basic_stream_socket<asio::generic::stream_protocol,
                                           asio::io_context::executor_type>;

  // Bytes read from the socket at a time (and copied for decoding): a whole
  // packet of the default maximal size and then some; larger packets are
  // assembled by the decoder.
  static constexpr size_t kReadSize = 128 * 1024;
  // Answers queued for the MTA beyond which no more commands are handled
  // until it has read them (one command's answers may exceed it).
  static constexpr size_t kMaxQueuedOutput = 64 * 1024;

  // `tcp`: the socket is a TCP connection (its ACKs are then sent at once
  // after reads that get no answer; see AcknowledgeNow).
  Session(Socket socket, const SessionConfig* config, bool tcp);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Starts serving; the session keeps itself alive until it ends.
  void Start();
  // Closes the connection; call on the session's executor. `final`: no
  // filter callback starts any more (not even OnAbort/OnClose), and
  // config->on_final_stop is called.
  void Stop(bool final = false);
  asio::io_context::executor_type executor() { return socket_.get_executor(); }

  // Thread-safe: true if the session has waited past its deadline (for the
  // MTA to send, or to take our answers).
  bool Expired(std::chrono::steady_clock::time_point now) const;

  // Thread-safe: a final Stop took effect and a filter callback of this
  // session is still running (or waiting for a worker). It ends by itself
  // once the callback returns.
  bool StuckInCallback() const;
  // Thread-safe: the command whose callback runs ("helo", ...), or "close"
  // for OnAbort/OnClose at the end.
  const char* CallbackName() const;

 private:
  void WaitForData();
  void OnReadable(const std::error_code& ec, size_t n);
  asio::awaitable<bool> Process(std::string in);
  asio::awaitable<absl::StatusOr<Engine::After>> Handle(
      const codec::Command& command);
  // Writes every queued answer; false if the connection failed or stopped.
  asio::awaitable<bool> Flush();
  // Sends what the socket takes now (non-blocking): the bytes sent. Sets
  // write_failed_ on an error other than a full socket buffer.
  size_t SendNow(std::string_view bytes);
  // Starts writing queued answers in the background (progress).
  void KickWriter();
  void WriteDone(const std::error_code& ec);
  size_t Queued() const { return out_.size() + sending_.size(); }
  void NoteQueued();
  void End();
  void SetDeadline();
  void SendProgress();
  void Report(std::string_view what);
  void Event(std::string_view name);
  // TCP_QUICKACK: acknowledges what was read at once (false: not TCP).
  bool AcknowledgeNow();

  Socket socket_;
  const SessionConfig* config_;
  Engine engine_;
  codec::CommandDecoder decoder_;
  std::string out_;      // answers queued (empty when idle)
  std::string sending_;  // answers being written (empty when idle)
  // Wakes Flush while a background write finishes (rare: progress).
  asio::steady_timer* writer_waiter_ = nullptr;
  std::atomic<int64_t> deadline_{0};  // steady_clock ticks; 0: none
  // Command code whose callback runs, 'Q' for the final abort/close, 0: none.
  std::atomic<char> in_callback_{0};
  std::atomic<bool> final_stop_seen_{false};
  bool writing_ = false;
  bool write_failed_ = false;
  bool stopped_ = false;
  bool final_stop_ = false;
  bool ended_ = false;
  bool tcp_ = false;
  // The first bytes of each read (see WaitForData): most commands fit.
  std::array<char, 256> inbox_;

 public:
  // The runner's intrusive list of live sessions (guarded by its mutex).
  Session* list_prev = nullptr;
  Session* list_next = nullptr;
};

}  // namespace milter::client

#endif  // MILTER_CLIENT_SESSION_H_
