// Regression tests for what the engine fuzzer (milter/client/fuzz) found:
// the filter side must never put on the wire what the MTA will not read or
// will refuse, and a reply never outlives the stage it was set for.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "milter/client/engine.h"
#include "milter/client/filter_factory.h"
#include "milter/client/testing.h"

namespace milter::client {
namespace {

namespace p = codec::protocol;
using testing::FilterTester;
using testing::StageResult;

// Runs the hooks it is given; each records what the Context calls returned.
struct Hooks {
  std::function<void(Context&)> at_negotiate, at_helo, at_header, at_eom,
      at_abort;
};

class Hooked : public Filter {
 public:
  explicit Hooked(Hooks* hooks) : hooks_(hooks) {}
  Status OnNegotiate(Context& ctx, Negotiation&) override {
    return Run(hooks_->at_negotiate, ctx, Status::kContinue);
  }
  Status OnHelo(Context& ctx, std::string_view) override {
    return Run(hooks_->at_helo, ctx, Status::kContinue);
  }
  Status OnMailFrom(Context&, std::string_view, EsmtpArgs) override {
    return Status::kTempfail;  // with no reply of its own
  }
  Status OnHeader(Context& ctx, std::string_view, std::string_view) override {
    return Run(hooks_->at_header, ctx, Status::kContinue);
  }
  Status OnEndOfMessage(Context& ctx) override {
    return Run(hooks_->at_eom, ctx, Status::kReject);
  }
  void OnAbort(Context& ctx) override { Run(hooks_->at_abort, ctx, {}); }

 private:
  static Status Run(const std::function<void(Context&)>& hook, Context& ctx,
                    Status status) {
    if (hook) hook(ctx);
    return status;
  }
  Hooks* hooks_;
};

FilterFactory HookedFactory(Hooks* hooks, FilterOptions options = {}) {
  return MakeFilterFactory<Hooked>(
      std::function<std::unique_ptr<Hooked>()>(
          [hooks] { return std::make_unique<Hooked>(hooks); }),
      options);
}

// Found as: a filter negotiating no-reply-header (and the MTA offering it)
// calls Progress() in OnHeader. The 'p' went out although the MTA reads no
// answer to headers; milter::server::Session then failed the session ("the
// filter sent 5 bytes nobody asked for").
TEST(EngineRegressionTest, NoProgressAtAStageNegotiatedNotToBeAnswered) {
  Hooks h;
  std::vector<bool> ok;
  h.at_header = [&](Context& ctx) { ok.push_back(ctx.Progress().ok()); };
  h.at_helo = h.at_header;
  FilterOptions o;
  o.protocol = p::kNoReplyHeader;
  FilterTester t(HookedFactory(&h, o));
  t.Negotiate();
  ASSERT_TRUE(t.negotiated().NoReply(p::kNoReplyHeader));
  StageResult r = t.Header("Subject", "hi");
  EXPECT_EQ(r.status, Status::kNoReply);  // nothing at all on the wire
  EXPECT_EQ(r.progress, 0);
  r = t.Helo("client.example");  // an answered stage: progress is fine
  EXPECT_EQ(r.progress, 1);
  EXPECT_EQ(ok, (std::vector<bool>{false, true}));
}

// Found as: a reply set in OnAbort (or OnNegotiate) stayed in the context and
// went out with the next stage's tempfail ('y' instead of 't'), although that
// stage set no reply.
TEST(EngineRegressionTest, ReplyOutsideAStageWithAVerdictIsRefused) {
  Hooks h;
  std::vector<bool> ok;
  h.at_negotiate = [&](Context& ctx) {
    ok.push_back(ctx.SetReply("451", "4.3.0", "negotiate").ok());
  };
  h.at_abort = [&](Context& ctx) {
    ok.push_back(ctx.SetReply("451", "4.3.0", "abort").ok());
  };
  FilterTester t(HookedFactory(&h));
  t.Negotiate();
  StageResult r = t.Mail("<a@example.com>");
  EXPECT_EQ(r.status, Status::kTempfail);
  EXPECT_EQ(r.reply, "");
  t.Abort();
  r = t.Mail("<a@example.com>");
  EXPECT_EQ(r.status, Status::kTempfail);
  EXPECT_EQ(r.reply, "");
  EXPECT_EQ(ok, (std::vector<bool>{false, false}));
}

// Found as: a header value echoed from a large body chunk made an 'h' packet
// of 141324 bytes with the default maximum payload of 65535; the MTA refuses
// such a packet and drops the connection.
TEST(EngineRegressionTest, PacketsOverTheNegotiatedPayloadAreRefused) {
  Hooks h;
  std::vector<bool> ok;
  std::string big(70000, 'v');
  h.at_eom = [&](Context& ctx) {
    ok.push_back(ctx.AddHeader("X-Big", big).ok());
    ok.push_back(ctx.InsertHeader(0, "X-Big", big).ok());
    ok.push_back(ctx.ChangeHeader("Subject", 1, big).ok());
    ok.push_back(ctx.ChangeFrom("<a@b>", big).ok());
    ok.push_back(ctx.AddRecipient(big).ok());
    ok.push_back(ctx.AddRecipient("<a@b>", big).ok());
    ok.push_back(ctx.DeleteRecipient(big).ok());
    ok.push_back(ctx.Quarantine(big).ok());
    ok.push_back(ctx.SetReply("550", "5.7.1", big).ok());
    ok.push_back(ctx.ReplaceBody(big).ok());  // sent in chunks: fine
  };
  FilterTester t(HookedFactory(&h));
  t.Negotiate();  // the full offer: the default payload size
  StageResult r = t.EndOfMessage();
  EXPECT_EQ(ok, (std::vector<bool>{false, false, false, false, false, false,
                                   false, false, false, true}));
  EXPECT_EQ(r.status, Status::kReject);
  EXPECT_EQ(r.reply, "");
  ASSERT_EQ(r.modifications.size(), 1u);  // the replacement body
  EXPECT_EQ(r.replace_body_packets, 2);

  // With 1M payloads negotiated, the same calls fit.
  Hooks h2;
  std::vector<bool> ok2;
  h2.at_eom = [&](Context& ctx) {
    ok2.push_back(ctx.AddHeader("X-Big", big).ok());
    ok2.push_back(ctx.SetReply("550", "5.7.1", big).ok());
  };
  FilterOptions o;
  o.protocol = p::kMaxDataSize1M;
  FilterTester t2(HookedFactory(&h2, o));
  codec::OptionNegotiation offer = FilterTester::FullOffer();
  offer.protocol |= p::kMaxDataSize1M;
  t2.Negotiate(offer);
  ASSERT_EQ(t2.negotiated().max_payload, codec::kMaxPayload1M);
  r = t2.EndOfMessage();
  EXPECT_EQ(ok2, (std::vector<bool>{true, true}));
  EXPECT_EQ(r.modifications.size(), 1u);
  EXPECT_EQ(r.reply.size(), big.size() + 10);
}

}  // namespace
}  // namespace milter::client
