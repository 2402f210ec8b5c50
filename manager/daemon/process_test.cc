// PidFile, account look-up, the user switch (as root: in a forked child,
// to nobody) and the open-file limit.

#include "manager/daemon/process.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace milter::manager {
namespace {

using ::testing::HasSubstr;

std::string TempDir() {
  std::string dir = "/tmp/processXXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) std::abort();
  return dir;
}

TEST(PidFileTest, HoldsThePidLocksOutASecondAndIsRemoved) {
  std::string path = TempDir() + "/m.pid";
  {
    auto held = PidFile::Create(path);
    ASSERT_TRUE(held.ok()) << held.status();
    std::ifstream in(path);
    std::string pid;
    in >> pid;
    EXPECT_EQ(pid, absl::StrCat(::getpid()));
    // flock locks belong to the open file: a second open is refused.
    auto second = PidFile::Create(path);
    ASSERT_FALSE(second.ok());
    EXPECT_THAT(std::string(second.status().message()),
                HasSubstr(absl::StrCat("another milter-manager holds it (PID ",
                                       ::getpid(), ")")));
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  // A stale file (no process holds it) is taken over.
  std::ofstream(path) << "999999\n";
  auto again = PidFile::Create(path);
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST(PidFileTest, AnUnwritablePlaceIsNamed) {
  auto held = PidFile::Create("/nonexistent/dir/m.pid");
  ASSERT_FALSE(held.ok());
  EXPECT_THAT(std::string(held.status().message()),
              HasSubstr("pid_file /nonexistent/dir/m.pid: cannot open"));
}

TEST(AccountTest, NamesAndNumbersResolve) {
  auto root = LookUpAccount("root", "");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->gid, 0u);
  auto numeric = LookUpAccount("0", "12345");
  ASSERT_TRUE(numeric.ok()) << numeric.status();
  EXPECT_EQ(numeric->uid, 0u);
  EXPECT_EQ(numeric->gid, 12345u);
  auto missing = LookUpAccount("no-such-user-here", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("user no-such-user-here: no such user"));
  auto bad_group = LookUpAccount("root", "no-such-group-here");
  ASSERT_FALSE(bad_group.ok());
  EXPECT_THAT(std::string(bad_group.status().message()),
              HasSubstr("group no-such-group-here: no such group"));
}

// Runs `body` in a forked child; its exit status.
template <typename Body>
int InChild(Body body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(SwitchUserTest, BecomesTheUserForGoodOrSaysWhyNot) {
  auto nobody = LookUpAccount("nobody", "");
  ASSERT_TRUE(nobody.ok()) << nobody.status();
  if (::geteuid() != 0) {
    absl::Status s = SwitchUser(*nobody);
    ASSERT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), HasSubstr("only root may switch"));
    return;
  }
  int status = InChild([&] {
    if (!SwitchUser(*nobody).ok()) return 1;
    if (::getuid() != nobody->uid || ::geteuid() != nobody->uid) return 2;
    if (::getgid() != nobody->gid || ::getegid() != nobody->gid) return 3;
    if (::setuid(0) == 0) return 4;
    // Once switched, switching again to another user is refused.
    Account root;
    if (SwitchUser(root).ok()) return 5;
    // And to the same account is a no-op.
    return SwitchUser(*nobody).ok() ? 0 : 6;
  });
  EXPECT_EQ(status, 0);
}

TEST(OpenFileLimitTest, RaisesToTheHardLimitOrTheWantedValue) {
  struct rlimit before;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  auto lowered = RaiseOpenFileLimit(256);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  EXPECT_EQ(*lowered, std::min<uint64_t>(256, before.rlim_max));
  auto raised = RaiseOpenFileLimit(0);
  ASSERT_TRUE(raised.ok()) << raised.status();
  EXPECT_EQ(*raised, before.rlim_max);
  struct rlimit after;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, before.rlim_max);
}

}  // namespace
}  // namespace milter::manager
