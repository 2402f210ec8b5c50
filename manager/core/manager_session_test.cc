// Scenario tests of the manager's combination rules: real sockets, children
// built on milter/client, the MTA played by milter/server.

#include "manager/core/manager_session.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/config/config.h"
#include "manager/core/manager.h"
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
using testing::Envelope;
using testing::ManagerUnderTest;
using testing::ScriptedChild;
using testing::TempDir;
namespace mod = codec::mod;

TEST(ManagerSessionTest, NoChildrenAcceptsAtConnect) {
  std::string dir = TempDir();
  ManagerUnderTest manager(dir, "");
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  auto v = mta.Connect(Client());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->decision, Decision::kAccept);
}

TEST(ManagerSessionTest, MostSevereEnvelopeVerdictWinsWithItsReply) {
  std::string dir = TempDir();
  ChildScript a, b;
  a.mail = [](Context& ctx) {
    (void)ctx.SetReply("451", "4.7.1", "try later");
    return Status::kTempfail;
  };
  b.mail = [](Context& ctx) {
    (void)ctx.SetReply("550", "5.7.1", "100% spam");
    return Status::kReject;
  };
  ScriptedChild ca(dir, "a", a), cb(dir, "b", b);
  ManagerUnderTest manager(dir, ChildEntry("a", ca) + ChildEntry("b", cb));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_TRUE(mta.Connect(Client()).ok());
  auto mail = mta.Mail("<a@example.org>");
  ASSERT_TRUE(mail.ok()) << mail.status();
  EXPECT_EQ(mail->decision, Decision::kReject);
  EXPECT_EQ(mail->reply, "550 5.7.1 100%% spam");  // relayed as received
}

TEST(ManagerSessionTest, OneChildsAcceptDoesNotAcceptForOthers) {
  std::string dir = TempDir();
  ChildScript a, b;
  a.connect = [](Context&) { return Status::kAccept; };
  b.rcpt = [](Context&, std::string_view address) {
    return address == "<bad@example.org>" ? Status::kReject : Status::kContinue;
  };
  ScriptedChild ca(dir, "a", a), cb(dir, "b", b);
  ManagerUnderTest manager(dir, ChildEntry("a", ca) + ChildEntry("b", cb));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  auto connect = mta.Connect(Client());
  ASSERT_TRUE(connect.ok());
  EXPECT_EQ(connect->decision, Decision::kContinue);
  ASSERT_TRUE(mta.Mail("<a@example.org>").ok());
  // Reject at RCPT is for that recipient only.
  EXPECT_EQ(mta.Rcpt("<bad@example.org>")->decision, Decision::kReject);
  EXPECT_EQ(mta.Rcpt("<good@example.org>")->decision, Decision::kContinue);
  EXPECT_THAT(ca.log().Events(), ElementsAre("connect mx.example.net"));
}

TEST(ManagerSessionTest, LaterChildSeesEarlierChildsChanges) {
  std::string dir = TempDir();
  ChildScript a, b;
  a.eom = [](Context& ctx) {
    EXPECT_TRUE(ctx.AddHeader("X-A", "from a").ok());
    EXPECT_TRUE(ctx.ChangeHeader("Subject", 1, "[a] hello").ok());
    EXPECT_TRUE(ctx.ReplaceBody("replaced by a\r\n").ok());
    return Status::kContinue;
  };
  b.eom = [](Context& ctx) {
    EXPECT_TRUE(ctx.InsertHeader(0, "X-B", "first").ok());
    return Status::kContinue;
  };
  ScriptedChild ca(dir, "a", a), cb(dir, "b", b);
  ManagerUnderTest manager(dir, ChildEntry("a", ca) + ChildEntry("b", cb));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  Envelope(mta);
  auto eom = Content(mta, "original body\r\n");
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_EQ(eom->verdict.decision, Decision::kContinue);
  // b got the message as a changed it.
  EXPECT_THAT(cb.log().Events(), Contains("header Subject:[a] hello"));
  EXPECT_THAT(cb.log().Events(), Contains("header X-A:from a"));
  EXPECT_THAT(cb.log().Bodies(), ElementsAre("replaced by a\r\n"));
  EXPECT_THAT(ca.log().Bodies(), ElementsAre("original body\r\n"));
  // The MTA gets every change, in order.
  server::MailMessage message;
  message.headers = {
      {"From", " a@example.org"}, {"Subject", " hello"}, {"Received", " by x"}};
  ASSERT_TRUE(server::ApplyModifications(eom->modifications,
                                         mta.session().header_leading_space(),
                                         &message)
                  .ok());
  std::vector<std::string> headers;
  for (const auto& h : message.headers)
    headers.push_back(h.name + ":" + h.value);
  EXPECT_THAT(headers, ElementsAre("X-B: first", "From: a@example.org",
                                   "Subject: [a] hello", "Received: by x",
                                   "X-A: from a"));
  EXPECT_EQ(message.body, "replaced by a\r\n");
}

TEST(ManagerSessionTest, ConcurrentContentChildSeesTheMessageAsReceived) {
  std::string dir = TempDir();
  ChildScript a, scanner, b;
  a.eom = [](Context& ctx) {
    (void)ctx.AddHeader("X-A", "a");
    return Status::kContinue;
  };
  scanner.eom = [](Context& ctx) {
    (void)ctx.AddHeader("X-Scanned", "clean");
    return Status::kContinue;
  };
  ScriptedChild ca(dir, "a", a), cs(dir, "scanner", scanner), cb(dir, "b", b);
  ManagerUnderTest manager(
      dir, ChildEntry("a", ca) +
               ChildEntry("scanner", cs, "concurrent_content: true") +
               ChildEntry("b", cb));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  Envelope(mta);
  auto eom = Content(mta, "body\r\n");
  ASSERT_TRUE(eom.ok()) << eom.status();
  // The scanner got the message as received; b, chained after a, saw X-A
  // but not the scanner's header.
  EXPECT_THAT(cs.log().Events(), ::testing::Not(Contains("header X-A:a")));
  EXPECT_THAT(cb.log().Events(), Contains("header X-A:a"));
  EXPECT_THAT(cb.log().Events(),
              ::testing::Not(Contains("header X-Scanned:clean")));
  // Changes in configuration order.
  ASSERT_EQ(eom->modifications.size(), 2u);
  EXPECT_EQ(eom->modifications[0],
            codec::Modification(mod::AddHeader{"X-A", " a"}));
  EXPECT_EQ(eom->modifications[1],
            codec::Modification(mod::AddHeader{"X-Scanned", " clean"}));
}

TEST(ManagerSessionTest, ConcurrentContentChildCanRejectTheMessage) {
  std::string dir = TempDir();
  ChildScript a, scanner;
  scanner.eom = [](Context& ctx) {
    (void)ctx.SetReply("554", "5.7.1", "virus found");
    return Status::kReject;
  };
  a.eom = [](Context& ctx) {
    (void)ctx.AddHeader("X-A", "a");
    return Status::kContinue;
  };
  ScriptedChild ca(dir, "a", a), cs(dir, "scanner", scanner);
  ManagerUnderTest manager(
      dir, ChildEntry("scanner", cs, "concurrent_content: true") +
               ChildEntry("a", ca));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  Envelope(mta);
  auto eom = Content(mta, "body\r\n");
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_EQ(eom->verdict.decision, Decision::kReject);
  EXPECT_EQ(eom->verdict.reply, "554 5.7.1 virus found");
  EXPECT_TRUE(eom->modifications.empty());
}

// A child's reject at a header: the MTA (offering every no-reply flag) is
// not kept waiting for each header; the reject is its answer at the end of
// the message, with the child's reply, and no later child hears of the
// rest of the message. An abort after it leaves the next message clean.
TEST(ManagerSessionTest, RejectAtAHeaderIsTheAnswerAtTheEndOfTheMessage) {
  std::string dir = TempDir();
  ChildScript first;
  first.header = [](Context& ctx, std::string_view name, std::string_view) {
    if (name != "Subject") return Status::kContinue;
    (void)ctx.SetReply("550", "5.7.1", "bad subject");
    return Status::kReject;
  };
  ScriptedChild a(dir, "a", first), b(dir, "b", {});
  ManagerUnderTest manager(dir, ChildEntry("a", a) + ChildEntry("b", b));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  EXPECT_TRUE(
      mta.session().negotiated().NoReply(codec::protocol::kNoReplyHeader));
  Envelope(mta);
  auto eom = Content(mta, "body\r\n");
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_EQ(eom->verdict.decision, Decision::kReject);
  EXPECT_EQ(eom->verdict.reply, "550 5.7.1 bad subject");
  EXPECT_THAT(a.log().Events(), ::testing::Not(Contains("eom")));
  EXPECT_THAT(b.log().Events(), ::testing::Not(Contains("eom")));
  EXPECT_THAT(a.log().Events(),
              ::testing::Not(Contains("header Received:by x")));
  // The MTA aborts the rejected message; the next one is not rejected.
  ASSERT_TRUE(mta.Abort().ok());
  auto from = mta.Mail("<c@example.org>");
  ASSERT_TRUE(from.ok()) << from.status();
  EXPECT_EQ(from->decision, Decision::kContinue);
  ASSERT_TRUE(mta.Rcpt("<d@example.org>").ok());
  ASSERT_TRUE(mta.Data().ok());
  ASSERT_TRUE(mta.Header("From", "c@example.org").ok());
  ASSERT_TRUE(mta.EndOfHeaders().ok());
  auto next = mta.EndOfMessage();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->verdict.decision, Decision::kContinue);
  EXPECT_THAT(b.log().Events(), Contains("eom"));
}

// Header indices land as in Postfix, which never shows its own first
// (Received) header: insert-header counts it, change-header skips the first
// header, whatever it is (after an insert at 0 the inserted one, which later
// children are shown all the same).
TEST(ManagerSessionTest, LaterChildSeesInsertsWhereTheMtaPutsThem) {
  std::string dir = TempDir();
  ChildScript a;
  a.eom = [](Context& ctx) {
    EXPECT_TRUE(ctx.InsertHeader(1, "X-At1", "1").ok());
    EXPECT_TRUE(ctx.InsertHeader(3, "X-At3", "3").ok());
    EXPECT_TRUE(ctx.InsertHeader(0, "X-Top", "t").ok());
    EXPECT_TRUE(ctx.ChangeHeader("X-Top", 1, "again").ok());
    return Status::kContinue;
  };
  ScriptedChild ca(dir, "a", a), cb(dir, "b", {});
  ManagerUnderTest manager(dir, ChildEntry("a", ca) + ChildEntry("b", cb));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  Envelope(mta);
  auto eom = Content(mta, "body\r\n");
  ASSERT_TRUE(eom.ok()) << eom.status();
  std::vector<std::string> headers;
  for (const std::string& e : cb.log().Events()) {
    if (e.rfind("header ", 0) == 0) headers.push_back(e);
  }
  EXPECT_THAT(headers,
              ElementsAre("header X-Top:t", "header X-At1:1",
                          "header From:a@example.org", "header X-At3:3",
                          "header Subject:hello", "header Received:by x",
                          "header X-Top:again"));
  // The MTA gets the indices as the child gave them.
  EXPECT_THAT(
      eom->modifications,
      Contains(codec::Modification(mod::InsertHeader{1, "X-At1", " 1"})));
}

TEST(ManagerSessionTest, RejectAtEndOfMessageStopsLaterChildren) {
  std::string dir = TempDir();
  ChildScript a, b;
  a.eom = [](Context& ctx) {
    (void)ctx.AddHeader("X-A", "x");
    (void)ctx.SetReply("554", "5.7.1", "virus");
    return Status::kReject;
  };
  ScriptedChild ca(dir, "a", a), cb(dir, "b", b);
  ManagerUnderTest manager(dir, ChildEntry("a", ca) + ChildEntry("b", cb));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  Envelope(mta);
  auto eom = Content(mta, "body\r\n");
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_EQ(eom->verdict.decision, Decision::kReject);
  EXPECT_EQ(eom->verdict.reply, "554 5.7.1 virus");
  EXPECT_TRUE(eom->modifications.empty());
  EXPECT_THAT(cb.log().Events(), ::testing::Not(Contains("eom")));
}

TEST(ManagerSessionTest, EvaluationModeChildNeverDecides) {
  std::string dir = TempDir();
  ChildScript a, b;
  a.mail = [](Context&) { return Status::kReject; };
  a.eom = [](Context& ctx) {
    (void)ctx.AddHeader("X-Eval", "1");
    return Status::kContinue;
  };
  ScriptedChild ca(dir, "a", a), cb(dir, "b", b);
  ManagerUnderTest manager(
      dir, ChildEntry("a", ca, "evaluation_mode: true") + ChildEntry("b", cb));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  EXPECT_EQ(Envelope(mta), Decision::kContinue);
  auto eom = Content(mta, "body\r\n");
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_TRUE(eom->modifications.empty());
}

TEST(ManagerSessionTest, ChildDownAtStartGivesItsFallback) {
  std::string dir = TempDir();
  std::string down = absl::StrCat(
      "child { name: \"down\" connection_spec: \"unix:", dir,
      "/nobody.sock\" connect_timeout: 1 fallback_status: TEMPFAIL }\n");
  ManagerUnderTest manager(dir, down);
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  auto v = mta.Connect(Client());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->decision, Decision::kTempfail);
}

TEST(ManagerSessionTest, ChildDownWithAcceptFallbackLeavesTheOthers) {
  std::string dir = TempDir();
  ChildScript b;
  b.mail = [](Context&) { return Status::kReject; };
  ScriptedChild cb(dir, "b", b);
  std::string down = absl::StrCat(
      "child { name: \"down\" connection_spec: \"unix:", dir,
      "/nobody.sock\" connect_timeout: 1 fallback_status: ACCEPT }\n");
  ManagerUnderTest manager(dir, down + ChildEntry("b", cb));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_TRUE(mta.Connect(Client()).ok());
  EXPECT_EQ(mta.Mail("<a@example.org>")->decision, Decision::kReject);
}

TEST(ManagerSessionTest, NoChildLeftGivesTheManagersFallback) {
  std::string dir = TempDir();
  // The child's own fallback is accept, but with no child left at all the
  // manager answers its own (tempfail).
  std::string down = absl::StrCat(
      "child { name: \"down\" connection_spec: \"unix:", dir,
      "/nobody.sock\" connect_timeout: 1 fallback_status: ACCEPT }\n");
  ManagerUnderTest manager(dir, down, "fallback_status: TEMPFAIL\n");
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  auto v = mta.Connect(Client());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->decision, Decision::kTempfail);
}

TEST(ManagerSessionTest, ChildDyingMidSessionGivesItsFallbackOnce) {
  std::string dir = TempDir();
  auto a = std::make_unique<ScriptedChild>(dir, "a", ChildScript{});
  ChildScript b;
  ScriptedChild cb(dir, "b", b);
  ManagerUnderTest manager(
      dir,
      ChildEntry("a", *a, "fallback_status: TEMPFAIL") + ChildEntry("b", cb));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  ASSERT_TRUE(mta.Connect(Client()).ok());
  a.reset();  // child a goes away (its connections are closed)
  auto mail = mta.Mail("<a@example.org>");
  ASSERT_TRUE(mail.ok()) << mail.status();
  EXPECT_EQ(mail->decision, Decision::kTempfail);
  // a is left out from now on; b goes on.
  ASSERT_TRUE(mta.Abort().ok());
  auto again = mta.Mail("<c@example.org>");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->decision, Decision::kContinue);
}

TEST(ManagerSessionTest, SeveralMessagesWithAbortBetween) {
  std::string dir = TempDir();
  int n = 0;
  ChildScript a;
  a.eom = [&n](Context& ctx) {
    (void)ctx.AddHeader("X-N", std::to_string(++n));
    return Status::kContinue;
  };
  ScriptedChild ca(dir, "a", a);
  ManagerUnderTest manager(dir, ChildEntry("a", ca));
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  Envelope(mta);
  auto first = Content(mta, "one\r\n");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(mta.Abort().ok());
  ASSERT_TRUE(mta.Mail("<c@example.org>").ok());
  ASSERT_TRUE(mta.Rcpt("<d@example.org>").ok());
  auto second = Content(mta, "two\r\n");
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->modifications.size(), 1u);
  // The manager keeps header values raw (HDR_LEADSPC with the MTA).
  EXPECT_TRUE(mta.session().header_leading_space());
  EXPECT_EQ(second->modifications[0],
            codec::Modification(mod::AddHeader{"X-N", " 2"}));
  EXPECT_THAT(ca.log().Bodies(), ElementsAre("one\r\n", "two\r\n"));
}

TEST(ManagerSessionTest, LargeBodySpillsToAFileAndIsReplayedWhole) {
  std::string dir = TempDir();
  ScriptedChild ca(dir, "a", {}), cb(dir, "b", {});
  ManagerUnderTest manager(dir, ChildEntry("a", ca) + ChildEntry("b", cb),
                           "max_message_memory_bytes: 1000\n");
  BlockingSession mta;
  ASSERT_TRUE(mta.Open(manager.spec()).ok());
  Envelope(mta);
  std::string body;
  for (int i = 0; i < 20000; ++i) absl::StrAppend(&body, "line ", i, "\r\n");
  auto eom = Content(mta, body);
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_THAT(cb.log().Bodies(), ElementsAre(body));
}

}  // namespace
}  // namespace milter::manager
