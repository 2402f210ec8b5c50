// Scenario tests of script children (ScriptLink) in the manager: real
// sockets, the MTA played by milter/server, socket children built on
// milter/client, policy scripts written to files. A script alone is a
// milter; with children it acts before, between and after them.

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

// Replaces `path` atomically (a new inode), as editors and deployments do.
void ReplaceFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".new";
  WriteFile(tmp, text);
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

std::string ScriptChild(const std::string& name, const std::string& file,
                        const std::string& extra = "") {
  return absl::StrCat("child { name: \"", name, "\" script { file: \"", file,
                      "\" } ", extra, " }\n");
}

TEST(ScriptScenarioTest, AScriptAloneIsAMilter) {
  std::string dir = TempDir();
  std::string policy = WriteFile(dir + "/policy.rb", R"(
def on_connect(s)
  return :continue unless s.client_address == "192.0.2.66"
  s.reject("554 5.7.1 not from " + s.client_address)
end
def on_envfrom(s)
  s.tempfail("451 4.7.1 try later") if s.envelope_from == "<spam@example.org>"
end
def on_eom(s)
  s.add_header("X-Policy", "seen #{s.recipients.size} rcpt, queue #{s.queue_id}")
  s.change_header("Subject", 1, "[tagged] " + s.headers["Subject"])
  :accept
end
)");
  ManagerUnderTest manager(dir, ScriptChild("policy", policy));
  {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    server::ConnectionInfo bad = Client();
    bad.address = "192.0.2.66";
    auto v = mta.Connect(bad);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->decision, Decision::kReject);
    EXPECT_EQ(v->reply, "554 5.7.1 not from 192.0.2.66");
  }
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_EQ(testing::Envelope(mta), Decision::kContinue);
  auto eom = Content(mta, "body\r\n");
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_EQ(eom->verdict.decision, Decision::kContinue);
  EXPECT_THAT(eom->modifications,
              ElementsAre(codec::Modification(codec::mod::AddHeader{
                              "X-Policy", " seen 1 rcpt, queue QID1"}),
                          codec::Modification(codec::mod::ChangeHeader{
                              1, "Subject", " [tagged] hello"})));
  auto from = mta.Mail("<spam@example.org>");
  ASSERT_TRUE(from.ok());
  EXPECT_EQ(from->decision, Decision::kTempfail);
  EXPECT_EQ(from->reply, "451 4.7.1 try later");
}

TEST(ScriptScenarioTest, AScriptFirstSwitchesLaterChildrenAndSetsTheirMacros) {
  std::string dir = TempDir();
  std::string policy = WriteFile(dir + "/policy.rb", R"(
def on_connect(s)
  s.set_macro("policy_class", "trusted") if s.client_host.end_with?(".example.net")
end
def on_envfrom(s)
  s.disable_child("scan", :message) if s.envelope_from.end_with?("@partner.example>")
end
)");
  ChildScript script;
  std::atomic<int> helo_class_seen{0};
  script.helo = [&](Context& ctx) {
    if (ctx.MacroOr("{policy_class}", "") == "trusted") ++helo_class_seen;
    return Status::kContinue;
  };
  ScriptedChild scan(dir, "scan", script);
  ManagerUnderTest manager(
      dir, ScriptChild("policy", policy) + ChildEntry("scan", scan));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_TRUE(mta.Connect(Client()).ok());
  ASSERT_TRUE(mta.Helo("mx.example.net").ok());
  ASSERT_TRUE(mta.Mail("<a@partner.example>").ok());
  ASSERT_TRUE(mta.Rcpt("<b@example.org>").ok());
  ASSERT_TRUE(mta.Abort().ok());
  ASSERT_TRUE(mta.Mail("<a@elsewhere.example>").ok());
  ASSERT_TRUE(mta.Rcpt("<c@example.org>").ok());
  EXPECT_EQ(helo_class_seen.load(), 1);
  EXPECT_THAT(
      scan.log().Events(),
      ElementsAre("connect mx.example.net", "helo mx.example.net", "abort",
                  "mail <a@elsewhere.example>", "rcpt <c@example.org>"));
}

TEST(ScriptScenarioTest, EnableOverridesConditionsAndRecipientScopeIsOneRcpt) {
  std::string dir = TempDir();
  std::string policy = WriteFile(dir + "/policy.rb", R"(
def on_helo(s)
  s.enable_child("scan", :session) if s.helo == "force.example"
end
def on_envrcpt(s)
  s.disable_child("scan", :recipient) if s.recipient == "<vip@example.org>"
end
)");
  ScriptedChild scan(dir, "scan", {});
  ManagerUnderTest manager(
      dir,
      ScriptChild("policy", policy) +
          ChildEntry("scan", scan, "applicable_conditions: \"unauth\""),
      "applicable_condition { name: \"unauth\" authentication {} }\n");
  server::Macros authenticated = {{"{auth_authen}", "alice"}};
  for (std::string helo : {"plain.example", "force.example"}) {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    ASSERT_TRUE(mta.Connect(Client()).ok());
    ASSERT_TRUE(mta.Helo(helo).ok());
    ASSERT_TRUE(mta.Mail("<a@" + helo + ">", {}, authenticated).ok());
    ASSERT_TRUE(mta.Rcpt("<vip@example.org>").ok());
    ASSERT_TRUE(mta.Rcpt("<b@example.org>").ok());
  }
  // Authenticated: the condition stops the child, unless the script
  // enabled it; then it misses only the recipient the script left out.
  EXPECT_THAT(scan.log().Events(), Not(Contains("mail <a@plain.example>")));
  EXPECT_THAT(scan.log().Events(), Contains("mail <a@force.example>"));
  EXPECT_THAT(scan.log().Events(), Not(Contains("rcpt <vip@example.org>")));
  EXPECT_THAT(scan.log().Events(), Contains("rcpt <b@example.org>"));
}

TEST(ScriptScenarioTest, AnEnvelopeOnlyScriptFirstLeavesTheLeadToTheNext) {
  std::string dir = TempDir();
  std::string policy =
      WriteFile(dir + "/policy.rb", "def on_helo(s) = :continue\n");
  ScriptedChild one(dir, "one", {});
  ManagerUnderTest manager(
      dir, ScriptChild("policy", policy) + ChildEntry("one", one));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_EQ(testing::Envelope(mta), Decision::kContinue);
  ASSERT_TRUE(mta.Data().ok());
  ASSERT_TRUE(mta.Header("Subject", "hello").ok());
  // The child gets the header as it arrives (it leads), not at the end.
  EXPECT_TRUE(one.log().WaitFor("header Subject:hello"));
  ASSERT_TRUE(mta.EndOfHeaders().ok());
  auto eom = mta.EndOfMessage();
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_THAT(one.log().Events(), Contains("eom"));
}

TEST(ScriptScenarioTest, AScriptAfterChildrenSeesTheirAnswers) {
  std::string dir = TempDir();
  std::string policy = WriteFile(dir + "/policy.rb", R"(
def on_envrcpt(s)
  said = s.child_answers.select { |a| a.stage == :envrcpt && a.status == :reject }
  return :continue if said.size < 2
  s.tempfail("450 4.7.1 both said " + said.map { |a| a.reply }.join(" / "))
end
)");
  ChildScript rejecting;
  rejecting.rcpt = [](Context& ctx, std::string_view) {
    (void)ctx.SetReply("550", "5.7.1", "no");
    return Status::kReject;
  };
  ScriptedChild a(dir, "a", rejecting), b(dir, "b", rejecting);
  ManagerUnderTest manager(dir,
                           ChildEntry("a", a, "evaluation_mode: true") +
                               ChildEntry("b", b, "evaluation_mode: true") +
                               ScriptChild("policy", policy));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_TRUE(mta.Connect(Client()).ok());
  ASSERT_TRUE(mta.Mail("<a@example.org>").ok());
  auto rcpt = mta.Rcpt("<b@example.org>");
  ASSERT_TRUE(rcpt.ok()) << rcpt.status();
  EXPECT_EQ(rcpt->decision, Decision::kTempfail);
  EXPECT_EQ(rcpt->reply, "450 4.7.1 both said 550 5.7.1 no / 550 5.7.1 no");
}

TEST(ScriptScenarioTest, AScriptInTheChainSeesAndIsSeenAsChanged) {
  std::string dir = TempDir();
  std::string policy = WriteFile(dir + "/policy.rb", R"(
def on_eom(s)
  s.add_header("X-Script", "saw " + (s.headers["X-First"] || "nothing"))
end
)");
  ChildScript first;
  first.eom = [](Context& ctx) {
    (void)ctx.AddHeader("X-First", "1");
    return Status::kContinue;
  };
  ScriptedChild one(dir, "one", first), three(dir, "three", {});
  ManagerUnderTest manager(dir, ChildEntry("one", one) +
                                    ScriptChild("policy", policy) +
                                    ChildEntry("three", three));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_EQ(testing::Envelope(mta), Decision::kContinue);
  auto eom = Content(mta, "body\r\n");
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_THAT(three.log().Events(), Contains("header X-Script:saw 1"));
  EXPECT_THAT(
      eom->modifications,
      ElementsAre(
          codec::Modification(codec::mod::AddHeader{"X-First", " 1"}),
          codec::Modification(codec::mod::AddHeader{"X-Script", " saw 1"})));
}

TEST(ScriptScenarioTest, ErrorsAndEndlessLoopsGiveTheFallbackAndServingGoesOn) {
  std::string dir = TempDir();
  std::string policy = WriteFile(dir + "/policy.rb", R"(
def on_helo(s)
  raise "broken helo" if s.helo == "raise"
  loop { } if s.helo == "loop"
  :continue
end
)");
  Lines log;
  ManagerUnderTest manager(
      dir,
      absl::StrCat("child { name: \"policy\" script { file: \"", policy,
                   "\" time_limit: 0.05 } }\n"),
      "", log.Sink());
  for (std::string helo : {"raise", "loop", "fine"}) {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    ASSERT_TRUE(mta.Connect(Client()).ok());
    auto v = mta.Helo(helo);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->decision,
              helo == "fine" ? Decision::kContinue : Decision::kTempfail)
        << helo;
  }
  EXPECT_THAT(log.All(), HasSubstr(policy + ":3: RuntimeError: broken helo"));
  EXPECT_THAT(log.All(), HasSubstr(policy + ":4"));
}

TEST(ScriptScenarioTest, AStageHasItsOwnTimeLimitAndFallback) {
  std::string dir = TempDir();
  std::string policy = WriteFile(dir + "/policy.rb", R"(
def on_helo(s)
  loop { }
end
def on_envfrom(s)
  raise "broken"
end
)");
  ManagerUnderTest manager(
      dir, absl::StrCat("child { name: \"policy\" script { file: \"", policy,
                        "\" handler { stage: \"helo\" time_limit: 0.02 "
                        "fallback_status: REJECT } } }\n"));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_TRUE(mta.Connect(Client()).ok());
  auto helo = mta.Helo("x.example");
  ASSERT_TRUE(helo.ok()) << helo.status();
  EXPECT_EQ(helo->decision, Decision::kReject);  // the stage's own fallback
  BlockingSession next;
  ASSERT_TRUE(next.Open(manager.spec()).ok());
  ASSERT_TRUE(next.Connect(Client()).ok());
  auto from = next.Mail("<a@example.org>");
  ASSERT_TRUE(from.ok()) << from.status();
  EXPECT_EQ(from->decision, Decision::kTempfail);  // the child's default
}

TEST(ScriptScenarioTest, AScriptConditionDecidesFromChildrenAnswers) {
  std::string dir = TempDir();
  std::string condition = WriteFile(dir + "/both.rb", R"(
def on_envrcpt(s)
  s.child_answers.count { |a| a.stage == :envrcpt && a.status == :reject } >= 2
end
)");
  ChildScript rejecting;
  rejecting.rcpt = [](Context&, std::string_view rcpt) {
    return rcpt == "<spam@example.org>" ? Status::kReject : Status::kContinue;
  };
  ScriptedChild a(dir, "a", rejecting), b(dir, "b", rejecting),
      grey(dir, "grey", {});
  ManagerUnderTest manager(
      dir,
      ChildEntry("a", a, "evaluation_mode: true") +
          ChildEntry("b", b, "evaluation_mode: true") +
          ChildEntry("grey", grey, "applicable_conditions: \"both\""),
      absl::StrCat("applicable_condition { name: \"both\" script { file: \"",
                   condition, "\" } }\n"));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_TRUE(mta.Connect(Client()).ok());
  ASSERT_TRUE(mta.Mail("<a@example.org>").ok());
  ASSERT_TRUE(mta.Rcpt("<ham@example.org>").ok());
  ASSERT_TRUE(mta.Rcpt("<spam@example.org>").ok());
  EXPECT_THAT(grey.log().Events(), Contains("rcpt <spam@example.org>"));
  EXPECT_THAT(grey.log().Events(), Not(Contains("rcpt <ham@example.org>")));
}

// Sessions flow from two threads while the script is replaced twice: by a
// new version (which takes effect within a second) and by one that does
// not compile (the new version keeps serving). No session fails.
TEST(ScriptScenarioTest, HotReloadUnderLoadLosesNothing) {
  std::string dir = TempDir();
  std::string policy = dir + "/policy.rb";
  auto version = [](const std::string& v) {
    return absl::StrCat("def on_envfrom(s)\n  s.reject(\"550 5.7.1 ", v,
                        "\")\nend\n");
  };
  WriteFile(policy, version("v1"));
  Lines log;
  ManagerUnderTest manager(dir, ScriptChild("policy", policy), "", log.Sink());
  std::atomic<bool> stop{false};
  std::atomic<int> v1{0}, v2{0}, failed{0};
  auto sender = [&] {
    while (!stop) {
      BlockingSession mta;
      if (!mta.Open(manager.spec()).ok() || !mta.Connect(Client()).ok()) {
        ++failed;
        continue;
      }
      auto from = mta.Mail("<a@example.org>");
      if (!from.ok() || from->decision != Decision::kReject) {
        ++failed;
      } else if (from->reply == "550 5.7.1 v1") {
        ++v1;
      } else if (from->reply == "550 5.7.1 v2") {
        ++v2;
      } else {
        ++failed;
      }
    }
  };
  std::thread t1(sender), t2(sender);
  auto wait_for = [&](std::atomic<int>& counter, int at_least) {
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (counter < at_least && absl::Now() < deadline) {
      std::this_thread::yield();
    }
    return counter >= at_least;
  };
  EXPECT_TRUE(wait_for(v1, 20));
  ReplaceFile(policy, version("v2"));
  EXPECT_TRUE(wait_for(v2, 20));
  ReplaceFile(policy, "def on_envfrom(s)\n  s.reject(\n");  // broken
  // The broken edit is noticed (logged with its line) within a second...
  std::string broken = policy + ":3:";
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  bool logged = false;
  while (!logged && absl::Now() < deadline) {
    logged = absl::StrContains(log.All(), broken);
    std::this_thread::yield();
  }
  EXPECT_TRUE(logged) << "no log line naming " << broken;
  // ... and v2 keeps serving after it.
  int v2_before = v2;
  EXPECT_TRUE(wait_for(v2, v2_before + 50));
  stop = true;
  t1.join();
  t2.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(v1.load(), 0);
}

}  // namespace
}  // namespace milter::manager
