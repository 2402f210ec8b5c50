// Tests of the tools' shared command-line rewriting: short options, dashed
// long names, missing values and "--".

#include "tools/common/command_line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace milter_tools {
namespace {

std::vector<std::string> Rewrite(std::vector<std::string> in) {
  std::vector<char*> argv;
  for (std::string& s : in) argv.push_back(s.data());
  return RewriteToolArgs(
      static_cast<int>(argv.size()), argv.data(),
      {{'s', "connection_spec", true}, {'v', "verbose", false}});
}

TEST(RewriteToolArgsTest, ShortOptionsBecomeFlags) {
  EXPECT_EQ(Rewrite({"prog", "-s", "unix:/a", "-v"}),
            (std::vector<std::string>{"prog", "--connection_spec=unix:/a",
                                      "--verbose"}));
  EXPECT_EQ(Rewrite({"prog", "-sunix:/a"}),
            (std::vector<std::string>{"prog", "--connection_spec=unix:/a"}));
  EXPECT_EQ(Rewrite({"prog", "-s=inet:25"}),
            (std::vector<std::string>{"prog", "--connection_spec=inet:25"}));
}

TEST(RewriteToolArgsTest, DashesInNamesButNotInValues) {
  EXPECT_EQ(Rewrite({"prog", "--connection-spec=unix:/a-b", "--n-x"}),
            (std::vector<std::string>{"prog", "--connection_spec=unix:/a-b",
                                      "--n_x"}));
}

TEST(RewriteToolArgsTest, MissingValueAndDoubleDash) {
  EXPECT_EQ(Rewrite({"prog", "-s"}),
            (std::vector<std::string>{"prog", "--connection_spec"}));
  EXPECT_EQ(Rewrite({"prog", "--", "-s", "--a-b"}),
            (std::vector<std::string>{"prog", "--", "-s", "--a-b"}));
  EXPECT_EQ(Rewrite({"prog", "-x"}), (std::vector<std::string>{"prog", "-x"}));
}

}  // namespace
}  // namespace milter_tools
