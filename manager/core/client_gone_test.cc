// The SMTP client disconnecting while the children work on the end of a
// message: found in the kernel's socket table (a real TCP connection on
// loopback plays the MTA's socket to its client), the children are given up
// and the manager answers fallback_status_at_disconnect.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/core/client_connection.h"
#include "manager/core/scripted_child.h"
#include "manager/core/test_manager.h"
#include "milter/server/blocking_session.h"

namespace milter::manager {
namespace {

using server::BlockingSession;
using server::Decision;
using testing::ChildEntry;
using testing::ChildScript;
using ::testing::HasSubstr;
using testing::ManagerUnderTest;
using testing::ScriptedChild;
using testing::TempDir;

// An established TCP connection on 127.0.0.1: `client` is the SMTP client's
// end, `server` the MTA's; `client_port` the client's port.
struct Loopback {
  Loopback() {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    ::bind(listener, reinterpret_cast<sockaddr*>(&a), n);
    ::listen(listener, 1);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &n);
    client = ::socket(AF_INET, SOCK_STREAM, 0);
    ::connect(client, reinterpret_cast<sockaddr*>(&a), n);
    server = ::accept(listener, nullptr, nullptr);
    ::close(listener);
    sockaddr_in c{};
    n = sizeof c;
    ::getsockname(client, reinterpret_cast<sockaddr*>(&c), &n);
    client_port = ntohs(c.sin_port);
  }
  ~Loopback() {
    if (client >= 0) ::close(client);
    ::close(server);
  }
  void CloseClient() {
    ::close(client);
    client = -1;
  }
  int client = -1, server = -1;
  uint16_t client_port = 0;
};

codec::ConnectionInfo ClientAt(uint16_t port) {
  codec::ConnectionInfo info;
  info.hostname = "client.example";
  info.family = codec::Family::kInet;
  info.address = "127.0.0.1";
  info.port = port;
  return info;
}

TEST(ClientConnectionTest, ConnectedGoneAndUnknown) {
  Loopback c;
  EXPECT_EQ(CheckClientConnection(ClientAt(c.client_port)),
            ClientConnection::kConnected);
  c.CloseClient();  // the MTA's socket goes to CLOSE_WAIT
  EXPECT_EQ(CheckClientConnection(ClientAt(c.client_port)),
            ClientConnection::kGone);
  codec::ConnectionInfo elsewhere = ClientAt(40000);
  elsewhere.address = "192.0.2.1";
  EXPECT_EQ(CheckClientConnection(elsewhere), ClientConnection::kUnknown);
  codec::ConnectionInfo unix_client;
  unix_client.family = codec::Family::kUnix;
  EXPECT_EQ(CheckClientConnection(unix_client), ClientConnection::kUnknown);
}

// A child that holds its answer to end of message until released.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, released = false;
  void Enter() {
    std::unique_lock<std::mutex> lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return released; });
  }
  bool WaitEntered() {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return entered; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    cv.notify_all();
  }
};

TEST(ClientGoneTest, ChildrenGivenUpAndFallbackAnswered) {
  Gate gate;
  ChildScript slow;
  slow.eom = [&gate](client::Context&) {
    gate.Enter();
    return client::Status::kContinue;
  };
  std::string dir = TempDir();
  ScriptedChild child(dir, "slow", slow);
  std::mutex log_mu;
  std::vector<std::string> lines;
  ManagerUnderTest manager(dir, ChildEntry("slow", child),
                           "connection_check_interval: 0.05\n",
                           [&](config::LogLevel, std::string_view line) {
                             std::lock_guard<std::mutex> lock(log_mu);
                             lines.emplace_back(line);
                           });
  Loopback smtp;
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_TRUE(mta.Connect(ClientAt(smtp.client_port)).ok());
  ASSERT_TRUE(mta.Mail("<a@example.org>").ok());
  ASSERT_TRUE(mta.Rcpt("<b@example.org>").ok());
  std::thread client_leaves([&] {
    if (gate.WaitEntered()) smtp.CloseClient();
  });
  auto eom = mta.EndOfMessage({{"i", "QID7"}});
  client_leaves.join();
  gate.Release();
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_EQ(eom->verdict.decision, Decision::kTempfail);
  std::lock_guard<std::mutex> lock(log_mu);
  std::string all;
  for (const std::string& l : lines) absl::StrAppend(&all, l, "\n");
  EXPECT_THAT(all, HasSubstr("disconnected during end of message (queue ID "
                             "QID7): children given up, answering tempfail"));
}

}  // namespace
}  // namespace milter::manager
