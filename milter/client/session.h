// One MTA connection on the filter side: waits for readability without a
// buffer, reads into a per-thread scratch buffer, keeps only bytes of packets
// in flight, feeds the session engine and writes its answers. An idle
// connection holds no read buffer; see bench/client/README.md for its cost.

#ifndef MILTER_CLIENT_SESSION_H_
#define MILTER_CLIENT_SESSION_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/generic/stream_protocol.hpp"
#include "asio/steady_timer.hpp"
#include "milter/client/engine.h"
#include "milter/client/filter_factory.h"
#include "milter/codec/decoder.h"

namespace milter::client {

// Shared by every session of a runner; must outlive them.
struct SessionConfig {
  const FilterFactory* factory = nullptr;
  const asio::any_io_executor* pool = nullptr;  // null: callbacks inline
  std::chrono::milliseconds timeout{std::chrono::hours(2)};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Socket = asio::generic::stream_protocol::socket;

  Session(Socket socket, const SessionConfig* config);
  ~Session();

  // Serves the connection until quit, error, timeout or Stop().
  asio::awaitable<void> Run();
  // Closes the connection; the session ends soon after. Call on the
  // session's executor.
  void Stop();
  asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  // Pushes the deadline; the timer itself is armed once and re-armed only
  // when it fires early, so a busy session costs no timer operations.
  void ArmTimer();
  void OnTimer(const std::error_code& ec);
  void SendProgress();

  Socket socket_;
  asio::steady_timer timer_;
  const SessionConfig* config_;
  Engine engine_;
  codec::CommandDecoder decoder_;
  std::string in_;   // bytes being decoded (empty when idle)
  std::string out_;  // responses to write (empty when idle)
  std::chrono::steady_clock::time_point deadline_;
  bool timer_armed_ = false;
  bool waiting_ = false;  // the deadline applies (not while in a callback)
  bool stopped_ = false;
};

}  // namespace milter::client

#endif  // MILTER_CLIENT_SESSION_H_
