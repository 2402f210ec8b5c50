// The Supervisor with real processes: a launched sample filter killed with
// SIGKILL is restarted (new pid, up again, serving sessions); a command
// that exits at once is restarted with a doubling delay; and the circuit
// breaker in real manager sessions: a hung child (it accepts connections but
// never answers) is down after circuit_failures sessions, later sessions
// give its fallback without trying it, and a probe puts it back up once it
// answers. Everything waits on log lines or milter answers, not on time.

#include "manager/supervise/supervisor.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/config/config.h"
#include "manager/core/manager_session.h"
#include "manager/core/scripted_child.h"
#include "manager/core/test_manager.h"
#include "milter/client/runner.h"
#include "milter/server/blocking_session.h"

namespace milter::manager {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

// The log lines, for tests to wait on.
class Lines {
 public:
  Supervisor::Log Sink() {
    return [this](config::LogLevel, std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
      changed_.notify_all();
    };
  }
  // Waits (up to 60 s) until `count` lines contain `needle`.
  bool WaitFor(const std::string& needle, size_t count = 1) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(60),
                             [&] { return CountLocked(needle) >= count; });
  }
  std::vector<std::string> Matching(const std::string& needle) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const std::string& l : lines_) {
      if (l.find(needle) != std::string::npos) out.push_back(l);
    }
    return out;
  }

 private:
  size_t CountLocked(const std::string& needle) {
    size_t n = 0;
    for (const std::string& l : lines_) n += l.find(needle) != l.npos;
    return n;
  }
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
};

std::shared_ptr<const config::ManagerConfig> Config(const std::string& text) {
  absl::StatusOr<config::ManagerConfig> c = ParseConfig(text, "test.conf");
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) std::abort();
  return std::make_shared<const config::ManagerConfig>(*std::move(c));
}

std::string SampleFilter() {
  char* path = ::realpath(std::getenv("SAMPLE_FILTER"), nullptr);
  std::string result = path != nullptr ? path : "";
  std::free(path);
  return result;
}

TEST(SupervisorTest, RestartsAKilledChildMilter) {
  std::string dir = TempDir();
  std::string spec = absl::StrCat("unix:", dir, "/sample.sock");
  auto launcher = Launcher::Start();
  ASSERT_TRUE(launcher.ok()) << launcher.status();
  Lines lines;
  auto health = std::make_shared<HealthRegistry>();
  Supervisor supervisor(health, *std::move(launcher), lines.Sink(),
                        absl::Seconds(2));
  supervisor.Configure(Config(absl::StrCat(
      "restart_backoff_initial: 0.05\n", "child { name: \"sample\" ",
      "connection_spec: \"", spec, "\" command: \"", SampleFilter(),
      "\" arguments: \"", spec, "\" }\n")));
  ASSERT_TRUE(lines.WaitFor("is up on"));
  std::vector<ChildState> states = supervisor.Snapshot();
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].name, "sample");
  EXPECT_EQ(states[0].health, ChildState::Health::kUp);
  EXPECT_TRUE(states[0].launched);
  EXPECT_EQ(states[0].restarts, 0u);
  int64_t first = states[0].pid;
  ASSERT_GT(first, 0);

  ASSERT_EQ(::kill(static_cast<pid_t>(first), SIGKILL), 0);
  ASSERT_TRUE(lines.WaitFor("is up on", 2));
  states = supervisor.Snapshot();
  EXPECT_EQ(states[0].health, ChildState::Health::kUp);
  EXPECT_EQ(states[0].restarts, 1u);
  EXPECT_GT(states[0].pid, 0);
  EXPECT_NE(states[0].pid, first);
  EXPECT_THAT(states[0].last_error, HasSubstr("killed by signal 9"));
  EXPECT_THAT(lines.Matching("restarting in"),
              ::testing::ElementsAre(HasSubstr("killed by signal 9")));
  // The new one serves milter sessions.
  server::BlockingSession mta;
  ASSERT_TRUE(mta.Open(spec).ok());
  EXPECT_TRUE(mta.Quit().ok());

  int64_t second = states[0].pid;
  supervisor.Stop();
  EXPECT_EQ(supervisor.Snapshot()[0].pid, 0);
  EXPECT_NE(::kill(static_cast<pid_t>(second), 0), 0);  // stopped and reaped
}

TEST(SupervisorTest, RestartsACrashingCommandWithGrowingDelays) {
  auto launcher = Launcher::Start();
  ASSERT_TRUE(launcher.ok());
  Lines lines;
  auto health = std::make_shared<HealthRegistry>();
  Supervisor supervisor(health, *std::move(launcher), lines.Sink());
  supervisor.Configure(Config(
      "restart_backoff_initial: 0.01 restart_backoff_maximum: 0.08\n"
      "child { name: \"crash\" connection_spec: \"unix:/nonexistent/s\" "
      "command: \"/bin/sh\" arguments: \"-c\" arguments: \"exit 1\" }\n"));
  ASSERT_TRUE(lines.WaitFor("restarting in", 6));
  std::vector<std::string> delays;
  for (const std::string& line : lines.Matching("restarting in")) {
    EXPECT_THAT(line, HasSubstr("exited: exit status 1"));
    delays.push_back(line.substr(line.rfind(' ') + 1));
  }
  delays.resize(6);
  EXPECT_THAT(delays, ::testing::ElementsAre("10ms", "20ms", "40ms", "80ms",
                                             "80ms", "80ms"));
  ChildState state = supervisor.Snapshot()[0];
  EXPECT_TRUE(state.launched);
  EXPECT_GE(state.restarts, 5u);
  EXPECT_NE(state.health, ChildState::Health::kUp);
}

TEST(SupervisorTest, ACommandWithoutLauncherIsDown) {
  Lines lines;
  auto health = std::make_shared<HealthRegistry>();
  Supervisor supervisor(health, nullptr, lines.Sink());
  supervisor.Configure(
      Config("child { name: \"x\" connection_spec: \"unix:/nonexistent/s\" "
             "command: \"/bin/true\" }\n"));
  ASSERT_TRUE(lines.WaitFor("started no launcher"));
  EXPECT_EQ(supervisor.Snapshot()[0].health, ChildState::Health::kDown);
}

TEST(SupervisorTest, AReloadRestartsChangedAndStopsRemovedChildren) {
  auto launcher = Launcher::Start();
  ASSERT_TRUE(launcher.ok());
  Lines lines;
  auto health = std::make_shared<HealthRegistry>();
  Supervisor supervisor(health, *std::move(launcher), lines.Sink());
  auto child = [](const std::string& seconds) {
    return absl::StrCat(
        "child_start_timeout: 3600\n"
        "child { name: \"s\" connection_spec: \"unix:/nonexistent/s\" "
        "command: \"/bin/sleep\" arguments: \"",
        seconds, "\" }\n");
  };
  supervisor.Configure(Config(child("600")));
  ASSERT_TRUE(lines.WaitFor("child s started"));
  int64_t first = supervisor.Snapshot()[0].pid;
  supervisor.Configure(Config(child("601")));  // changed: restarted
  ASSERT_TRUE(lines.WaitFor("child s started", 2));
  EXPECT_EQ(lines.Matching("exited: killed by signal 15").size(), 1u);
  EXPECT_TRUE(lines.Matching("restarting in").empty());
  ChildState state = supervisor.Snapshot()[0];
  EXPECT_NE(state.pid, first);
  EXPECT_EQ(state.health, ChildState::Health::kStarting);
  supervisor.Configure(Config(""));  // removed: stopped
  ASSERT_TRUE(lines.WaitFor("exited: killed by signal 15", 2));
  EXPECT_TRUE(supervisor.Snapshot().empty());
  EXPECT_NE(::kill(static_cast<pid_t>(state.pid), 0), 0);
  // Removed and added back before it stopped: started again after.
  supervisor.Configure(Config(child("602")));
  ASSERT_TRUE(lines.WaitFor("child s started", 3));
  supervisor.Configure(Config(""));
  supervisor.Configure(Config(child("603")));
  ASSERT_TRUE(lines.WaitFor("child s started", 4));
  EXPECT_EQ(lines.Matching("exited: killed by signal 15").size(), 3u);
  EXPECT_EQ(supervisor.Snapshot().size(), 1u);
}

// A manager (ManagerSessions on a client::Runner) sharing `health`.
class ManagerWithHealth {
 public:
  ManagerWithHealth(std::shared_ptr<const config::ManagerConfig> config,
                    std::shared_ptr<HealthRegistry> health, LogSink log) {
    auto shared = std::make_shared<ManagerShared>();
    shared->config = config;
    shared->health = std::move(health);
    shared->log = std::move(log);
    std::shared_ptr<const ManagerShared> for_sessions = shared;
    client::RunnerOptions options;
    options.listen = {config->connection_spec()};
    options.worker_threads = 0;
    options.io_threads = 1;
    options.handle_signals = false;
    runner_ = std::make_unique<client::Runner>(
        client::MakeFilterFactory<ManagerSession>(
            std::function<std::unique_ptr<ManagerSession>()>([for_sessions] {
              return std::make_unique<ManagerSession>(for_sessions);
            })),
        options);
    EXPECT_TRUE(runner_->Listen().ok());
    thread_ = std::thread([this] { (void)runner_->Run(); });
  }
  ~ManagerWithHealth() {
    runner_->Stop();
    thread_.join();
  }

 private:
  std::unique_ptr<client::Runner> runner_;
  std::thread thread_;
};

// One MTA session to `spec`: the answer to the connect stage.
server::Decision ConnectVerdict(const std::string& spec) {
  server::BlockingSession mta;
  if (!mta.Open(spec).ok()) return server::Decision::kConnectionFail;
  absl::StatusOr<server::Verdict> v = mta.Connect(testing::Client());
  (void)mta.Quit();
  return v.ok() ? v->decision : server::Decision::kConnectionFail;
}

// A unix socket that accepts connections (the kernel does, into the
// backlog) but never reads or answers: a hung child milter.
int HungChild(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::listen(fd, 128), 0);
  return fd;
}

TEST(CircuitBreakerTest, AHungChildIsDownThenUpAgainWhenItAnswers) {
  std::string dir = TempDir();
  int hung = HungChild(dir + "/child.sock");
  auto config = Config(absl::StrCat(
      "connection_spec: \"unix:", dir, "/m.sock\"\n",
      "circuit_failures: 2 circuit_probe_interval: 0.05\n",
      "child { name: \"child\" connection_spec: \"unix:", dir,
      "/child.sock\" fallback_status: TEMPFAIL reading_timeout: 0.2 }\n"));
  Lines lines;
  auto health = std::make_shared<HealthRegistry>();
  Supervisor supervisor(health, nullptr, lines.Sink());
  supervisor.Configure(config);
  ManagerWithHealth manager(config, health, lines.Sink());
  std::string spec = absl::StrCat("unix:", dir, "/m.sock");

  // Two sessions wait for its timeout and fail: the circuit opens.
  EXPECT_EQ(ConnectVerdict(spec), server::Decision::kTempfail);
  EXPECT_EQ(health->Snapshot()[0].health, ChildState::Health::kUp);
  EXPECT_EQ(ConnectVerdict(spec), server::Decision::kTempfail);
  ChildState state = health->Snapshot()[0];
  EXPECT_EQ(state.health, ChildState::Health::kDown);
  EXPECT_EQ(state.failures, 2u);
  EXPECT_THAT(state.last_error, HasSubstr("no answer within 200ms"));
  ASSERT_TRUE(lines.WaitFor("is down after 2 failures"));

  // Later sessions give its fallback at once, without trying it.
  EXPECT_EQ(ConnectVerdict(spec), server::Decision::kTempfail);
  EXPECT_EQ(ConnectVerdict(spec), server::Decision::kTempfail);
  EXPECT_EQ(lines.Matching("is not available: down: ").size(), 2u);
  EXPECT_EQ(health->Snapshot()[0].failures, 2u);

  // It answers again (a real child milter at its socket): a probe closes
  // the circuit and sessions use it.
  ::close(hung);
  ::unlink((dir + "/child.sock").c_str());
  testing::ScriptedChild child(dir, "child", {});
  ASSERT_TRUE(lines.WaitFor("child child answers again"));
  EXPECT_EQ(health->Snapshot()[0].health, ChildState::Health::kUp);
  EXPECT_EQ(ConnectVerdict(spec), server::Decision::kContinue);
  EXPECT_TRUE(child.log().WaitFor("connect mx.example.net"));
  state = health->Snapshot()[0];
  EXPECT_EQ(state.sessions, 1u);
  EXPECT_EQ(state.failures, 2u);
  EXPECT_GT(state.mean_latency, absl::ZeroDuration());
}

}  // namespace
}  // namespace milter::manager
