// One MTA connection on the filter side. While idle it holds no coroutine,
// no timer and no buffer: only the socket, a pending readiness wait and the
// session engine. When bytes arrive they are read into a per-thread scratch
// buffer, copied out only for the packets in flight, and handled by a
// coroutine that lives until the answers are written. Deadlines are checked
// by the runner's sweeper (see CheckDeadline).

#ifndef MILTER_CLIENT_SESSION_H_
#define MILTER_CLIENT_SESSION_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/basic_stream_socket.hpp"
#include "asio/generic/stream_protocol.hpp"
#include "asio/io_context.hpp"
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
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Socket = asio::basic_stream_socket<asio::generic::stream_protocol,
                                           asio::io_context::executor_type>;

  Session(Socket socket, const SessionConfig* config);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Starts serving; the session keeps itself alive until it ends.
  void Start();
  // Closes the connection; call on the session's executor.
  void Stop();
  asio::io_context::executor_type executor() { return socket_.get_executor(); }

  // Thread-safe: true if the session has waited past its deadline (for the
  // MTA to send, or to take our answers).
  bool Expired(std::chrono::steady_clock::time_point now) const;

 private:
  void WaitForData();
  void OnReadable(const std::error_code& ec);
  asio::awaitable<bool> Process(std::string in);
  void End();
  void SetDeadline();
  void SendProgress();
  void Report(std::string_view what);
  // TCP_QUICKACK: acknowledges what was read at once (false: not TCP).
  bool AcknowledgeNow();

  Socket socket_;
  const SessionConfig* config_;
  Engine engine_;
  codec::CommandDecoder decoder_;
  std::string in_;                    // bytes being decoded (empty when idle)
  std::string out_;                   // answers being written (empty when idle)
  std::atomic<int64_t> deadline_{0};  // steady_clock ticks; 0: none
  bool stopped_ = false;
  bool ended_ = false;
  bool tcp_ = false;

 public:
  // The runner's intrusive list of live sessions (guarded by its mutex).
  Session* list_prev = nullptr;
  Session* list_next = nullptr;
};

}  // namespace milter::client

#endif  // MILTER_CLIENT_SESSION_H_
