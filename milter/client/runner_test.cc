// The runner over real sockets: the codec encoder plays the MTA over unix
// and TCP connections against the example filter and test filters. Every
// wait is on an event (a socket read, a recorded runner event), never on a
// sleep or a wall-clock bound.

#include "milter/client/runner.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "examples/sample/sample_filter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "milter/client/filter_factory.h"
#include "milter/client/runner_test_util.h"
#include "milter/codec/encoder.h"

namespace milter::client {
namespace {

using test::ArgList;
using test::ConnectTcp;
using test::ConnectUnix;
using test::FreeInet;
using test::kOffer;
using test::PortOf;
using test::Served;
using test::TcpMta;
using test::TempDir;
using ::testing::HasSubstr;

// A full message through the example filter; returns the EOM codes.
template <class M>
std::string SampleMessage(M& mta, const std::string& subject) {
  std::string from = ArgList("<a@example.net>");
  std::string rcpt = ArgList("<b@example.org>");
  mta.Send(codec::Mail{codec::StringList(from)});
  EXPECT_EQ(mta.ReadUntilVerdict(), "c");
  // The example filter negotiates no reply for recipients and headers.
  mta.Send(codec::Rcpt{codec::StringList(rcpt)});
  mta.Send(codec::Header{"Subject", subject});
  mta.Send(codec::EndOfMessage{"body\r\n"});
  return mta.ReadUntilVerdict();
}

TEST(RunnerTest, SampleFilterOverUnixSocketWithModeAndStaleSocket) {
  std::string dir = TempDir();
  std::string path = dir + "/f.sock";
  {  // a stale socket file: bound, never listened on, left behind
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  RunnerOptions o;
  o.listen = {"unix:" + path};
  o.unix_socket_mode = 0600;
  struct group* own = ::getgrgid(::getgid());
  ASSERT_NE(own, nullptr);
  o.unix_socket_group = own->gr_name;
  Served s(sample::MakeSampleFactory(), o);
  ASSERT_TRUE(s.listen_status().ok()) << s.listen_status();
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_gid, ::getgid());

  // A second runner on the same live path refuses.
  Runner second(sample::MakeSampleFactory(), o);
  EXPECT_FALSE(second.Listen().ok());

  auto mta = ConnectUnix(path);
  mta->Send(kOffer);
  EXPECT_EQ(mta->ReadUntilVerdict(), "O");
  EXPECT_EQ(SampleMessage(*mta, "hi"), "hm+c");
  EXPECT_THAT(mta->headers(), ::testing::ElementsAre("X-Sample:yes"));
  mta->Send(codec::Abort{});
  std::string reject = ArgList("<reject@example.com>");
  mta->Send(codec::Mail{codec::StringList(reject)});
  EXPECT_EQ(mta->ReadUntilVerdict(), "y");
  EXPECT_EQ(mta->last_reply(), "550 5.7.1 Sender rejected by sample filter");
  mta->Send(codec::Quit{});
  EXPECT_TRUE(mta->ClosedByPeer());
  s.Stop();
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // removed on stop
  ::rmdir(dir.c_str());
}

TEST(RunnerTest, TcpAndQuitNewConnection) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  Served s(sample::MakeSampleFactory(), o);
  ASSERT_TRUE(s.listen_status().ok()) << s.listen_status();
  auto mta = ConnectTcp(PortOf(s.runner().bound_specs()[0]));
  for (int session = 0; session < 3; ++session) {
    mta->Send(kOffer);
    EXPECT_EQ(mta->ReadUntilVerdict(), "O");
    EXPECT_EQ(SampleMessage(*mta, "REPLACE"), "hm+bc");
    mta->Send(codec::QuitNewConnection{});
  }
  mta->Send(codec::Quit{});
  EXPECT_TRUE(mta->ClosedByPeer());
}

TEST(RunnerTest, SessionsSpreadOverSeveralEventLoops) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.io_threads = 3;
  Served s(sample::MakeSampleFactory(), o);
  ASSERT_TRUE(s.listen_status().ok()) << s.listen_status();
  uint16_t port = PortOf(s.runner().bound_specs()[0]);
  std::vector<std::unique_ptr<TcpMta>> mtas;
  for (int i = 0; i < 6; ++i) {
    mtas.push_back(ConnectTcp(port));
    mtas.back()->Send(kOffer);
    EXPECT_EQ(mtas.back()->ReadUntilVerdict(), "O");
  }
  for (auto& m : mtas) EXPECT_EQ(SampleMessage(*m, "x"), "hm+c");
  for (auto& m : mtas) m->Send(codec::Quit{});
  for (auto& m : mtas) EXPECT_TRUE(m->ClosedByPeer());
  s.Stop();
  EXPECT_EQ(s.runner().total_sessions(), 6u);
}

TEST(RunnerTest, PipelinedPacketsInOneWrite) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  Served s(sample::MakeSampleFactory(), o);
  auto mta = ConnectTcp(PortOf(s.runner().bound_specs()[0]));
  std::string all = codec::Encode(kOffer);
  std::string from = ArgList("<a@example.net>");
  all += codec::Encode(codec::DefineMacros{'M', codec::StringList()});
  all += codec::Encode(codec::Mail{codec::StringList(from)});
  mta->SendRaw(all);
  EXPECT_EQ(mta->ReadUntilVerdict(), "O");
  EXPECT_EQ(mta->ReadUntilVerdict(), "c");
}

TEST(RunnerTest, BadInputClosesTheSessionNotTheRunner) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  Served s(sample::MakeSampleFactory(), o);
  uint16_t port = PortOf(s.runner().bound_specs()[0]);
  {  // garbage code byte
    auto mta = ConnectTcp(port);
    mta->SendRaw(std::string("\0\0\0\2Zz", 6));
    EXPECT_TRUE(mta->ClosedByPeer());
  }
  {  // a 4 GB length
    auto mta = ConnectTcp(port);
    mta->SendRaw(std::string("\xff\xff\xff\xffO", 5));
    EXPECT_TRUE(mta->ClosedByPeer());
  }
  {  // zero length
    auto mta = ConnectTcp(port);
    mta->SendRaw(std::string("\0\0\0\0", 4));
    EXPECT_TRUE(mta->ClosedByPeer());
  }
  {  // a command before negotiation
    auto mta = ConnectTcp(port);
    mta->Send(codec::Helo{"x"});
    EXPECT_TRUE(mta->ClosedByPeer());
  }
  // Peer vanishing at every byte of a session.
  std::string session = codec::Encode(kOffer);
  std::string from = ArgList("<a@example.net>");
  session += codec::Encode(codec::Mail{codec::StringList(from)});
  session += codec::Encode(codec::Header{"Subject", "x"});
  for (size_t cut = 0; cut < session.size(); ++cut) {
    auto mta = ConnectTcp(port);
    mta->SendRaw(session.substr(0, cut));
    mta->Close();
  }
  // Every connection above was accepted (counted) before this one is.
  auto last = ConnectTcp(port);
  last->Send(kOffer);
  EXPECT_EQ(last->ReadUntilVerdict(), "O");
  last->Close();
  EXPECT_TRUE(s.WaitForNoSessions());
  EXPECT_EQ(s.runner().active_sessions(), 0u);
  auto mta = ConnectTcp(port);  // still serving
  mta->Send(kOffer);
  EXPECT_EQ(mta->ReadUntilVerdict(), "O");
}

TEST(RunnerTest, ReadTimeoutClosesIdleSessions) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.timeout = std::chrono::milliseconds(100);
  Served s(sample::MakeSampleFactory(), o);
  auto mta = ConnectTcp(PortOf(s.runner().bound_specs()[0]));
  mta->Send(kOffer);
  EXPECT_EQ(mta->ReadUntilVerdict(), "O");
  EXPECT_TRUE(mta->ClosedByPeer());  // the MTA sends nothing: timed out
}

// A synchronous filter that blocks in its callbacks until four of them run
// at once (they can only if they run in parallel on the worker pool).
class Slow : public Filter {
 public:
  static std::mutex mu;
  static std::condition_variable changed;
  static int inside;
  static int closes;
  Status OnHelo(Context& ctx, std::string_view) override {
    EXPECT_TRUE(ctx.Progress().ok());
    std::unique_lock<std::mutex> lock(mu);
    ++inside;
    changed.notify_all();
    bool all = changed.wait_for(lock, test::kSafetyTimeout,
                                [] { return inside >= 4; });
    return all ? Status::kAccept : Status::kTempfail;
  }
  void OnClose(Context&) override {
    std::lock_guard<std::mutex> lock(mu);
    ++closes;
    changed.notify_all();
  }
};
std::mutex Slow::mu;
std::condition_variable Slow::changed;
int Slow::inside = 0;
int Slow::closes = 0;

TEST(RunnerTest, SyncCallbacksOnWorkersDoNotBlockOtherSessions) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.worker_threads = 4;
  Slow::inside = Slow::closes = 0;
  Served s(MakeFilterFactory<Slow>(), o);
  uint16_t port = PortOf(s.runner().bound_specs()[0]);
  std::vector<std::unique_ptr<TcpMta>> mtas;
  for (int i = 0; i < 4; ++i) {
    mtas.push_back(ConnectTcp(port));
    mtas.back()->Send(kOffer);
    EXPECT_EQ(mtas.back()->ReadUntilVerdict(), "O");
  }
  for (auto& m : mtas) m->Send(codec::Helo{"x"});
  // Progress first (sent while the callback blocks), then the verdict.
  for (auto& m : mtas) EXPECT_EQ(m->ReadUntilVerdict(), "pa");
  for (auto& m : mtas) m->Close();
  std::unique_lock<std::mutex> lock(Slow::mu);
  EXPECT_TRUE(Slow::changed.wait_for(lock, test::kSafetyTimeout,
                                     [] { return Slow::closes == 4; }));
}

class ThrowsSync : public Filter {
 public:
  Status OnHelo(Context&, std::string_view) override {
    throw std::runtime_error("bug in a filter");
  }
};

class ThrowsCoroutine : public CoroutineFilter {
 public:
  asio::awaitable<Status> OnHelo(Context&, std::string_view) override {
    throw std::runtime_error("bug in a coroutine filter");
    co_return Status::kContinue;
  }
};

void ExpectTempfailAndDiagnostic(FilterFactory factory, int workers,
                                 const std::string& what) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.worker_threads = workers;
  Served s(std::move(factory), o);
  auto mta = ConnectTcp(s.port());
  mta->Send(kOffer);
  ASSERT_EQ(mta->ReadUntilVerdict(), "O");
  mta->Send(codec::Helo{"x"});
  EXPECT_EQ(mta->ReadUntilVerdict(), "t");
  mta->Send(codec::Helo{"y"});  // the session goes on
  EXPECT_EQ(mta->ReadUntilVerdict(), "t");
  std::vector<std::string> lines = s.diagnostics().Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("filter callback at helo threw"));
  EXPECT_THAT(lines[0], HasSubstr(what));
  EXPECT_THAT(lines[0], HasSubstr("answering tempfail"));
}

TEST(RunnerTest, ExceptionsFromCallbacksAreReportedAndTempfailed) {
  ExpectTempfailAndDiagnostic(MakeFilterFactory<ThrowsSync>(), 2,
                              "bug in a filter");
  ExpectTempfailAndDiagnostic(MakeFilterFactory<ThrowsSync>(), 0,
                              "bug in a filter");
  ExpectTempfailAndDiagnostic(MakeFilterFactory<ThrowsCoroutine>(), 8,
                              "bug in a coroutine filter");
}

TEST(RunnerTest, MaxSessionsHoldsFurtherConnectionsInTheBacklog) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.max_sessions = 1;
  Served s(sample::MakeSampleFactory(), o);
  uint16_t port = PortOf(s.runner().bound_specs()[0]);
  auto first = ConnectTcp(port);
  first->Send(kOffer);
  EXPECT_EQ(first->ReadUntilVerdict(), "O");
  auto second = ConnectTcp(port);
  second->Send(kOffer);
  // The accept loop waits for a free slot instead of accepting.
  ASSERT_TRUE(s.events().WaitForCount("accept-slot-wait", 1));
  EXPECT_EQ(s.runner().active_sessions(), 1u);
  EXPECT_EQ(s.runner().total_sessions(), 1u);
  first->Send(codec::Quit{});
  EXPECT_EQ(second->ReadUntilVerdict(), "O");  // served once a slot frees
}

TEST(RunnerTest, GracefulStopLetsSessionsInFlightFinish) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.shutdown_deadline = std::chrono::seconds(5);
  auto served = std::make_unique<Served>(sample::MakeSampleFactory(), o);
  uint16_t port = PortOf(served->runner().bound_specs()[0]);
  auto mta = ConnectTcp(port);
  mta->Send(kOffer);
  EXPECT_EQ(mta->ReadUntilVerdict(), "O");
  std::thread stopper([&] { served->Stop(); });
  // The listener is closed before the runner reports "stopping".
  ASSERT_TRUE(served->events().WaitForCount("stopping", 1));
  // Still served after the stop request...
  EXPECT_EQ(SampleMessage(*mta, "x"), "hm+c");
  // ...but no new connections are accepted.
  asio::error_code ec;
  asio::ip::tcp::socket probe(test::Io());
  probe.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  EXPECT_TRUE(ec);
  mta->Send(codec::Quit{});
  stopper.join();  // returns once the session is over
}

TEST(RunnerTest, DeadlineClosesStragglers) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.shutdown_deadline = std::chrono::milliseconds(100);
  Served s(sample::MakeSampleFactory(), o);
  auto mta = ConnectTcp(PortOf(s.runner().bound_specs()[0]));
  mta->Send(kOffer);
  EXPECT_EQ(mta->ReadUntilVerdict(), "O");
  s.Stop();  // returns once the deadline has closed the idle session
  EXPECT_TRUE(mta->ClosedByPeer());
  EXPECT_EQ(s.runner().active_sessions(), 0u);
}

// Counts filter objects and their closes.
class CountsClose : public CoroutineFilter {
 public:
  static std::atomic<int> made;
  static std::atomic<int> closes;
  CountsClose() { ++made; }
  asio::awaitable<void> OnClose(Context&) override {
    ++closes;
    co_return;
  }
};
std::atomic<int> CountsClose::made{0};
std::atomic<int> CountsClose::closes{0};

TEST(RunnerTest, ProbesGetNoFilterAndProtocolErrorsAreDiagnosed) {
  CountsClose::made = CountsClose::closes = 0;
  RunnerOptions o;
  o.listen = {FreeInet()};
  Served s(MakeFilterFactory<CountsClose>(), o);
  ASSERT_TRUE(s.listen_status().ok()) << s.listen_status();
  uint16_t port = PortOf(s.runner().bound_specs()[0]);
  ConnectTcp(port)->Close();  // a probe (a stale-socket check, a monitor)
  auto mta = ConnectTcp(port);
  mta->Send(kOffer);
  EXPECT_EQ(mta->ReadUntilVerdict(), "O");
  mta->Send(codec::Quit{});
  EXPECT_TRUE(mta->ClosedByPeer());
  auto garbage = ConnectTcp(port);
  garbage->SendRaw(std::string("\0\0\0\0", 4));  // length 0: invalid
  EXPECT_TRUE(garbage->ClosedByPeer());
  ASSERT_TRUE(s.events().WaitUntil([&] {
    return s.runner().total_sessions() == 3 &&
           s.runner().active_sessions() == 0;
  }));
  EXPECT_EQ(CountsClose::made, 1);
  EXPECT_EQ(CountsClose::closes, 1);
  std::vector<std::string> lines = s.diagnostics().Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("closing the MTA connection"));
}

TEST(RunnerTest, ListensOnAnEphemeralPortAndServesIt) {
  RunnerOptions o;
  o.listen = {"inet:0@[127.0.0.1]"};
  Served s(sample::MakeSampleFactory(), o);
  ASSERT_TRUE(s.listen_status().ok()) << s.listen_status();
  ASSERT_EQ(s.runner().bound_specs().size(), 1u);
  std::string bound = s.runner().bound_specs()[0];
  EXPECT_THAT(
      bound, ::testing::MatchesRegex("inet:[1-9][0-9]*@\\[127\\.0\\.0\\.1\\]"));
  auto mta = ConnectTcp(PortOf(bound));
  mta->Send(kOffer);
  EXPECT_EQ(mta->ReadUntilVerdict(), "O");
  EXPECT_EQ(SampleMessage(*mta, "hi"), "hm+c");
  mta->Send(codec::Quit{});
  EXPECT_TRUE(mta->ClosedByPeer());
}

TEST(RunnerTest, SigtermStopsGracefully) {
  RunnerOptions o;
  o.listen = {"inet:0@[127.0.0.1]"};
  o.shutdown_deadline = std::chrono::milliseconds(100);
  Runner runner(sample::MakeSampleFactory(), o);  // handle_signals: true
  ASSERT_TRUE(runner.Listen().ok());
  absl::Status run_status = absl::UnknownError("not returned");
  std::thread t([&] { run_status = runner.Run(); });
  // A negotiated session proves the event loop (and its signal handling)
  // is up.
  auto mta = ConnectTcp(PortOf(runner.bound_specs()[0]));
  mta->Send(kOffer);
  EXPECT_EQ(mta->ReadUntilVerdict(), "O");
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);  // the process survives it
  t.join();
  EXPECT_TRUE(run_status.ok()) << run_status;
  EXPECT_TRUE(mta->ClosedByPeer());
}

TEST(RunnerTest, StopBeforeRunReturnsAtOnce) {
  RunnerOptions o;
  o.listen = {"inet:0@[127.0.0.1]"};
  o.handle_signals = false;
  Runner runner(sample::MakeSampleFactory(), o);
  runner.Stop();
  EXPECT_TRUE(runner.Run().ok());
}

TEST(RunnerTest, BadSpecsAreReported) {
  RunnerOptions o;
  o.listen = {"bogus:1"};
  Runner r(sample::MakeSampleFactory(), o);
  EXPECT_FALSE(r.Listen().ok());
}

}  // namespace
}  // namespace milter::client
