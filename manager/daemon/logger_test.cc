// Logger to a file: levels, whole lines, reopening after rotation, and a
// clear error for a file that cannot be opened.

#include "manager/daemon/logger.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace milter::manager {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string TempDir() {
  std::string dir = "/tmp/loggerXXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) std::abort();
  return dir;
}

config::ManagerConfig ToFile(const std::string& path, config::LogLevel level) {
  config::ManagerConfig c;
  c.set_log_destination(path);
  c.set_log_level(level);
  return c;
}

TEST(LoggerTest, FileGetsLinesAtOrAboveTheLevelWithTimeAndPid) {
  std::string path = TempDir() + "/m.log";
  auto logger = Logger::Create(ToFile(path, config::INFO));
  ASSERT_TRUE(logger.ok()) << logger.status();
  (*logger)->Log(config::INFO, "session client=x");
  (*logger)->Log(config::DEBUG, "not wanted");
  (*logger)->Log(config::ERROR, "broken");
  (*logger)->SetLevel(config::DEBUG);
  (*logger)->Log(config::DEBUG, "now wanted");
  std::string text = Read(path);
  EXPECT_THAT(text, Not(HasSubstr("not wanted")));
  std::istringstream lines(text);
  std::string line;
  std::vector<std::string> all;
  while (std::getline(lines, line)) all.push_back(line);
  ASSERT_EQ(all.size(), 3u) << text;
  EXPECT_THAT(all[0], MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z "
                                   "milter-manager\\[[0-9]+\\]: info: session "
                                   "client=x"));
  EXPECT_THAT(all[1], HasSubstr(": error: broken"));
  EXPECT_THAT(all[2], HasSubstr(": debug: now wanted"));
  EXPECT_EQ((*logger)->destination(), path);
}

TEST(LoggerTest, ReopenFollowsRotation) {
  std::string path = TempDir() + "/m.log";
  auto logger = Logger::Create(ToFile(path, config::INFO));
  ASSERT_TRUE(logger.ok()) << logger.status();
  (*logger)->Log(config::INFO, "before");
  ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
  (*logger)->Log(config::INFO, "still old");
  ASSERT_TRUE((*logger)->Reopen().ok());
  (*logger)->Log(config::INFO, "after");
  EXPECT_THAT(Read(path + ".1"), HasSubstr("still old"));
  EXPECT_THAT(Read(path), HasSubstr("after"));
  EXPECT_THAT(Read(path), Not(HasSubstr("before")));
}

TEST(LoggerTest, LinesFromManyThreadsStayWhole) {
  std::string path = TempDir() + "/m.log";
  auto logger = Logger::Create(ToFile(path, config::INFO));
  ASSERT_TRUE(logger.ok()) << logger.status();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        (*logger)->Log(config::INFO,
                       std::string(100, static_cast<char>('a' + t)));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::istringstream lines(Read(path));
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    EXPECT_THAT(line, MatchesRegex(".*: info: (a{100}|b{100}|c{100}|d{100})"));
  }
  EXPECT_EQ(count, 2000);
}

TEST(LoggerTest, AFileThatCannotBeOpenedIsNamed) {
  auto logger = Logger::Create(ToFile("/nonexistent/dir/m.log", config::INFO));
  ASSERT_FALSE(logger.ok());
  EXPECT_THAT(std::string(logger.status().message()),
              HasSubstr("/nonexistent/dir/m.log: cannot open"));
}

TEST(LoggerTest, StderrAndSyslogDescribeThemselves) {
  config::ManagerConfig c;
  c.set_log_destination("stderr");
  EXPECT_EQ((*Logger::Create(c))->destination(), "stderr");
  c.set_log_destination("syslog");
  c.set_syslog_facility("local3");
  EXPECT_EQ((*Logger::Create(c))->destination(), "syslog (local3)");
}

}  // namespace
}  // namespace milter::manager
