// The launcher as a real process: it starts a real child milter (the
// sample filter), reports its death by SIGKILL, reports exec failures,
// stops children when asked and when the manager goes, and runs children as
// another user only when it is root.

#include "manager/supervise/launcher.h"

#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/supervise/launcher_process.h"
#include "manager/supervise/launcher_wire.h"
#include "milter/server/blocking_session.h"

namespace milter::manager {
namespace {

using ::testing::HasSubstr;

// The sample filter's absolute path (SAMPLE_FILTER is runfiles-relative).
std::string SampleFilter() {
  char* path = ::realpath(std::getenv("SAMPLE_FILTER"), nullptr);
  std::string result = path != nullptr ? path : "";
  std::free(path);
  return result;
}

std::string TempDir() {
  std::string dir = "/tmp/lchXXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) std::abort();
  return dir;
}

// The next event, failing the test when none comes within 20 seconds.
LaunchEvent NextEvent(Launcher& launcher) {
  absl::StatusOr<std::optional<LaunchEvent>> event =
      launcher.Next(absl::Seconds(20));
  EXPECT_TRUE(event.ok()) << event.status();
  if (!event.ok() || !event->has_value()) {
    ADD_FAILURE() << "no event from the launcher";
    return {};
  }
  return **event;
}

LaunchSpec Spec(std::string command, std::vector<std::string> arguments,
                std::string user = "", std::string directory = "") {
  LaunchSpec spec;
  spec.command = std::move(command);
  spec.arguments = std::move(arguments);
  spec.user = std::move(user);
  spec.working_directory = std::move(directory);
  return spec;
}

// "Uid:" of /proc/PID/status: real, effective, saved, filesystem.
std::string UidLine(int64_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Uid:", 0) == 0) return line;
  }
  return "";
}

TEST(LauncherTest, StartsARealChildMilterAndReportsItsDeath) {
  std::string dir = TempDir();
  auto launcher = Launcher::Start();
  ASSERT_TRUE(launcher.ok()) << launcher.status();
  std::string spec = absl::StrCat("unix:", dir, "/sample.sock");
  LaunchSpec what = Spec(SampleFilter(), {spec}, "", dir);
  what.environment = {"SAMPLE_X=1"};
  ASSERT_TRUE((*launcher)->Launch(7, what).ok());
  LaunchEvent started = NextEvent(**launcher);
  ASSERT_EQ(started.kind, LaunchEvent::Kind::kStarted) << started.detail;
  EXPECT_EQ(started.id, 7u);
  ASSERT_GT(started.pid, 0);
  // It serves milter sessions once it listens (it logs when it does; a
  // session retried until then is how an MTA would find out too).
  absl::Status open;
  for (int i = 0; i < 500; ++i) {
    server::BlockingSession mta;
    open = mta.Open(spec);
    if (open.ok()) {
      EXPECT_TRUE(mta.Quit().ok());
      break;
    }
    ::usleep(20000);
  }
  ASSERT_TRUE(open.ok()) << open;
  ASSERT_EQ(::kill(static_cast<pid_t>(started.pid), SIGKILL), 0);
  LaunchEvent exited = NextEvent(**launcher);
  EXPECT_EQ(exited.kind, LaunchEvent::Kind::kExited);
  EXPECT_EQ(exited.pid, started.pid);
  EXPECT_EQ(exited.detail, "killed by signal 9");
}

TEST(LauncherTest, ReportsWhyAChildCannotStart) {
  auto launcher = Launcher::Start();
  ASSERT_TRUE(launcher.ok());
  ASSERT_TRUE((*launcher)->Launch(1, Spec("/nonexistent/milter", {})).ok());
  LaunchEvent failed = NextEvent(**launcher);
  EXPECT_EQ(failed.kind, LaunchEvent::Kind::kFailed);
  EXPECT_EQ(failed.id, 1u);
  EXPECT_THAT(failed.detail, HasSubstr("cannot execute /nonexistent/milter"));
  LaunchSpec bad_dir = Spec("/bin/true", {}, "", "/nonexistent/dir");
  ASSERT_TRUE((*launcher)->Launch(2, bad_dir).ok());
  failed = NextEvent(**launcher);
  EXPECT_EQ(failed.kind, LaunchEvent::Kind::kFailed);
  EXPECT_THAT(failed.detail, HasSubstr("chdir /nonexistent/dir"));
  ASSERT_TRUE((*launcher)->Launch(3, Spec("/bin/sh", {"-c", "exit 3"})).ok());
  LaunchEvent started = NextEvent(**launcher);
  ASSERT_EQ(started.kind, LaunchEvent::Kind::kStarted);
  LaunchEvent exited = NextEvent(**launcher);
  EXPECT_EQ(exited.pid, started.pid);
  EXPECT_EQ(exited.detail, "exit status 3");
}

TEST(LauncherTest, StopsAChildWithSigtermThenSigkill) {
  auto launcher = Launcher::Start();
  ASSERT_TRUE(launcher.ok());
  // Ignores SIGTERM (and says so through a fifo once it does): only
  // SIGKILL after the grace ends it.
  std::string fifo = TempDir() + "/ready";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  LaunchSpec stubborn = Spec(
      "/bin/sh", {"-c", "trap '' TERM; echo ready > " + fifo + "; sleep 60"});
  ASSERT_TRUE((*launcher)->Launch(1, stubborn).ok());
  LaunchEvent started = NextEvent(**launcher);
  ASSERT_EQ(started.kind, LaunchEvent::Kind::kStarted);
  std::string ready;
  std::ifstream(fifo) >> ready;
  ASSERT_EQ(ready, "ready");
  ASSERT_TRUE((*launcher)->Stop(started.pid, absl::Milliseconds(200)).ok());
  LaunchEvent exited = NextEvent(**launcher);
  EXPECT_EQ(exited.pid, started.pid);
  EXPECT_EQ(exited.detail, "killed by signal 9");
  ASSERT_TRUE((*launcher)->Launch(2, Spec("/bin/sleep", {"60"})).ok());
  started = NextEvent(**launcher);
  ASSERT_TRUE((*launcher)->Stop(started.pid, absl::Seconds(10)).ok());
  exited = NextEvent(**launcher);
  EXPECT_EQ(exited.detail, "killed by signal 15");
}

TEST(LauncherTest, ChildrenStopWhenTheManagerSideGoes) {
  auto launcher = Launcher::Start();
  ASSERT_TRUE(launcher.ok());
  ASSERT_TRUE((*launcher)->Launch(1, Spec("/bin/sleep", {"60"})).ok());
  LaunchEvent started = NextEvent(**launcher);
  ASSERT_EQ(started.kind, LaunchEvent::Kind::kStarted);
  pid_t launcher_pid = (*launcher)->pid();
  launcher->reset();  // waits for the launcher to exit
  EXPECT_NE(::kill(launcher_pid, 0), 0);
  // The child was the launcher's: reaped by it, so gone entirely.
  EXPECT_NE(::kill(static_cast<pid_t>(started.pid), 0), 0);
}

TEST(LauncherTest, RunsAChildAsAnotherUserWhenRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  auto launcher = Launcher::Start();
  ASSERT_TRUE(launcher.ok());
  ASSERT_TRUE(
      (*launcher)->Launch(1, Spec("/bin/sleep", {"60"}, "nobody")).ok());
  LaunchEvent started = NextEvent(**launcher);
  ASSERT_EQ(started.kind, LaunchEvent::Kind::kStarted) << started.detail;
  std::string uid = std::to_string(nobody->pw_uid);
  EXPECT_EQ(UidLine(started.pid),
            absl::StrCat("Uid:\t", uid, "\t", uid, "\t", uid, "\t", uid));
  ASSERT_TRUE((*launcher)->Stop(started.pid, absl::Seconds(5)).ok());
  EXPECT_EQ(NextEvent(**launcher).kind, LaunchEvent::Kind::kExited);
}

// Exit status 0 when a launcher started without root refuses another user
// with the expected error.
int RefusalWithoutRoot() {
  auto launcher = Launcher::Start();
  if (!launcher.ok()) return 2;
  if (!(*launcher)->Launch(1, Spec("/bin/sleep", {"60"}, "root")).ok())
    return 3;
  absl::StatusOr<std::optional<LaunchEvent>> event =
      (*launcher)->Next(absl::Seconds(20));
  if (!event.ok() || !event->has_value()) return 4;
  if ((*event)->kind != LaunchEvent::Kind::kFailed) return 5;
  bool clear = (*event)->detail.find(
                   "needs the manager to be started as "
                   "root") != std::string::npos;
  return clear ? 0 : 6;
}

TEST(LauncherTest, AnotherUserWithoutRootIsAClearError) {
  if (::geteuid() != 0) {
    EXPECT_EQ(RefusalWithoutRoot(), 0);
    return;
  }
  // As root: drop to nobody in a child process first.
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0) {
      ::_exit(1);
    }
    ::_exit(RefusalWithoutRoot());
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Sends `fields` (encoded) or raw bytes over `fd`.
void SendRaw(int fd, const std::string& bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
}

TEST(LauncherProcessTest, IgnoresMalformedRequestsAndKeepsServing) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    launcher_internal::RunLauncherProcess(fds[1]);
  }
  ::close(fds[1]);
  SendRaw(fds[0], "garbage");
  SendRaw(fds[0], std::string(launcher_wire::kMaxWireMessage + 100, '\xff'));
  SendRaw(fds[0], *launcher_wire::Encode({"launch", "1"}));
  SendRaw(fds[0], *launcher_wire::Encode(
                      {"launch", "2", "/bin/true", "", "", "", "99999"}));
  SendRaw(fds[0], *launcher_wire::Encode({"stop", "x", "y"}));
  SendRaw(fds[0], *launcher_wire::Encode({"stop", "1"}));
  SendRaw(fds[0], *launcher_wire::Encode({"unknown"}));
  SendRaw(fds[0], *launcher_wire::Encode({"launch", "3", "/bin/sh", "", "", "",
                                          "2", "-c", "exit 4"}));
  // Two malformed launches are refused by id; then the good one runs.
  std::vector<std::string> got;
  char buffer[4096];
  while (got.size() < 4) {
    ssize_t n = ::recv(fds[0], buffer, sizeof buffer, 0);
    ASSERT_GT(n, 0);
    std::optional<std::vector<std::string>> f =
        launcher_wire::Decode(std::string_view(buffer, n));
    ASSERT_TRUE(f.has_value());
    got.push_back((*f)[0] + " " + (*f)[1] + " " + (*f)[2]);
  }
  EXPECT_EQ(got[0], "failed 1 malformed request");
  EXPECT_EQ(got[1], "failed 2 malformed request");
  EXPECT_THAT(got[2], ::testing::StartsWith("started 3 "));
  EXPECT_THAT(got[3], ::testing::EndsWith(" exit status 4"));
  ::close(fds[0]);  // end of file: it exits
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(LauncherWireTest, RoundTripsAndRefusesMalformedMessages) {
  std::optional<std::string> m = launcher_wire::Encode({"a", "", "bc"});
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(launcher_wire::Decode(*m),
            (std::vector<std::string>{"a", "", "bc"}));
  EXPECT_FALSE(launcher_wire::Decode(m->substr(0, m->size() - 1)));
  EXPECT_FALSE(launcher_wire::Decode(*m + "x"));
  EXPECT_FALSE(launcher_wire::Decode(std::string("\xff\xff", 2)));
  EXPECT_FALSE(launcher_wire::Decode(""));
  EXPECT_FALSE(launcher_wire::Encode(
      {std::string(launcher_wire::kMaxWireMessage, 'x')}));
  EXPECT_FALSE(launcher_wire::ParseNumber("12a"));
  EXPECT_EQ(launcher_wire::ParseNumber("42"), 42);
}

}  // namespace
}  // namespace milter::manager
