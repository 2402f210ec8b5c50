// Test-only scripted filter: listens on a Unix socket, accepts one connection
// on a thread, and runs a script that reads commands and writes responses
// (well-formed or hostile) with blocking I/O. For the server session tests.

#ifndef MILTER_SERVER_FAKE_FILTER_H_
#define MILTER_SERVER_FAKE_FILTER_H_

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "milter/codec/message.h"

namespace milter::server::testing {

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
  // The next packet, or nullopt at end of stream / error / 10 s of silence.
  std::optional<Packet> Read();
  // Reads packets until one with `code` (skipping 'D' macro packets, which
  // are kept in macros()); nullopt if the stream ends first.
  std::optional<Packet> ReadUntil(char code);
  void Send(const codec::Response& response);
  void SendRaw(std::string_view bytes);
  // Reads 'O' and answers with these settings.
  bool Negotiate(uint32_t version, uint32_t actions, uint32_t protocol,
                 std::vector<std::pair<int, std::string>> symbol_lists = {});
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

 private:
  std::string path_;
  std::string spec_;
  int listen_fd_ = -1;
  std::thread thread_;
  std::mutex mu_;
  std::string codes_;
  bool joined_ = false;
};

}  // namespace milter::server::testing

#endif  // MILTER_SERVER_FAKE_FILTER_H_
