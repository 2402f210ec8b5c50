// Applicable conditions and access lists in the configuration: defaults,
// references, and errors that name the line.

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/config/config.h"

namespace milter::manager {
namespace {

using ::testing::HasSubstr;

constexpr char kChildren[] = R"(
  child { name: "s25r-eval" connection_spec: "unix:/run/a.sock"
          evaluation_mode: true }
  child { name: "grey" connection_spec: "unix:/run/b.sock"
          applicable_conditions: "suspicious" }
)";

absl::Status ErrorOf(const std::string& text) {
  return ParseConfig(text, "m.conf").status();
}

TEST(ConditionsConfigTest, DefaultsAreFilledIn) {
  absl::StatusOr<ManagerConfig> c = ParseConfig(absl::StrCat(kChildren, R"(
        applicable_condition { name: "suspicious" s25r {} }
        applicable_condition { name: "bl" dnsbl { zone { zone: "bl.test" } } }
        access { deny { sender: "spam@example.com" } })"),
                                                "m.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->applicable_condition(0).s25r().default_allow_list());
  EXPECT_FALSE(c->applicable_condition(0).s25r().check_ipv6());
  EXPECT_EQ(c->applicable_condition(1).dnsbl().timeout(), 2);
  EXPECT_EQ(c->applicable_condition(1).dnsbl().cache_ttl(), 3600);
  EXPECT_EQ(c->applicable_condition(1).dnsbl().negative_cache_ttl(), 300);
  EXPECT_EQ(c->access().deny_reply(), "550 5.7.1 Access denied");
  std::string text = ConfigToText(*c);
  absl::StatusOr<ManagerConfig> again = ParseConfig(text, "shown.conf");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(ConfigToText(*again), text);
}

TEST(ConditionsConfigTest, CompositesAndChildResultsAreAccepted) {
  absl::StatusOr<ManagerConfig> c = ParseConfig(absl::StrCat(kChildren, R"(
        applicable_condition { name: "s25r" s25r {} }
        applicable_condition { name: "rejected" child_result {
          child: "s25r-eval" stage: CONNECT verdict: REJECT verdict: TEMPFAIL } }
        applicable_condition { name: "not-authenticated" authentication {} }
        applicable_condition { name: "suspicious"
          all_of { name: "rejected" name: "not-authenticated" } }
        applicable_condition { name: "either" any_of { name: "s25r" } }
        applicable_condition { name: "local" not: "either" })"),
                                                "m.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->applicable_condition(3).all_of().name_size(), 2);
  EXPECT_EQ(c->applicable_condition(5).not_(), "either");
}

TEST(ConditionsConfigTest, UnknownConditionNamesTheChildsLine) {
  absl::Status s = ErrorOf(R"(
child { name: "a" connection_spec: "unix:/run/a.sock"
  applicable_conditions: "nope" })");
  EXPECT_THAT(s.message(), HasSubstr("m.conf:3:3: child \"a\": no "
                                     "applicable_condition named \"nope\""));
}

TEST(ConditionsConfigTest, StructuralErrorsAreRefused) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {R"(applicable_condition { name: "x" })", "says nothing to check"},
      {R"(applicable_condition { name: "x" s25r {} }
          applicable_condition { name: "x" s25r {} })",
       "m.conf:2:34: applicable_condition \"x\": name used twice"},
      {R"(applicable_condition { name: "x" not: "y" })",
       "no condition named \"y\""},
      {R"(applicable_condition { name: "x" not: "y" }
          applicable_condition { name: "y" any_of { name: "x" } })",
       "refers to itself"},
      {R"(applicable_condition { name: "x" dnsbl {} })", "needs a zone"},
      {R"(applicable_condition { name: "x" stress {} })", "needs max_sessions"},
      {R"(applicable_condition { name: "x" message_size {} })",
       "needs max_bytes"},
      {R"(applicable_condition { name: "x" child_result { child: "z"
            stage: CONNECT verdict: REJECT } })",
       "no child named \"z\""},
      {R"(child { name: "a" connection_spec: "unix:/a" }
          applicable_condition { name: "x" child_result { child: "a"
            stage: END_OF_MESSAGE verdict: REJECT } })",
       "stage must be one of"},
      {R"(child { name: "a" connection_spec: "unix:/a"
            applicable_conditions: "x" }
          child { name: "b" connection_spec: "unix:/b" }
          applicable_condition { name: "x" child_result { child: "b"
            stage: CONNECT verdict: REJECT } })",
       "depends on child \"b\", which must be listed before it"},
      {R"(access { deny_reply: "ok" })", "4xx or 5xx"},
  };
  for (const Case& c : cases) {
    absl::Status s = ErrorOf(c.text);
    EXPECT_FALSE(s.ok()) << c.text;
    EXPECT_THAT(s.message(), HasSubstr(c.error)) << c.text;
  }
}

}  // namespace
}  // namespace milter::manager
