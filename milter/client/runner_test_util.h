// Helpers for the runner's socket tests: a Runner served on a thread with
// its diagnostics and internal events recorded, waits on those events (never
// on sleeps), and a blocking MTA built on the codec.

#ifndef MILTER_CLIENT_RUNNER_TEST_UTIL_H_
#define MILTER_CLIENT_RUNNER_TEST_UTIL_H_

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/local/stream_protocol.hpp"
#include "asio/write.hpp"
#include "milter/client/filter_factory.h"
#include "milter/client/runner.h"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"

namespace milter::client::test {

// Upper bound for any wait in these tests: only a guard against hanging
// when something is broken, never a timing assumption.
inline constexpr std::chrono::seconds kSafetyTimeout{120};

// Lines (diagnostics or internal events) recorded from any thread; tests
// wait until a condition over them (or over anything the recording thread
// changed before recording) holds.
class EventLog {
 public:
  DiagnosticSink Sink();
  void Add(std::string_view line);
  // Re-evaluates `done` after every new line; false after kSafetyTimeout.
  bool WaitUntil(const std::function<bool()>& done);
  // Waits for `n` lines containing `text`.
  bool WaitForCount(std::string_view text, size_t n);
  size_t Count(std::string_view text);
  std::vector<std::string> Lines();

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
  uint64_t generation_ = 0;  // lines added so far
};

// Unix socket paths are short: use /tmp, not the sandbox's deep TEST_TMPDIR.
std::string TempDir();

// Runs a Runner on a thread for the duration of a test (signals not
// handled), recording its diagnostics and events.
class Served {
 public:
  Served(FilterFactory factory, RunnerOptions options);
  ~Served() { Stop(); }
  // Stops and waits for Run() to return.
  void Stop();
  // Waits for Run() to return (after stop requests made elsewhere).
  void Join();
  Runner& runner() { return *runner_; }
  absl::Status listen_status() const { return listen_status_; }
  absl::Status run_status() const { return run_status_; }
  EventLog& diagnostics() { return diagnostics_; }
  EventLog& events() { return events_; }
  uint16_t port(size_t listener = 0);
  // Waits until no session is active.
  bool WaitForNoSessions();

 private:
  EventLog diagnostics_;
  EventLog events_;
  std::unique_ptr<Runner> runner_;
  absl::Status listen_status_;
  absl::Status run_status_;
  std::thread thread_;
};

asio::io_context& Io();

// A blocking MTA over one socket; reads give up after kSafetyTimeout.
template <class Socket>
class Mta {
 public:
  explicit Mta(Socket socket) : socket_(std::move(socket)) {
    timeval tv{static_cast<time_t>(kSafetyTimeout.count()), 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv,
                 sizeof tv);
  }

  void Send(const codec::Command& c) { SendRaw(codec::Encode(c)); }
  void SendRaw(const std::string& bytes) {
    asio::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
  }
  // The next response, std::nullopt on EOF or a decode error.
  std::optional<codec::Response> Next();
  // Reads responses until a verdict (or negotiation reply); collects them
  // as response codes. Empty on EOF.
  std::string ReadUntilVerdict();
  // True when the filter closed the connection.
  bool ClosedByPeer() {
    asio::error_code ec;
    char c;
    size_t n = socket_.read_some(asio::buffer(&c, 1), ec);
    return ec || n == 0;
  }
  void Close() {
    asio::error_code ec;
    socket_.close(ec);
  }
  Socket& socket() { return socket_; }
  const std::string& last_reply() const { return last_reply_; }
  const std::vector<std::string>& headers() const { return headers_; }

 private:
  Socket socket_;
  codec::ResponseDecoder decoder_{codec::kMaxPayload1M};
  char buf_[65536];
  std::string held_;
  std::string last_reply_;
  std::vector<std::string> headers_;
};

using UnixMta = Mta<asio::local::stream_protocol::socket>;
using TcpMta = Mta<asio::ip::tcp::socket>;

std::unique_ptr<UnixMta> ConnectUnix(const std::string& path);
std::unique_ptr<TcpMta> ConnectTcp(uint16_t port);

// A loopback listener on a port the kernel picks.
inline std::string FreeInet() { return "inet:0@[127.0.0.1]"; }
uint16_t PortOf(const std::string& spec);  // "inet:PORT@host"

inline const codec::OptionNegotiation kOffer{6, codec::action::kAll, 0x1FFFFF};

// A NUL-terminated argument list for MAIL/RCPT.
std::string ArgList(std::string_view a);

extern template class Mta<asio::local::stream_protocol::socket>;
extern template class Mta<asio::ip::tcp::socket>;

}  // namespace milter::client::test

#endif  // MILTER_CLIENT_RUNNER_TEST_UTIL_H_
