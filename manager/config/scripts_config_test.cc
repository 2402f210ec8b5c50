// Script children and script conditions in the configuration: defaults,
// paths relative to the configuration file, and refusals that name the
// field or the script's own line.

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/config/config.h"

namespace milter::manager {
namespace {

using ::testing::HasSubstr;

class ScriptsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/scripts_config.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    std::string cmd = absl::StrCat("rm -rf ", dir_);
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }
  absl::StatusOr<ManagerConfig> Load(const std::string& text) {
    return LoadConfigFile(Write("m.conf", text));
  }
  std::string dir_;
};

TEST_F(ScriptsConfigTest, DefaultsAndPathsRelativeToTheConfiguration) {
  Write("policy.rb", "def on_helo(s) = :continue\n");
  Write("connect.rb", "Pmilter.status = Pmilter::SMFIS_CONTINUE\n");
  Write("cond.rb", "def on_helo(s) = true\n");
  absl::StatusOr<ManagerConfig> c = Load(R"(
    child { name: "policy" script { file: "policy.rb" } }
    child { name: "pm" script { handler { stage: "connect" file: "connect.rb" } }
            applicable_conditions: "c" }
    applicable_condition { name: "c" script { file: "cond.rb" } }
  )");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->child(0).script().file(), dir_ + "/policy.rb");
  EXPECT_EQ(c->child(0).script().time_limit(), 0.1);
  EXPECT_EQ(c->child(0).fallback_status(), config::TEMPFAIL);
  EXPECT_EQ(c->child(1).script().handler(0).file(), dir_ + "/connect.rb");
  EXPECT_EQ(c->applicable_condition(0).script().file(), dir_ + "/cond.rb");
  EXPECT_TRUE(c->applicable_condition(0).script().holds_on_error());
  EXPECT_EQ(c->applicable_condition(0).script().time_limit(), 0.1);
  // The shown configuration loads again as it is.
  absl::StatusOr<ManagerConfig> again =
      ParseConfig(ConfigToText(*c), "shown.conf");
  ASSERT_TRUE(again.ok()) << again.status();
}

TEST_F(ScriptsConfigTest, AScriptThatDoesNotCompileIsRefusedWithItsLine) {
  std::string policy = Write("policy.rb", "def on_helo(s)\n  s.reject(\n");
  absl::Status s =
      Load("child { name: \"policy\" script { file: \"policy.rb\" } }\n")
          .status();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrCat("child \"policy\": ", policy, ":3:")));
  Write("bad.rb", "x = (\n");
  s = Load(
          "child { name: \"pm\" script { handler { stage: \"eom\" file: "
          "\"bad.rb\" } } }\n")
          .status();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrCat("child \"pm\" handler eom: ", dir_,
                                     "/bad.rb:2:")));
}

TEST_F(ScriptsConfigTest, MissingFilesAndBadFieldsAreRefused) {
  auto error = [&](const std::string& text) {
    return std::string(Load(text).status().message());
  };
  EXPECT_THAT(error("child { name: \"p\" script { file: \"none.rb\" } }"),
              HasSubstr(absl::StrCat(dir_, "/none.rb: cannot stat")));
  EXPECT_THAT(error("child { name: \"p\" script {} }"),
              HasSubstr("script needs a file or handlers"));
  Write("p.rb", "");
  EXPECT_THAT(error("child { name: \"p\" connection_spec: \"unix:/x\" "
                    "script { file: \"p.rb\" } }"),
              HasSubstr("a script child has no connection_spec or command"));
  EXPECT_THAT(error("child { name: \"p\" script { handler { stage: \"rcpt\" "
                    "file: \"p.rb\" } } }"),
              HasSubstr("m.conf:1:"));
  EXPECT_THAT(error("child { name: \"p\" script { handler { stage: \"rcpt\" "
                    "file: \"p.rb\" } } }"),
              HasSubstr("unknown handler stage \"rcpt\""));
  EXPECT_THAT(error("child { name: \"p\" script { file: \"p.rb\" "
                    "time_limit: -1 } }"),
              HasSubstr("time_limit must be over 0 and at most 60 seconds"));
  EXPECT_THAT(error("applicable_condition { name: \"c\" script {} }"),
              HasSubstr("script needs a file"));
}

}  // namespace
}  // namespace milter::manager
