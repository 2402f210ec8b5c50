// TCP behaviour of the MTA side's connection to a filter. Two ways a filter
// on sendmail's libmilter (Nagle's algorithm on, delayed ACKs) could wait for
// an ACK that the other side delays up to 40 ms:
// - our unanswered packets (macros, no-reply stages) followed by more: the
//   connection turns Nagle's algorithm off (TCP_NODELAY), so they go out at
//   once;
// - the filter's several packets in a row at end of message (modifications,
//   then the verdict): a session that has read part of an answer and waits
//   for the rest acknowledges at once (TCP_QUICKACK), instead of waiting to
//   send the ACK with its next command. A read that completes the answer
//   costs no such call: the next command carries the ACK.
// Checked through the state of the MTA's socket, read with getsockopt:
// TCP_QUICKACK reads 1 unless the kernel is delaying ACKs ("ping-pong"
// mode, entered as soon as this side answers what it received).

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/io_context.hpp"
#include "gtest/gtest.h"
#include "milter/server/blocking_session.h"
#include "milter/server/connection.h"
#include "milter/server/fake_filter.h"

namespace milter::server {
namespace {

using ServerConnectionInfo = ConnectionInfo;

// A blocking TCP listener on 127.0.0.1, any port: the filter's side.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    address_.sin_family = AF_INET;
    address_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address_;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address_), length);
    ::listen(fd_, 1);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address_), &length);
  }
  ~Listener() { ::close(fd_); }
  uint16_t port() const { return ntohs(address_.sin_port); }
  int Accept() { return ::accept(fd_, nullptr, nullptr); }

 private:
  int fd_;
  sockaddr_in address_{};
};

// The descriptor of this process's socket connected to 127.0.0.1:`port`
// (the MTA's side), or -1.
int SocketConnectedTo(uint16_t port) {
  for (int fd = 0; fd < 1024; ++fd) {
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0 &&
        peer.sin_family == AF_INET && ntohs(peer.sin_port) == port) {
      return fd;
    }
  }
  return -1;
}

int IntOption(int fd, int option) {
  int value = -1;
  socklen_t length = sizeof value;
  if (::getsockopt(fd, IPPROTO_TCP, option, &value, &length) != 0) return -1;
  return value;
}

TEST(TcpAckTest, NoDelayAndAcknowledgeOnRequestOnly) {
  Listener listener;
  asio::io_context io;
  int nodelay = -1;
  std::string quickack_before_read, quickack_after_read, quickack_after_ack;
  auto mta = [&]() -> asio::awaitable<void> {
    Connection c(io.get_executor());
    net::SocketSpec spec;
    spec.kind = net::SocketSpec::Kind::kInet;
    spec.host = "127.0.0.1";
    spec.port = listener.port();
    absl::Status connected = co_await c.Connect(spec, absl::Seconds(10));
    EXPECT_TRUE(connected.ok()) << connected;
    if (!connected.ok()) co_return;
    int filter = listener.Accept();  // queued already: does not block
    int fd = SocketConnectedTo(listener.port());
    nodelay = IntOption(fd, TCP_NODELAY);
    // Command, answer, command, ...: from the second command on, sending
    // soon after receiving puts the MTA's socket in the delaying mode (so
    // the check after the read shows something); each read must leave it.
    for (int i = 0; i < 4; ++i) {
      EXPECT_TRUE((co_await c.Write("command", absl::Seconds(10))).ok());
      char buffer[64];
      EXPECT_EQ(::read(filter, buffer, sizeof buffer), 7);
      EXPECT_EQ(::write(filter, "answer", 6), 6);
      if (i > 0)
        quickack_before_read += std::to_string(IntOption(fd, TCP_QUICKACK));
      absl::StatusOr<std::string_view> got =
          co_await c.Receive(absl::Seconds(10));
      EXPECT_TRUE(got.ok() && *got == "answer");
      if (i > 0) {
        quickack_after_read += std::to_string(IntOption(fd, TCP_QUICKACK));
        c.AcknowledgeNow();
        quickack_after_ack += std::to_string(IntOption(fd, TCP_QUICKACK));
      }
    }
    ::close(filter);
  };
  asio::co_spawn(io, mta(), asio::detached);
  io.run();
  EXPECT_EQ(nodelay, 1);
  EXPECT_EQ(quickack_before_read, "000");
  EXPECT_EQ(quickack_after_read, "000");  // a read alone: delayed as usual
  EXPECT_EQ(quickack_after_ack, "111");
}

// Milliseconds until what `fd` sent is acknowledged (SIOCOUTQ: bytes not
// yet acknowledged), at most `limit`.
int MillisUntilAcknowledged(int fd, int limit) {
  auto start = std::chrono::steady_clock::now();
  while (true) {
    int unacknowledged = 0;
    ::ioctl(fd, SIOCOUTQ, &unacknowledged);
    int ms =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - start)
                             .count());
    if (unacknowledged == 0 || ms >= limit) return ms;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// A filter that sends a modification and then its verdict, as libmilter
// does at end of message: with Nagle's algorithm on, the verdict waits until
// the modification is acknowledged. A session that has read part of an
// answer acknowledges at once; otherwise the MTA's delayed ACK (at least
// 40 ms on Linux) would hold every message up. The time to the ACK is
// measured on three messages; the best must beat the delayed ACK clearly
// (one slow wake-up of a loaded machine cannot fail the test).
TEST(TcpAckTest, SessionAcknowledgesAPartialAnswerAtOnce) {
  Listener listener;
  std::vector<int> ack_ms;
  std::thread filter_thread([&] {
    int fd = listener.Accept();
    testing::FilterConnection c(fd);
    c.Negotiate(6, codec::action::kAddHeaders,
                codec::protocol::kAllNoSend &
                    ~(codec::protocol::kNoConnect | codec::protocol::kNoHelo));
    for (char code : {'C', 'H'}) {
      if (c.ReadUntil(code)) c.Send(codec::Continue{});
    }
    for (int i = 0; i < 3; ++i) {
      if (!c.ReadUntil('E')) return;
      c.Send(codec::AddHeader{"X-Test", "yes"});
      ack_ms.push_back(MillisUntilAcknowledged(fd, 1000));
      c.Send(codec::Continue{});
    }
    c.ReadUntil('Q');
  });
  BlockingSession mta;
  ASSERT_TRUE(
      mta.Open(absl::StrCat("inet:", listener.port(), "@127.0.0.1")).ok());
  ServerConnectionInfo info;
  info.hostname = "client.example";
  info.family = codec::Family::kInet;
  info.address = "192.0.2.1";
  ASSERT_TRUE(mta.Connect(info).ok());
  ASSERT_TRUE(mta.Helo("client.example").ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(mta.Mail("<a@example.org>").ok());
    auto eom = mta.EndOfMessage();
    ASSERT_TRUE(eom.ok()) << eom.status();
    EXPECT_EQ(eom->modifications.size(), 1u);
  }
  (void)mta.Quit();
  filter_thread.join();
  ASSERT_EQ(ack_ms.size(), 3u);
  EXPECT_LT(*std::min_element(ack_ms.begin(), ack_ms.end()), 20)
      << ack_ms[0] << " " << ack_ms[1] << " " << ack_ms[2];
}

}  // namespace
}  // namespace milter::server
