// TCP acknowledgements on the filter side. An MTA that writes packets the
// filter does not answer (no-reply stages) and keeps Nagle's algorithm on,
// as Postfix does, sends its next small packet only once the previous one is
// acknowledged: the filter must acknowledge at once instead of leaving the
// ACK to the kernel's delayed-ACK timer (40 ms). Checked through the state
// of the filter's own socket, read with getsockopt from inside a callback:
// TCP_QUICKACK reads 1 unless the kernel is delaying ACKs ("ping-pong"
// mode, entered as soon as the filter has answered something, left when the
// delayed-ACK timer fires). The test's MTA turns Nagle's algorithm off so
// that the packet after the unanswered one arrives at once, whatever the
// filter did with its ACK, and shows the state the filter left its socket in.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include "asio/ip/tcp.hpp"
#include "asio/read.hpp"
#include "asio/write.hpp"
#include "gtest/gtest.h"
#include "milter/client/filter.h"
#include "milter/client/filter_factory.h"
#include "milter/client/runner.h"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"

namespace milter::client {
namespace {

// The MTA's local port, to find the filter's side of its connection.
std::atomic<int> mta_port{0};

// The descriptor of this process's TCP socket whose peer is the MTA's port
// (the filter's accepted socket), or -1.
int FilterSideSocket() {
  for (int fd = 0; fd < 1024; ++fd) {
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0 &&
        peer.sin_family == AF_INET && ntohs(peer.sin_port) == mta_port) {
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

struct Probe {
  int nodelay = -1;
  int quickack_at_mail = -1;  // after the answers before it: delaying ACKs
  int quickack_at_eom = -1;   // read after an unanswered header
};
Probe probe;
std::promise<void>* header_seen = nullptr;

class ProbeFilter : public CoroutineFilter {
 public:
  asio::awaitable<Status> OnHelo(Context&, std::string_view) override {
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnMailFrom(Context&, std::string_view,
                                     EsmtpArgs) override {
    int fd = FilterSideSocket();
    probe.nodelay = IntOption(fd, TCP_NODELAY);
    probe.quickack_at_mail = IntOption(fd, TCP_QUICKACK);
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnHeader(Context&, std::string_view,
                                   std::string_view) override {
    header_seen->set_value();
    co_return Status::kNoReply;
  }
  asio::awaitable<Status> OnEndOfMessage(Context&) override {
    probe.quickack_at_eom = IntOption(FilterSideSocket(), TCP_QUICKACK);
    co_return Status::kContinue;
  }
};

class Mta {
 public:
  explicit Mta(uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    mta_port = socket_.local_endpoint().port();
    socket_.set_option(asio::ip::tcp::no_delay(true));
  }
  void Send(const codec::Command& c) {
    asio::write(socket_, asio::buffer(codec::Encode(c)));
  }
  // The code of the next response.
  char Read() {
    while (true) {
      auto next = decoder_.Next();
      if (!next.ok()) return '!';
      if (next->has_value()) return static_cast<char>(codec::CodeOf(**next));
      size_t n = socket_.read_some(asio::buffer(buf_, sizeof buf_));
      held_.assign(buf_, n);
      decoder_.Feed(held_);
    }
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  codec::ResponseDecoder decoder_;
  char buf_[4096];
  std::string held_;
};

std::string Args(std::string_view a) {
  std::string s;
  codec::AppendString(a, &s);
  return s;
}

TEST(TcpAckTest, UnansweredPacketsAreAcknowledgedAtOnce) {
  FilterOptions filter_options;
  filter_options.protocol = codec::protocol::kNoReplyHeader;
  RunnerOptions options;
  options.listen = {"inet:0@[127.0.0.1]"};
  options.worker_threads = 0;
  options.handle_signals = false;
  Runner runner(MakeFilterFactory<ProbeFilter>(filter_options), options);
  ASSERT_TRUE(runner.Listen().ok());
  std::thread serving([&] { (void)runner.Run(); });
  std::promise<void> header;
  header_seen = &header;
  {
    Mta mta(static_cast<uint16_t>(
        std::atoi(runner.bound_specs()[0].c_str() + 5)));  // inet:PORT@...
    mta.Send(codec::OptionNegotiation{6, codec::action::kAll, 0x1FFFFF});
    EXPECT_EQ(mta.Read(), 'O');
    mta.Send(codec::Helo{"client.example"});
    EXPECT_EQ(mta.Read(), 'c');
    std::string from = Args("<a@example.net>");
    mta.Send(codec::Mail{codec::StringList(from)});
    EXPECT_EQ(mta.Read(), 'c');
    mta.Send(codec::Header{"Subject", "hi"});  // not answered
    header.get_future().wait();
    mta.Send(codec::EndOfMessage{""});  // read only after the header's turn
    EXPECT_EQ(mta.Read(), 'c');
    mta.Send(codec::Quit{});
  }
  runner.Stop();
  serving.join();
  EXPECT_EQ(probe.nodelay, 1);
  // Answering the MTA put the socket in the delaying mode: the check below
  // shows something.
  EXPECT_EQ(probe.quickack_at_mail, 0);
  // The unanswered header left it: acknowledged without waiting.
  EXPECT_EQ(probe.quickack_at_eom, 1);
}

}  // namespace
}  // namespace milter::client
