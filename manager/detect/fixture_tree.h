// A fixture host for manager/detect's tests: a fresh directory under
// $TEST_TMPDIR in which tests write package files and links, used as the
// detection root.

#ifndef MANAGER_DETECT_FIXTURE_TREE_H_
#define MANAGER_DETECT_FIXTURE_TREE_H_

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace milter::manager::detect_testing {

class FixtureTree {
 public:
  FixtureTree() {
    static int count = 0;
    root_ = ::testing::TempDir() + "/root" + std::to_string(++count) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  const std::string& root() const { return root_; }

  // Writes `text` at `path` (absolute, under the root).
  void Write(const std::string& path, const std::string& text) {
    std::filesystem::path file = root_ + path;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
  }
  // An executable stand-in for a package's daemon.
  void Binary(const std::string& path) { Write(path, "#!/bin/sh\n"); }
  // A symbolic link at `path` to `target`.
  void Link(const std::string& path, const std::string& target) {
    std::filesystem::path link = root_ + path;
    std::filesystem::create_directories(link.parent_path());
    std::filesystem::create_symlink(target, link);
  }
  // The link systemctl enable makes for `service`.
  void EnableUnit(const std::string& service) {
    Link("/etc/systemd/system/multi-user.target.wants/" + service + ".service",
         "/lib/systemd/system/" + service + ".service");
  }
  void Mkdir(const std::string& path) {
    std::filesystem::create_directories(root_ + path);
  }

 private:
  std::string root_;
};

}  // namespace milter::manager::detect_testing

#endif  // MANAGER_DETECT_FIXTURE_TREE_H_
