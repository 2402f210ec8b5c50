// Each built-in condition and the combinators, evaluated directly with the
// facts of a session: when they decide, what, and why.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/conditions/condition_set.h"
#include "manager/config/config.h"
#include "manager/dns/test_dns_server.h"

namespace milter::manager::conditions {
namespace {

using ::testing::HasSubstr;

// One child "c" under the named conditions.
std::shared_ptr<const ConditionSet> Set(const std::string& conditions,
                                        const std::string& names) {
  std::string text = absl::StrCat(
      conditions, "child { name: \"e\" connection_spec: \"unix:/e\" }\n",
      "child { name: \"c\" connection_spec: \"unix:/c\" ", names, " }\n");
  absl::StatusOr<config::ManagerConfig> c = ParseConfig(text, "t");
  EXPECT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::shared_ptr<const ConditionSet>> set =
      ConditionSet::Build(*c);
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? *set : nullptr;
}

ChildDecision Decide(ConditionState& state, Stage stage, const Facts& facts) {
  asio::io_context io;
  return dns::testing::RunUntilDone(io, state.Evaluate(1, stage, facts));
}

Facts Client(const char* host, const char* address) {
  Facts f;
  f.client_host = host;
  f.client_address = address;
  return f;
}

TEST(ConditionTest, AuthenticationDecidesAtMail) {
  auto set = Set("applicable_condition { name: \"u\" authentication {} }\n",
                 "applicable_conditions: \"u\"");
  codec::MacroMap macros;
  Facts f = Client("h", "192.0.2.1");
  f.macros = &macros;
  ConditionState s(set.get());
  EXPECT_EQ(Decide(s, config::CONNECT, f).verdict, Decision::kUndecided);
  EXPECT_EQ(Decide(s, config::ENVELOPE_FROM, f).verdict, Decision::kHolds);
  macros.Set(codec::MacroStage::kMail, "{auth_authen}", "bob");
  s.NewMessage();  // decided per message
  ChildDecision d = Decide(s, config::ENVELOPE_FROM, f);
  EXPECT_EQ(d.verdict, Decision::kFails);
  EXPECT_EQ(d.scope, Scope::kMessage);
  EXPECT_THAT(d.reason, HasSubstr("authenticated as \"bob\""));
}

TEST(ConditionTest, S25rUnresolvedAndIpv6) {
  auto set = Set("applicable_condition { name: \"s\" s25r {} }\n",
                 "applicable_conditions: \"s\"");
  ConditionState unresolved(set.get());
  ChildDecision d =
      Decide(unresolved, config::CONNECT, Client("[192.0.2.1]", "192.0.2.1"));
  EXPECT_EQ(d.verdict, Decision::kHolds);  // suspicious: the child runs
  EXPECT_EQ(d.scope, Scope::kSession);
  ConditionState v6(set.get());
  d = Decide(v6, config::CONNECT,
             Client("dhcp-1.example.net", "IPv6:2001:db8::1"));
  EXPECT_EQ(d.verdict, Decision::kFails);  // IPv6 not checked by default
  EXPECT_THAT(d.reason, HasSubstr("IPv6"));
}

TEST(ConditionTest, RemoteNetworkIpv4AndIpv6) {
  auto set =
      Set("applicable_condition { name: \"r\" remote_network {"
          " local_network: \"2001:db8:1::/48\" local_network: \"192.0.2.0/24\" "
          "} }\n",
          "applicable_conditions: \"r\"");
  for (auto [address, remote] :
       {std::pair{"IPv6:2001:db8:1::5", false},
        std::pair{"IPv6:2001:db8:2::5", true}, std::pair{"192.0.2.9", false},
        std::pair{"198.51.100.9", true}, std::pair{"", false}}) {
    ConditionState s(set.get());
    EXPECT_EQ(Decide(s, config::CONNECT, Client("h", address)).verdict,
              remote ? Decision::kHolds : Decision::kFails)
        << address;
  }
}

TEST(ConditionTest, TrustedSenderDomains) {
  auto set =
      Set("applicable_condition { name: \"t\" trusted_sender_domains {"
          " domain: \"example.com\" domain: \".example.org\" } }\n",
          "applicable_conditions: \"t\"");
  for (auto [from, trusted] :
       {std::pair{"<a@Example.COM>", true},
        std::pair{"<a@mx.example.org>", true},
        std::pair{"<a@example.net>", false}, std::pair{"<>", false}}) {
    ConditionState s(set.get());
    Facts f = Client("h", "192.0.2.1");
    f.envelope_from = from;
    EXPECT_EQ(Decide(s, config::ENVELOPE_FROM, f).verdict,
              trusted ? Decision::kFails : Decision::kHolds)
        << from;
  }
}

TEST(ConditionTest, RestrictAccountsPerRecipientThenForTheMessage) {
  auto set =
      Set("applicable_condition { name: \"a\" restrict_accounts {"
          " account: \"b@example.org\" } }\n",
          "applicable_conditions: \"a\"");
  ConditionState s(set.get());
  std::vector<std::string> rcpts = {"<x@example.org>"};
  Facts f = Client("h", "192.0.2.1");
  f.recipients = &rcpts;
  f.recipient = "<x@example.org>";
  ChildDecision d = Decide(s, config::ENVELOPE_RECIPIENT, f);
  EXPECT_EQ(d.verdict, Decision::kFails);
  EXPECT_EQ(d.scope, Scope::kRecipient);
  rcpts.push_back("<B@example.org>");
  f.recipient = "<B@example.org>";
  EXPECT_EQ(Decide(s, config::ENVELOPE_RECIPIENT, f).verdict, Decision::kHolds);
  EXPECT_EQ(Decide(s, config::DATA, f).verdict, Decision::kHolds);
  rcpts = {"<x@example.org>"};
  s.NewMessage();
  EXPECT_EQ(Decide(s, config::DATA, f).verdict, Decision::kFails);
}

TEST(ConditionTest, StressAndMessageSize) {
  auto set = Set(
      "applicable_condition { name: \"s\" stress { max_sessions: 2 } }\n"
      "applicable_condition { name: \"m\" message_size { max_bytes: 100 } }\n",
      "applicable_conditions: \"s\" applicable_conditions: \"m\"");
  Facts f = Client("h", "192.0.2.1");
  f.active_sessions = 3;
  ConditionState busy(set.get());
  EXPECT_EQ(Decide(busy, config::CONNECT, f).verdict, Decision::kFails);
  f.active_sessions = 2;
  ConditionState s(set.get());
  EXPECT_EQ(Decide(s, config::CONNECT, f).verdict, Decision::kUndecided);
  f.declared_size = 50;
  EXPECT_EQ(Decide(s, config::ENVELOPE_FROM, f).verdict, Decision::kHolds);
  s.NewMessage();
  f.declared_size = 0;
  f.body_bytes = 80;
  EXPECT_EQ(Decide(s, config::BODY, f).verdict, Decision::kUndecided);
  f.body_bytes = 120;
  EXPECT_EQ(Decide(s, config::BODY, f).verdict, Decision::kFails);
}

TEST(ConditionTest, ChildResultWaitsForItsStage) {
  auto set =
      Set("applicable_condition { name: \"r\" child_result { child: \"e\""
          " stage: HELO verdict: REJECT } }\n",
          "applicable_conditions: \"r\"");
  EXPECT_EQ(set->DependenciesOf(1), std::vector<int>{0});
  std::optional<codec::Status> helo;
  Facts f = Client("h", "192.0.2.1");
  f.child_verdict = [&](std::string_view child,
                        Stage stage) -> std::optional<codec::Status> {
    if (child == "e" && stage == config::HELO) return helo;
    return std::nullopt;
  };
  ConditionState s(set.get());
  EXPECT_EQ(Decide(s, config::CONNECT, f).verdict, Decision::kUndecided);
  ChildDecision d = Decide(s, config::HELO, f);  // e gave no answer
  EXPECT_EQ(d.verdict, Decision::kFails);
  EXPECT_THAT(d.reason, HasSubstr("gave no answer"));
  ConditionState t(set.get());
  helo = codec::Status::kReject;
  EXPECT_EQ(Decide(t, config::HELO, f).verdict, Decision::kHolds);
}

TEST(ConditionTest, CombinatorsStayUndecidedUntilTheyCanDecide) {
  auto set =
      Set("applicable_condition { name: \"auth\" authentication {} }\n"
          "applicable_condition { name: \"remote\" remote_network {} }\n"
          "applicable_condition { name: \"any\" any_of { name: \"auth\""
          " name: \"remote\" } }\n"
          "applicable_condition { name: \"all\" all_of { name: \"auth\""
          " name: \"remote\" } }\n"
          "applicable_condition { name: \"none\" not: \"any\" }\n",
          "applicable_conditions: \"none\"");
  codec::MacroMap macros;
  Facts f = Client("h", "10.0.0.1");  // local: remote fails
  f.macros = &macros;
  ConditionState s(set.get());
  // any_of(auth?, remote=no): open until auth decides.
  EXPECT_EQ(Decide(s, config::CONNECT, f).verdict, Decision::kUndecided);
  ChildDecision d = Decide(s, config::ENVELOPE_FROM, f);  // auth holds
  EXPECT_EQ(d.verdict, Decision::kFails);
  EXPECT_THAT(d.reason, HasSubstr("not any"));
  auto all =
      Set("applicable_condition { name: \"auth\" authentication {} }\n"
          "applicable_condition { name: \"remote\" remote_network {} }\n"
          "applicable_condition { name: \"all\" all_of { name: \"auth\""
          " name: \"remote\" } }\n",
          "applicable_conditions: \"all\"");
  ConditionState t(all.get());
  // all_of(auth?, remote=no) fails at once.
  EXPECT_EQ(Decide(t, config::CONNECT, f).verdict, Decision::kFails);
}

TEST(ConditionTest, BadEntriesAreRefusedWithTheConditionsName) {
  absl::StatusOr<config::ManagerConfig> c = ParseConfig(
      "applicable_condition { name: \"s\" s25r { allow: \"/(/\" } }\n", "t");
  ASSERT_TRUE(c.ok()) << c.status();
  absl::Status s = ConditionSet::Build(*c).status();
  EXPECT_THAT(s.message(), HasSubstr("applicable_condition \"s\": allow:"));
  c = ParseConfig(
      "applicable_condition { name: \"d\" dnsbl { zone { zone: \"z\""
      " expected: \"300.0.0.1\" } } }\n",
      "t");
  ASSERT_TRUE(c.ok()) << c.status();
  s = ConditionSet::Build(*c).status();
  EXPECT_THAT(s.message(),
              HasSubstr("applicable_condition \"d\": dnsbl zone z"));
  c = ParseConfig(
      "applicable_condition { name: \"r\" restrict_accounts {"
      " file: \"/nonexistent/accounts\" } }\n",
      "t");
  ASSERT_TRUE(c.ok()) << c.status();
  s = ConditionSet::Build(*c).status();
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/accounts"));
}

}  // namespace
}  // namespace milter::manager::conditions
