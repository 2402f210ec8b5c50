// Stopping with filter callbacks that do not return: after the shutdown
// deadline, or at a second Stop() or SIGTERM, Run() returns with the
// connections closed and the stuck callbacks abandoned (and reported).
// Each callback blocks on a gate the test opens only after Run() returned.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "examples/sample/sample_filter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "milter/client/filter_factory.h"
#include "milter/client/runner.h"
#include "milter/client/runner_test_util.h"

namespace milter::client {
namespace {

using test::ConnectTcp;
using test::FreeInet;
using test::kOffer;
using test::Served;
using ::testing::HasSubstr;

// Callbacks wait here until the test opens it. Gates have static storage:
// an abandoned callback may still be leaving one when a test ends.
class Gate {
 public:
  void Enter() {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    changed_.notify_all();
    changed_.wait_for(lock, test::kSafetyTimeout, [&] { return open_; });
    ++left_;
    changed_.notify_all();
  }
  // Opens the gate and waits for every callback to leave it.
  void OpenAndDrain() {
    std::unique_lock<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
    changed_.wait_for(lock, test::kSafetyTimeout,
                      [&] { return left_ == entered_; });
  }
  bool WaitForEntered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, test::kSafetyTimeout,
                             [&] { return entered_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int entered_ = 0;
  int left_ = 0;
  bool open_ = false;
};

Gate* gate = nullptr;
std::atomic<int> closes{0};

// OnHelo blocks on the gate.
class Stuck : public Filter {
 public:
  Status OnHelo(Context&, std::string_view) override {
    gate->Enter();
    return Status::kContinue;
  }
  void OnClose(Context&) override { ++closes; }
};

class StopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::deque<Gate>* gates = new std::deque<Gate>;
    gate = &gates->emplace_back();
    closes = 0;
  }
  // Only now, with Run() returned, may the abandoned callbacks return.
  void TearDown() override { gate->OpenAndDrain(); }
};

// One session stuck in OnHelo and one idle session.
struct TwoSessions {
  std::unique_ptr<test::TcpMta> stuck;
  std::unique_ptr<test::TcpMta> idle;
};

TwoSessions Start(uint16_t port) {
  TwoSessions t;
  t.stuck = ConnectTcp(port);
  t.stuck->Send(kOffer);
  EXPECT_EQ(t.stuck->ReadUntilVerdict(), "O");
  t.stuck->Send(codec::Helo{"x"});
  EXPECT_TRUE(gate->WaitForEntered(1));
  t.idle = ConnectTcp(port);
  t.idle->Send(kOffer);
  EXPECT_EQ(t.idle->ReadUntilVerdict(), "O");
  return t;
}

void ExpectAbandoned(Served& s, TwoSessions& t) {
  EXPECT_TRUE(t.stuck->ClosedByPeer());
  EXPECT_TRUE(t.idle->ClosedByPeer());
  EXPECT_EQ(s.events().Count("abandoned"), 1u);
  EXPECT_EQ(s.diagnostics().Count("abandoning a session"), 1u);
  EXPECT_EQ(s.diagnostics().Count("(helo)"), 1u);
  EXPECT_EQ(closes, 0);  // no callback starts after the forced stop
}

TEST_F(StopTest, DeadlineReturnsFromRunDespiteAStuckCallback) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.worker_threads = 2;
  o.shutdown_deadline = std::chrono::milliseconds(200);
  Served s(MakeFilterFactory<Stuck>(), o);
  TwoSessions t = Start(s.port());
  s.Stop();  // returns once Run() has returned: after the deadline
  EXPECT_TRUE(s.run_status().ok());
  ExpectAbandoned(s, t);
}

TEST_F(StopTest, SecondStopSkipsTheDrain) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.worker_threads = 2;
  o.shutdown_deadline = std::chrono::hours(1);
  Served s(MakeFilterFactory<Stuck>(), o);
  TwoSessions t = Start(s.port());
  s.runner().Stop();
  ASSERT_TRUE(s.events().WaitForCount("stopping", 1));
  s.runner().Stop();
  s.Join();
  EXPECT_EQ(s.events().Count("force-stop"), 1u);
  ExpectAbandoned(s, t);
}

TEST_F(StopTest, SecondSigtermSkipsTheDrain) {
  test::EventLog events;
  test::EventLog diagnostics;
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.worker_threads = 2;  // one for the stuck callback, one for the rest
  o.shutdown_deadline = std::chrono::hours(1);
  o.diagnostics = diagnostics.Sink();
  Runner runner(MakeFilterFactory<Stuck>(), o);  // handle_signals: true
  runner.SetEventHookForTesting(events.Sink());
  ASSERT_TRUE(runner.Listen().ok());
  absl::Status run_status = absl::UnknownError("not returned");
  std::thread thread([&] { run_status = runner.Run(); });
  // Negotiated: the event loop, and its signal handling, is up.
  TwoSessions t = Start(test::PortOf(runner.bound_specs()[0]));
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  ASSERT_TRUE(events.WaitForCount("stopping", 1));
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  thread.join();
  EXPECT_TRUE(run_status.ok()) << run_status;
  EXPECT_TRUE(t.stuck->ClosedByPeer());
  EXPECT_TRUE(t.idle->ClosedByPeer());
  EXPECT_EQ(diagnostics.Count("abandoning a session"), 1u);
}

TEST_F(StopTest, GracefulStopWithoutStuckCallbacksAbandonsNothing) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.shutdown_deadline = std::chrono::milliseconds(50);
  Served s(sample::MakeSampleFactory(), o);
  auto mta = ConnectTcp(s.port());
  mta->Send(kOffer);
  EXPECT_EQ(mta->ReadUntilVerdict(), "O");
  s.Stop();
  EXPECT_TRUE(mta->ClosedByPeer());
  EXPECT_EQ(s.events().Count("force-stop"), 1u);
  EXPECT_EQ(s.events().Count("abandoned"), 0u);
  EXPECT_EQ(s.diagnostics().Count("abandoning"), 0u);
}

// The forced stop posts Stop() to sessions on other event loops; one may
// end there before the poster lets go of it, so the last reference can be
// dropped by the poster, whose session destructor must not find the
// session list locked (a self-deadlock before).
TEST_F(StopTest, ForcedStopOfManyIdleSessionsOnSeveralLoopsReturns) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.io_threads = 4;
  o.worker_threads = 0;
  o.shutdown_deadline = std::chrono::milliseconds(1);
  for (int round = 0; round < 5; ++round) {
    Served s(sample::MakeSampleFactory(), o);
    std::vector<std::unique_ptr<test::TcpMta>> idle;
    for (int i = 0; i < 40; ++i) {
      idle.push_back(ConnectTcp(s.port()));
      idle.back()->Send(kOffer);
      ASSERT_EQ(idle.back()->ReadUntilVerdict(), "O");
    }
    s.Stop();
    for (auto& mta : idle) EXPECT_TRUE(mta->ClosedByPeer());
  }
}

}  // namespace
}  // namespace milter::client
