// Session engine rules driven through milter::testing: a message in flight
// without MAIL, replies that do not match the verdict, the MTA's offer being
// read-only in OnNegotiate, exceptions escaping callbacks, and progress refused
// once a stage has been answered.

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio/post.hpp"
#include "asio/this_coro.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "milter/client/engine.h"
#include "milter/client/filter_factory.h"
#include "milter/client/testing.h"

namespace milter::client {
namespace {

namespace p = codec::protocol;
namespace a = codec::action;
using ::testing::ElementsAre;
using testing::FilterTester;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::StageResult;

// Overrides no OnMailFrom, so the MTA is told not to send MAIL; logs the
// rest.
class NoMail : public Filter {
 public:
  explicit NoMail(std::vector<std::string>* log) : log_(log) {}
  Status OnRcptTo(Context&, std::string_view, EsmtpArgs) override {
    return Log("rcpt");
  }
  Status OnData(Context&) override { return Log("data"); }
  Status OnHeader(Context&, std::string_view, std::string_view) override {
    return Log("header");
  }
  Status OnEndOfHeaders(Context&) override { return Log("eoh"); }
  Status OnBody(Context&, std::string_view) override { return Log("body"); }
  Status OnEndOfMessage(Context&) override { return Log("eom"); }
  void OnAbort(Context&) override { log_->push_back("abort"); }
  void OnClose(Context&) override { log_->push_back("close"); }

 private:
  Status Log(std::string what) {
    log_->push_back(std::move(what));
    return Status::kContinue;
  }
  std::vector<std::string>* log_;
};

FilterFactory NoMailFactory(std::vector<std::string>* log) {
  return MakeFilterFactory<NoMail>(std::function<std::unique_ptr<NoMail>()>(
      [log] { return std::make_unique<NoMail>(log); }));
}

TEST(EngineRulesTest, ConnectionLostMidMessageAbortsWithoutMail) {
  const std::vector<std::pair<std::string, std::function<void(FilterTester&)>>>
      first_commands = {
          {"rcpt", [](FilterTester& t) { t.Rcpt("<b@c>"); }},
          {"data", [](FilterTester& t) { t.Data(); }},
          {"header", [](FilterTester& t) { t.Header("Subject", "x"); }},
          {"eoh", [](FilterTester& t) { t.EndOfHeaders(); }},
          {"body", [](FilterTester& t) { t.Body("chunk"); }},
      };
  for (const auto& [name, send] : first_commands) {
    SCOPED_TRACE(name);
    std::vector<std::string> log;
    {
      FilterTester t(NoMailFactory(&log));
      ASSERT_TRUE(t.Negotiate().error.ok());
      ASSERT_TRUE(t.negotiated().protocol & p::kNoMail);
      send(t);
    }  // the connection is lost here
    EXPECT_THAT(log, ElementsAre(name, "abort", "close"));
  }
}

TEST(EngineRulesTest, NoAbortOnCloseAfterEndOfMessageWithoutMail) {
  std::vector<std::string> log;
  {
    FilterTester t(NoMailFactory(&log));
    t.Negotiate();
    t.Rcpt("<b@c>");
    t.EndOfMessage("tail");
  }
  EXPECT_THAT(log, ElementsAre("rcpt", "body", "eom", "close"));
}

// Runs a hook at MAIL FROM.
class AtMail : public Filter {
 public:
  explicit AtMail(std::function<Status(Context&)> hook)
      : hook_(std::move(hook)) {}
  Status OnMailFrom(Context& ctx, std::string_view, EsmtpArgs) override {
    return hook_(ctx);
  }

 private:
  std::function<Status(Context&)> hook_;
};

FilterFactory AtMailFactory(std::function<Status(Context&)> hook,
                            FilterOptions options = {}) {
  return MakeFilterFactory<AtMail>(
      std::function<std::unique_ptr<AtMail>()>(
          [hook] { return std::make_unique<AtMail>(hook); }),
      options);
}

TEST(EngineRulesTest, ReplyNotMatchingTheVerdictIsReportedAndNotUsed) {
  {
    FilterTester t(AtMailFactory([](Context& ctx) {
      EXPECT_TRUE(ctx.SetReply("451", "4.7.1", "try later").ok());
      return Status::kReject;
    }));
    t.Negotiate();
    t.Macros(codec::MacroStage::kMail, {{"i", "QID7"}});
    StageResult r = t.Mail("<a@b>");
    EXPECT_EQ(r.status, Status::kReject);
    EXPECT_EQ(r.reply, "");  // plain 'r': the MTA uses its default text
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_THAT(r.diagnostics[0], HasSubstr("451 4.7.1 try later"));
    EXPECT_THAT(r.diagnostics[0], HasSubstr("envelope-from (queue ID QID7)"));
    EXPECT_THAT(r.diagnostics[0], HasSubstr("returned reject"));
    EXPECT_THAT(r.diagnostics[0], HasSubstr("not used"));
  }
  {
    FilterTester t(AtMailFactory([](Context& ctx) {
      EXPECT_TRUE(ctx.SetReply("550", "5.7.1", "no").ok());
      return Status::kTempfail;
    }));
    t.Negotiate();
    StageResult r = t.Mail("<a@b>");
    EXPECT_EQ(r.status, Status::kTempfail);
    EXPECT_EQ(r.reply, "");
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_THAT(r.diagnostics[0], HasSubstr("returned tempfail"));
  }
  {  // matching: used, nothing reported
    FilterTester t(AtMailFactory([](Context& ctx) {
      EXPECT_TRUE(ctx.SetReply("550", "5.7.1", "no").ok());
      return Status::kReject;
    }));
    t.Negotiate();
    StageResult r = t.Mail("<a@b>");
    EXPECT_EQ(r.reply, "550 5.7.1 no");
    EXPECT_THAT(r.diagnostics, IsEmpty());
  }
}

// Widens the MTA's offer in OnNegotiate and asks for what it added.
class Widener : public Filter {
 public:
  static bool want_change_from;
  Status OnNegotiate(Context&, Negotiation& n) override {
    n.offer.version = 6;
    n.offer.actions |= a::kChangeFrom;
    n.offer.protocol |= p::kNoReplyHeader;
    n.request.protocol |= p::kNoReplyHeader;
    if (want_change_from) n.request.actions |= a::kChangeFrom;
    return Status::kContinue;
  }
  Status OnHeader(Context&, std::string_view, std::string_view) override {
    return Status::kNoReply;
  }
};
bool Widener::want_change_from = false;

TEST(EngineRulesTest, OnNegotiateCannotWidenTheOffer) {
  const codec::OptionNegotiation offer{2, a::kAddHeaders, p::kNoConnect};
  {  // an action the MTA did not offer is not granted: negotiation fails
    Widener::want_change_from = true;
    FilterTester t(MakeFilterFactory<Widener>());
    StageResult r = t.Negotiate(offer);
    EXPECT_FALSE(r.error.ok());
    EXPECT_TRUE(r.closed);
    EXPECT_THAT(r.error.message(), HasSubstr("change-from"));
    ASSERT_FALSE(r.diagnostics.empty());
    EXPECT_THAT(r.diagnostics[0], HasSubstr("changed the MTA's offer"));
  }
  {  // a protocol step the MTA did not offer is emulated, not requested
    Widener::want_change_from = false;
    FilterTester t(MakeFilterFactory<Widener>());
    StageResult r = t.Negotiate(offer);
    ASSERT_TRUE(r.error.ok()) << r.error;
    ASSERT_TRUE(r.negotiation);
    EXPECT_EQ(r.negotiation->version, 2u);
    EXPECT_EQ(r.negotiation->actions, a::kAddHeaders);
    EXPECT_FALSE(r.negotiation->protocol & p::kNoReplyHeader);
    EXPECT_TRUE(t.negotiated().emulated & p::kNoReplyHeader);
    EXPECT_EQ(t.Header("Subject", "x").status, Status::kContinue);  // sent
  }
}

class ThrowsSync : public Filter {
 public:
  Status OnNegotiate(Context&, Negotiation&) override {
    if (throw_at_negotiate) throw std::runtime_error("bad negotiate");
    return Status::kContinue;
  }
  Status OnHelo(Context&, std::string_view) override {
    throw std::runtime_error("bug in a filter");
  }
  Status OnMailFrom(Context&, std::string_view, EsmtpArgs) override {
    throw 42;  // not a std::exception
  }
  void OnAbort(Context&) override { throw std::logic_error("abort bug"); }
  void OnClose(Context&) override {
    ++closes;
    throw std::logic_error("close bug");
  }
  static bool throw_at_negotiate;
  static int closes;
};
bool ThrowsSync::throw_at_negotiate = false;
int ThrowsSync::closes = 0;

class ThrowsCoroutine : public CoroutineFilter {
 public:
  asio::awaitable<Status> OnHelo(Context&, std::string_view) override {
    throw std::runtime_error("bug in a coroutine");
    co_return Status::kContinue;
  }
};

TEST(EngineRulesTest, ExceptionsAreReportedAndAnsweredTempfail) {
  {
    FilterTester t(MakeFilterFactory<ThrowsSync>());
    t.Negotiate();
    StageResult r = t.Helo("x");
    EXPECT_EQ(r.status, Status::kTempfail);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_THAT(r.diagnostics[0], HasSubstr("at helo"));
    EXPECT_THAT(r.diagnostics[0], HasSubstr("bug in a filter"));
    EXPECT_THAT(r.diagnostics[0], HasSubstr("tempfail"));
    r = t.Mail("<a@b>");
    EXPECT_EQ(r.status, Status::kTempfail);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_THAT(r.diagnostics[0], HasSubstr("not derived from std::exception"));
    r = t.Abort();  // OnAbort throws: reported, ignored
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_THAT(r.diagnostics[0], HasSubstr("abort bug"));
    ThrowsSync::closes = 0;
    r = t.Quit();  // OnClose throws: reported, the session still closes
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(ThrowsSync::closes, 1);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_THAT(r.diagnostics[0], HasSubstr("close bug"));
  }
  {
    FilterTester t(MakeFilterFactory<ThrowsCoroutine>());
    t.Negotiate();
    StageResult r = t.Helo("x");
    EXPECT_EQ(r.status, Status::kTempfail);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_THAT(r.diagnostics[0], HasSubstr("bug in a coroutine"));
  }
  {
    ThrowsSync::throw_at_negotiate = true;
    FilterTester t(MakeFilterFactory<ThrowsSync>());
    StageResult r = t.Negotiate();
    ThrowsSync::throw_at_negotiate = false;
    EXPECT_TRUE(r.closed);
    EXPECT_FALSE(r.error.ok());
    ASSERT_FALSE(r.diagnostics.empty());
    EXPECT_THAT(r.diagnostics[0], HasSubstr("bad negotiate"));
  }
}

// Reports progress during OnHelo, and once more after the stage was
// answered (from a handler it posts).
class LateProgress : public CoroutineFilter {
 public:
  static absl::Status late;
  asio::awaitable<Status> OnHelo(Context& ctx, std::string_view) override {
    EXPECT_TRUE(ctx.Progress().ok());
    asio::post(co_await asio::this_coro::executor,
               [&ctx] { late = ctx.Progress(); });
    co_return Status::kContinue;
  }
};
absl::Status LateProgress::late;

TEST(EngineRulesTest, ProgressAfterTheStageIsRefusedAndNotSent) {
  FilterTester t(MakeFilterFactory<LateProgress>());
  t.Negotiate();
  StageResult r = t.Helo("x");
  EXPECT_EQ(r.progress, 1);
  EXPECT_EQ(r.status, Status::kContinue);
  EXPECT_EQ(LateProgress::late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(t.context().stage(), Stage::kNone);
}

}  // namespace
}  // namespace milter::client
