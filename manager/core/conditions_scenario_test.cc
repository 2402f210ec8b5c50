// Scenario tests of applicable conditions and the shared allow and deny
// lists: real sockets, children built on milter/client, the MTA played by
// milter/server. Each condition stops a child, or lets it through, at the
// right scope and stage.

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/core/scripted_child.h"
#include "manager/core/test_manager.h"
#include "milter/server/blocking_session.h"

namespace milter::manager {
namespace {

using client::Context;
using client::Status;
using server::BlockingSession;
using server::Decision;
using testing::ChildEntry;
using testing::ChildScript;
using testing::Client;
using ::testing::Contains;
using testing::Content;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Lines;
using testing::ManagerUnderTest;
using ::testing::Not;
using testing::ScriptedChild;
using testing::TempDir;

server::ConnectionInfo ClientAt(const std::string& host,
                                const std::string& address) {
  server::ConnectionInfo info = Client();
  info.hostname = host;
  info.address = address;
  return info;
}

// One message, connect to end of message, to `rcpts`; the EOM verdict.
Decision Message(BlockingSession& mta, const server::ConnectionInfo& client,
                 const server::Macros& mail_macros,
                 const std::vector<std::string>& rcpts) {
  EXPECT_TRUE(mta.Connect(client).ok());
  EXPECT_TRUE(mta.Helo("client.example").ok());
  EXPECT_TRUE(mta.Mail("<a@example.org>", {}, mail_macros).ok());
  for (const std::string& r : rcpts) EXPECT_TRUE(mta.Rcpt(r).ok());
  EXPECT_TRUE(mta.Data().ok());
  auto eom = Content(mta, "body\r\n");
  EXPECT_TRUE(eom.ok()) << eom.status();
  return eom.ok() ? eom->verdict.decision : Decision::kContinue;
}

TEST(ConditionsScenarioTest, AuthenticatedSendersSkipTheChildForTheMessage) {
  std::string dir = TempDir();
  ScriptedChild scanner(dir, "scan", {}), always(dir, "always", {});
  Lines log;
  ManagerUnderTest manager(
      dir,
      ChildEntry("scan", scanner, "applicable_conditions: \"unauth\"") +
          ChildEntry("always", always),
      "applicable_condition { name: \"unauth\" authentication {} }\n",
      log.Sink());
  {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    Message(mta, Client(),
            {{"{auth_authen}", "alice"}, {"{auth_type}", "PLAIN"}},
            {"<b@example.org>"});
  }
  EXPECT_THAT(scanner.log().Events(), Not(Contains("eom")));
  EXPECT_THAT(scanner.log().Events(), Not(Contains("rcpt <b@example.org>")));
  EXPECT_THAT(always.log().Events(), Contains("eom"));
  EXPECT_THAT(log.All(), HasSubstr("child scan not applied to the message at "
                                   "envelope-from: condition unauth: "
                                   "authenticated as \"alice\""));
  {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    Message(mta, Client(), {}, {"<b@example.org>"});
  }
  EXPECT_THAT(scanner.log().Events(), Contains("eom"));
}

TEST(ConditionsScenarioTest, TrustedSenderDomainsSkipTheChildPerMessage) {
  std::string dir = TempDir();
  ScriptedChild c(dir, "c", {});
  ManagerUnderTest manager(
      dir, ChildEntry("c", c, "applicable_conditions: \"untrusted\""),
      "applicable_condition { name: \"untrusted\" trusted_sender_domains {"
      " domain: \"partner.example\" } }\n");
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_TRUE(mta.Connect(Client()).ok());
  // Trusted: the child never hears of the message; the next one is asked
  // again.
  ASSERT_TRUE(mta.Mail("<a@partner.example>").ok());
  ASSERT_TRUE(mta.Rcpt("<b@example.org>").ok());
  ASSERT_TRUE(mta.Mail("<a@elsewhere.example>").ok());
  ASSERT_TRUE(mta.Rcpt("<c@example.org>").ok());
  EXPECT_THAT(c.log().Events(), ElementsAre("connect mx.example.net",
                                            "mail <a@elsewhere.example>",
                                            "rcpt <c@example.org>"));
}

TEST(ConditionsScenarioTest, S25rAndRemoteNetworkDecideAtConnect) {
  std::string dir = TempDir();
  ScriptedChild grey(dir, "grey", {}), remote(dir, "remote", {});
  ManagerUnderTest manager(
      dir,
      ChildEntry("grey", grey, "applicable_conditions: \"s25r\"") +
          ChildEntry("remote", remote, "applicable_conditions: \"remote\""),
      "applicable_condition { name: \"s25r\" s25r {} }\n"
      "applicable_condition { name: \"remote\" remote_network {} }\n");
  for (auto [host, address] :
       {std::pair{"mail.example.com", "10.1.2.3"},
        std::pair{"dhcp-123.example.com", "198.51.100.7"}}) {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    Message(mta, ClientAt(host, address), {}, {"<b@example.org>"});
  }
  // Each child saw only the session its condition lets through.
  EXPECT_THAT(grey.log().Events(), Contains("connect dhcp-123.example.com"));
  EXPECT_THAT(grey.log().Events(), Not(Contains("connect mail.example.com")));
  EXPECT_THAT(remote.log().Events(), Contains("connect dhcp-123.example.com"));
  EXPECT_THAT(remote.log().Events(), Not(Contains("connect mail.example.com")));
}

TEST(ConditionsScenarioTest, RestrictAccountsSendsOnlyListedRecipients) {
  std::string dir = TempDir();
  ScriptedChild c(dir, "c", {});
  ManagerUnderTest manager(
      dir, ChildEntry("c", c, "applicable_conditions: \"accounts\""),
      "applicable_condition { name: \"accounts\" restrict_accounts {"
      " account: \"b@example.org\" } }\n");
  {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    Message(mta, Client(), {}, {"<x@example.org>", "<b@example.org>"});
  }
  EXPECT_THAT(c.log().Events(), Contains("rcpt <b@example.org>"));
  EXPECT_THAT(c.log().Events(), Not(Contains("rcpt <x@example.org>")));
  EXPECT_THAT(c.log().Events(), Contains("eom"));
  // No listed recipient: stopped for the message after the recipients, and
  // told to forget it.
  std::string dir2 = TempDir();
  ScriptedChild d(dir2, "d", {});
  ManagerUnderTest manager2(
      dir2, ChildEntry("d", d, "applicable_conditions: \"accounts\""),
      "applicable_condition { name: \"accounts\" restrict_accounts {"
      " account: \"b@example.org\" } }\n");
  {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager2.spec()).ok());
    Message(mta, Client(), {}, {"<x@example.org>"});
  }
  EXPECT_TRUE(d.log().WaitFor("abort"));
  EXPECT_THAT(d.log().Events(), Not(Contains("eom")));
}

TEST(ConditionsScenarioTest, ChildResultChainsGreylistingAfterAnEvaluator) {
  std::string dir = TempDir();
  ChildScript judge;
  judge.connect = [](Context& ctx) {
    std::string_view name = ctx.MacroOr("{client_name}", "");
    return name.find("dyn") != std::string_view::npos ? Status::kReject
                                                      : Status::kContinue;
  };
  ScriptedChild eval(dir, "eval", judge), grey(dir, "grey", {});
  ManagerUnderTest manager(
      dir,
      ChildEntry("eval", eval, "evaluation_mode: true") +
          ChildEntry("grey", grey, "applicable_conditions: \"judged\""),
      "applicable_condition { name: \"judged\" child_result {"
      " child: \"eval\" stage: CONNECT verdict: REJECT } }\n");
  for (const char* name : {"static.example.com", "dyn-1-2.example.net"}) {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    server::ConnectionInfo info = ClientAt(name, "198.51.100.7");
    auto v = mta.Connect(info, {{"{client_name}", name}});
    ASSERT_TRUE(v.ok()) << v.status();
    // The evaluator never decides for the MTA.
    EXPECT_EQ(v->decision, Decision::kContinue) << name;
  }
  EXPECT_THAT(grey.log().Events(), ElementsAre("connect dyn-1-2.example.net"));
}

TEST(ConditionsScenarioTest, MessageSizeStopsTheChildWhenTheBodyGrows) {
  std::string dir = TempDir();
  ScriptedChild lead(dir, "lead", {}), next(dir, "next", {});
  ManagerUnderTest manager(
      dir,
      ChildEntry("lead", lead, "applicable_conditions: \"small\"") +
          ChildEntry("next", next, "applicable_conditions: \"small\""),
      "applicable_condition { name: \"small\" message_size { max_bytes: 100 "
      "} }\n");
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_TRUE(mta.Connect(Client()).ok());
  // SIZE= decides at MAIL.
  ASSERT_TRUE(mta.Mail("<a@example.org>", {"SIZE=5000"}).ok());
  ASSERT_TRUE(mta.Rcpt("<b@example.org>").ok());
  EXPECT_THAT(lead.log().Events(), Not(Contains("mail <a@example.org>")));
  // Without SIZE=: the body decides.
  ASSERT_TRUE(mta.Mail("<a@example.org>").ok());
  ASSERT_TRUE(mta.Rcpt("<b@example.org>").ok());
  auto eom = Content(mta, std::string(1000, 'x'));
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_TRUE(lead.log().WaitFor("abort"));
  EXPECT_THAT(lead.log().Events(), Not(Contains("eom")));
  EXPECT_THAT(next.log().Events(), Not(Contains("eom")));
}

TEST(ConditionsScenarioTest, StressSkipsTheChildAboveTheThreshold) {
  std::string dir = TempDir();
  ScriptedChild c(dir, "c", {});
  ManagerUnderTest manager(
      dir, ChildEntry("c", c, "applicable_conditions: \"calm\""),
      "applicable_condition { name: \"calm\" stress { max_sessions: 1 } }\n");
  BlockingSession first, second;
  ASSERT_TRUE(first.Open(manager.spec()).ok());
  ASSERT_TRUE(first.Connect(ClientAt("one.example", "198.51.100.1")).ok());
  ASSERT_TRUE(second.Open(manager.spec()).ok());
  ASSERT_TRUE(second.Connect(ClientAt("two.example", "198.51.100.2")).ok());
  EXPECT_THAT(c.log().Events(), ElementsAre("connect one.example"));
}

TEST(ConditionsScenarioTest, NotAndAnyOfCombine) {
  std::string dir = TempDir();
  ScriptedChild c(dir, "c", {});
  ManagerUnderTest manager(
      dir, ChildEntry("c", c, "applicable_conditions: \"neither\""),
      "applicable_condition { name: \"local\" remote_network { local: true } }"
      "\napplicable_condition { name: \"s25r\" s25r {} }\n"
      "applicable_condition { name: \"either\" any_of { name: \"local\""
      " name: \"s25r\" } }\n"
      "applicable_condition { name: \"neither\" not: \"either\" }\n");
  for (auto [host, address] :
       {std::pair{"mail.example.com", "10.0.0.5"},
        std::pair{"dhcp-123.example.com", "198.51.100.7"},
        std::pair{"mail.example.org", "198.51.100.8"}}) {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    ASSERT_TRUE(mta.Connect(ClientAt(host, address)).ok());
  }
  EXPECT_THAT(c.log().Events(), ElementsAre("connect mail.example.org"));
}

TEST(ConditionsScenarioTest, AllowAndDenyListsAnswerForAllChildren) {
  std::string dir = TempDir();
  ScriptedChild c(dir, "c", {});
  Lines log;
  ManagerUnderTest manager(
      dir, ChildEntry("c", c),
      "access {\n"
      "  allow { client_address: \"203.0.113.0/24\" recipient: "
      "\"postmaster@example.org\" }\n"
      "  deny { sender: \".spam.example\" recipient: \"nobody@example.org\" }"
      "\n  deny_reply: \"554 5.7.1 Not here\"\n}\n",
      log.Sink());
  {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    auto v = mta.Connect(ClientAt("friend.example", "203.0.113.9"));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->decision, Decision::kAccept);
  }
  EXPECT_THAT(c.log().Events(), Not(Contains("connect friend.example")));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_TRUE(mta.Connect(Client()).ok());
  auto mail = mta.Mail("<x@mx.spam.example>");
  ASSERT_TRUE(mail.ok());
  EXPECT_EQ(mail->decision, Decision::kReject);
  EXPECT_EQ(mail->reply, "554 5.7.1 Not here");
  ASSERT_TRUE(mta.Mail("<a@example.org>").ok());
  auto nobody = mta.Rcpt("<nobody@example.org>");
  ASSERT_TRUE(nobody.ok());
  EXPECT_EQ(nobody->decision, Decision::kReject);
  auto postmaster = mta.Rcpt("<postmaster@example.org>");
  ASSERT_TRUE(postmaster.ok());
  EXPECT_EQ(postmaster->decision, Decision::kContinue);
  ASSERT_TRUE(mta.Rcpt("<b@example.org>").ok());
  EXPECT_THAT(c.log().Events(), Not(Contains("rcpt <postmaster@example.org>")));
  EXPECT_THAT(c.log().Events(), Contains("rcpt <b@example.org>"));
  EXPECT_THAT(log.All(), HasSubstr("denied at envelope-from by deny sender "
                                   "'.spam.example'"));
}

}  // namespace
}  // namespace milter::manager
