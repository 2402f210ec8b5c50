// Test-only scripted filter: listens on a Unix socket, accepts one connection
// on a thread, and runs a script that reads commands and writes responses
// (well-formed or hostile) with blocking I/O. For the server session tests.
//
// Its waits end on events (a packet, the session closing, the session having
// read what was sent), never on a guessed delay; kPatience only keeps a broken
// test from hanging and is never reached by one that passes.

#ifndef MILTER_SERVER_FAKE_FILTER_H_
#define MILTER_SERVER_FAKE_FILTER_H_

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "milter/codec/message.h"
#include "milter/server/blocking_session.h"

namespace milter::server::testing {

// How long the fake filter waits for the session before it gives up.
inline constexpr std::chrono::seconds kPatience{60};

// One packet as received, owned.
struct Packet {
  char code = 0;
  std::string payload;
  // Parsed view into `payload` (valid while this Packet lives).
  codec::Command Parse() const;
};

class FilterConnection {
 public:
  explicit FilterConnection(int fd) : fd_(fd) {}
  // The next packet, or nullopt at end of stream / error / kPatience of
  // silence.
  std::optional<Packet> Read();
  // Reads packets until one with `code` (skipping 'D' macro packets, which
  // are kept in macros()); nullopt if the stream ends first.
  std::optional<Packet> ReadUntil(char code);
  void Send(const codec::Response& response);
  // False if not all of `bytes` could be sent (the session closed).
  bool SendRaw(std::string_view bytes);
  // Reads 'O' and answers with these settings.
  bool Negotiate(uint32_t version, uint32_t actions, uint32_t protocol,
                 std::vector<std::pair<int, std::string>> symbol_lists = {});
  // Answers with these settings before the offer arrives, then reads 'O':
  // for OpenWithReplyWaiting().
  bool NegotiateEarly(uint32_t version, uint32_t actions, uint32_t protocol);
  // Waits until the session has read everything sent so far (or closed the
  // connection): on a Unix socket the bytes stay charged to the sender
  // (SIOCOUTQ) until the receiver has read them. False after `limit`.
  bool WaitUntilPeerRead(std::chrono::milliseconds limit = kPatience);
  // Waits, reading nothing, until the session closes the connection: a
  // filter that never answers. False if `limit` passed first.
  bool WaitForClose(std::chrono::milliseconds limit = kPatience);
  // Closes with an RST instead of a FIN.
  void Reset();
  void Close();

  // Every packet read so far, in order.
  const std::vector<Packet>& received() const { return received_; }
  // Codes of every packet read so far ("OCHMRTLNBE...").
  std::string Codes() const;

 private:
  int fd_;
  std::vector<Packet> received_;
};

class FakeFilter {
 public:
  using Script = std::function<void(FilterConnection&)>;
  explicit FakeFilter(Script script);
  ~FakeFilter();  // waits for the script to finish

  // "unix:/path" to connect to.
  const std::string& spec() const { return spec_; }
  // Waits for the script; returns the codes it read.
  std::string Join();

  // Waits until the session's end of the connection (a socket of this
  // process connected to this filter) has bytes to read: what the filter
  // sent has arrived. False if there is no such socket or `limit` passed.
  bool WaitUntilSessionCanRead(std::chrono::milliseconds limit = kPatience);

 private:
  std::string path_;
  std::string spec_;
  int listen_fd_ = -1;
  std::thread thread_;
  std::mutex mu_;
  std::string codes_;
  bool joined_ = false;
};

// Connects `session` to `filter` and negotiates without racing the filter's
// thread, for a session with a short read timeout: the filter's script starts
// with NegotiateEarly(), and the session sends its offer only once that reply
// is in its socket, so the reply is read at once and no timeout can expire
// however late the filter's thread runs.
absl::Status OpenWithReplyWaiting(BlockingSession& session, FakeFilter& filter);

}  // namespace milter::server::testing

#endif  // MILTER_SERVER_FAKE_FILTER_H_
