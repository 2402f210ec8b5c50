// At the open-file limit the runner cannot accept: it says so once through
// RunnerOptions::diagnostics, keeps retrying, says when accepting resumes,
// and serves the connection that waited in the backlog. A test binary of its
// own: it lowers RLIMIT_NOFILE for the whole process while it runs.

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "milter/client/filter_factory.h"
#include "milter/client/runner.h"
#include "milter/client/runner_test_util.h"

namespace milter::client {
namespace {

using test::kOffer;
using test::Served;
using ::testing::HasSubstr;

class Plain : public CoroutineFilter {};

int OpenDescriptors() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

TEST(RunnerFdLimitTest, OpenFileLimitIsReportedOnceAndAcceptingResumes) {
  RunnerOptions o;
  o.listen = {test::FreeInet()};
  Served s(MakeFilterFactory<Plain>(), o);
  ASSERT_TRUE(s.listen_status().ok()) << s.listen_status();
  // The MTA's socket exists before the descriptors run out.
  asio::ip::tcp::socket client(test::Io());
  client.open(asio::ip::tcp::v4());

  rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, OpenDescriptors() + 64);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> filler;
  while (true) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    filler.push_back(fd);
  }
  ASSERT_EQ(errno, EMFILE);

  client.connect({asio::ip::make_address("127.0.0.1"), s.port()});
  // Several failed accepts, one line.
  ASSERT_TRUE(s.events().WaitForCount("accept-error", 3));
  EXPECT_EQ(s.diagnostics().Count("cannot accept connections"), 1u);
  EXPECT_THAT(s.diagnostics().Lines().at(0), HasSubstr("Too many open files"));
  EXPECT_THAT(s.diagnostics().Lines().at(0),
              HasSubstr(s.runner().bound_specs()[0]));
  EXPECT_EQ(s.runner().total_sessions(), 0u);

  for (int fd : filler) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(s.diagnostics().WaitForCount("again", 1));
  EXPECT_EQ(s.diagnostics().Count("cannot accept connections"), 1u);
  test::TcpMta mta(std::move(client));
  mta.Send(kOffer);
  EXPECT_EQ(mta.ReadUntilVerdict(), "O");
  mta.Send(codec::Quit{});
  EXPECT_TRUE(mta.ClosedByPeer());
}

}  // namespace
}  // namespace milter::client
