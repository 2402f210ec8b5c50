// Unit tests of the docs/client.md example filters with FilterTester: no
// sockets, no MTA.

#include "examples/doc_filter/doc_filter.h"

#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "milter/client/context.h"
#include "milter/client/filter_factory.h"
#include "milter/client/runner.h"
#include "milter/client/testing.h"
#include "milter/codec/modification.h"
#include "milter/codec/protocol.h"

namespace doc_filter {
namespace {

using milter::client::Modification;
using milter::client::Status;
using milter::testing::FilterTester;
using milter::testing::StageResult;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace mod = milter::client::mod;
namespace action = milter::codec::action;
namespace protocol = milter::codec::protocol;

TEST(DocFilterTest, NegotiatesOnlyWhatItUses) {
  FilterTester t(MakeDocFilterFactory());
  StageResult r = t.Negotiate();  // like Postfix 3.x: everything offered
  ASSERT_TRUE(r.error.ok()) << r.error;
  uint32_t flags = t.negotiated().protocol;
  EXPECT_TRUE(flags & protocol::kNoHelo);  // OnHelo not overridden
  EXPECT_TRUE(flags & protocol::kNoBody);
  EXPECT_TRUE(flags & protocol::kNoEndOfHeaders);
  EXPECT_FALSE(flags & protocol::kNoConnect);  // overridden
  EXPECT_FALSE(flags & protocol::kNoHeaders);
  EXPECT_TRUE(flags & protocol::kNoReplyHeader);  // from FilterOptions
  EXPECT_TRUE(t.negotiated().actions & action::kSetSymbolList);
  EXPECT_EQ(r.symbol_lists[static_cast<int>(
                milter::codec::MacroStage::kEndOfMessage)],
            "i");
}

TEST(DocFilterTest, AcceptsLocalConnections) {
  FilterTester t(MakeDocFilterFactory());
  t.Negotiate();
  EXPECT_EQ(
      t.Connect("localhost", milter::codec::Family::kInet, 40000, "127.0.0.1")
          .status,
      Status::kAccept);
}

TEST(DocFilterTest, RejectsBlockedSenderWithReply) {
  FilterTester t(MakeDocFilterFactory());
  t.Negotiate();
  EXPECT_EQ(t.Connect().status, Status::kContinue);  // 192.0.2.1
  StageResult r = t.Mail("<bot@spam.example>", {"SIZE=100"});
  EXPECT_EQ(r.status, Status::kReject);
  EXPECT_EQ(r.reply, "550 5.7.1 Sender domain blocked");
}

TEST(DocFilterTest, TempfailsRecipientsAfterTheThird) {
  FilterTester t(MakeDocFilterFactory());
  t.Negotiate();
  t.Connect();
  t.Mail("<alice@example.org>");
  EXPECT_EQ(t.Rcpt("<a@example.net>").status, Status::kContinue);
  EXPECT_EQ(t.Rcpt("<b@example.net>").status, Status::kContinue);
  EXPECT_EQ(t.Rcpt("<c@example.net>").status, Status::kContinue);
  StageResult r = t.Rcpt("<d@example.net>");
  EXPECT_EQ(r.status, Status::kTempfail);
  EXPECT_EQ(r.reply,
            "452-4.5.3 Too many recipients\r\n"
            "452 4.5.3 Send the rest in another message");
  // An abort (RSET) starts the count again.
  t.Abort();
  t.Mail("<alice@example.org>");
  EXPECT_EQ(t.Rcpt("<d@example.net>").status, Status::kContinue);
}

TEST(DocFilterTest, TagsTheMessageWithTheQueueId) {
  FilterTester t(MakeDocFilterFactory());
  t.Negotiate();
  t.Connect();
  t.Mail("<alice@example.org>");
  t.Rcpt("<bob@example.net>");
  // A no-reply stage: the filter sends nothing back.
  EXPECT_EQ(t.Header("Subject", "hello").status, Status::kNoReply);
  t.Macros(milter::codec::MacroStage::kEndOfMessage, {{"i", "4ABC123"}});
  StageResult r = t.EndOfMessage();
  EXPECT_EQ(r.status, Status::kContinue);
  EXPECT_THAT(r.modifications, ElementsAre(Modification(mod::AddHeader{
                                   "X-Doc-Filter", "queue-id=4ABC123"})));
}

TEST(DocFilterTest, QuarantinesTaggedSpam) {
  FilterTester t(MakeDocFilterFactory());
  t.Negotiate();
  t.Mail("<alice@example.org>");
  t.Header("Subject", "[SPAM] buy now");
  StageResult r = t.EndOfMessage();
  EXPECT_THAT(
      r.modifications,
      ElementsAre(
          Modification(mod::AddHeader{"X-Doc-Filter", "queue-id=unknown"}),
          Modification(mod::Quarantine{"subject tagged [SPAM]"})));
}

TEST(DocFilterTest, OldMtaWithoutNoReplyFlagsOrAddHeaders) {
  FilterTester t(MakeDocFilterFactory());
  // Version 6, only the quarantine action, protocol flags 0 (version 1's).
  ASSERT_TRUE(t.Negotiate({6, action::kQuarantine, 0}).error.ok());
  EXPECT_TRUE(t.negotiated().emulated & protocol::kNoReplyHeader);
  t.Mail("<alice@example.org>");
  // The library answers "continue" for the filter's kNoReply.
  EXPECT_EQ(t.Header("Subject", "hello").status, Status::kContinue);
  StageResult r = t.EndOfMessage();
  EXPECT_EQ(r.status, Status::kTempfail);
  EXPECT_EQ(r.reply, "451 4.3.5 Filter cannot tag messages");
  EXPECT_TRUE(r.modifications.empty());
}

TEST(DocFilterTest, ModificationsOutsideEndOfMessageFail) {
  milter::client::Context ctx;  // stage none, nothing negotiated
  absl::Status s = ctx.AddHeader("X-Test", "yes");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("only allowed at end of message"));
}

TEST(SlowHeloFilterTest, AwaitsReportsProgressAndRejects) {
  FilterTester t(milter::client::MakeFilterFactory<SlowHeloFilter>());
  t.Negotiate();
  StageResult r = t.Helo("localhost");
  EXPECT_EQ(r.status, Status::kReject);
  EXPECT_EQ(r.reply, "550 5.7.1 HELO needs a fully qualified name");
  EXPECT_EQ(r.progress, 1);
  EXPECT_EQ(t.Helo("mx.example.net").status, Status::kContinue);
}

// --- Snippets quoted in docs/client.md, compiled and exercised here.

struct Database {
  bool Knows(std::string_view) const { return false; }
};

class MyFilter : public milter::client::Filter {
 public:
  MyFilter() = default;
  explicit MyFilter(std::shared_ptr<const Database> db) : db_(std::move(db)) {}

  Status OnNegotiate(Context&, milter::client::Negotiation& n) override {
    namespace p = milter::codec::protocol;
    if (n.offer.protocol & p::kNoReplyRcpt)
      n.request.protocol |= p::kNoReplyRcpt;
    if (!(n.offer.actions & milter::codec::action::kChangeHeaders)) {
      return Status::kReject;  // useless without header changes
    }
    return Status::kContinue;
  }
  Status OnRcptTo(Context&, std::string_view,
                  milter::client::EsmtpArgs) override {
    return Status::kNoReply;
  }
  Status OnEndOfMessage(Context& ctx) override {
    std::string user = "anonymous";
    if (auto login = ctx.GetMacro("{auth_authen}")) user = std::string(*login);
    return ctx.AddHeader("X-User", user).ok() ? Status::kContinue
                                              : Status::kTempfail;
  }

 private:
  std::shared_ptr<const Database> db_;
};

TEST(DocSnippetsTest, FactoriesAndOnNegotiate) {
  milter::client::FilterOptions options;
  auto db = std::make_shared<const Database>();
  milter::client::FilterFactory f1 =
      milter::client::MakeFilterFactory<MyFilter>();
  milter::client::FilterFactory f2 =
      milter::client::MakeFilterFactory<MyFilter>(options);
  // Non-default-constructible filters: pass the maker.
  milter::client::FilterFactory f3 =
      milter::client::MakeFilterFactory<MyFilter>(
          std::function<std::unique_ptr<MyFilter>()>(
              [db] { return std::make_unique<MyFilter>(db); }),
          options);
  EXPECT_EQ(f1.callbacks(), milter::client::callback::kRcpt);
  EXPECT_EQ(f2.callbacks(), f3.callbacks());

  FilterTester t(f3);
  ASSERT_TRUE(t.Negotiate().error.ok());
  EXPECT_TRUE(t.negotiated().protocol & protocol::kNoReplyRcpt);
  EXPECT_EQ(t.Rcpt("<bob@example.net>").status, Status::kNoReply);
  t.Macros(milter::codec::MacroStage::kMail, {{"{auth_authen}", "alice"}});
  t.Mail("<alice@example.org>");
  EXPECT_THAT(t.EndOfMessage().modifications,
              ElementsAre(Modification(mod::AddHeader{"X-User", "alice"})));

  FilterTester refused(f1);
  StageResult r = refused.Negotiate({6, action::kAddHeaders, 0});
  EXPECT_FALSE(r.error.ok());
  EXPECT_TRUE(r.closed);
}

// Quoted in docs/client.md (RUNNING); compiled only: port 10025 may be taken.
[[maybe_unused]] absl::Status Serve() {
  milter::client::RunnerOptions options;
  options.listen = {"inet:10025@127.0.0.1"};
  milter::client::Runner runner(MakeDocFilterFactory(), options);
  absl::Status s = runner.Run();  // until SIGTERM/SIGINT or runner.Stop()
  return s;
}

TEST(DocSnippetsTest, RunnerListensAndStops) {
  std::string path =
      "/tmp/doc_filter_test." + std::to_string(::getpid()) + ".sock";
  milter::client::RunnerOptions options;
  options.listen = {"unix:" + path};
  options.handle_signals = false;
  milter::client::Runner runner(MakeDocFilterFactory(), options);
  ASSERT_TRUE(runner.Listen().ok());
  EXPECT_EQ(runner.bound_specs(), std::vector<std::string>{"unix:" + path});
  EXPECT_EQ(::access(path.c_str(), F_OK), 0);
  runner.Stop();  // handled as soon as Run() starts its event loop
  EXPECT_TRUE(runner.Run().ok());
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // removed on stop
}

}  // namespace
}  // namespace doc_filter
