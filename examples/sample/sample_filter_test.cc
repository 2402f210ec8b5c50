// Unit tests of the example filter with milter::testing::FilterTester:
// negotiation (with and without the MTA's no-reply flags), the rejected
// sender, the end-of-message changes, REPLACE, NOMOD, and no state carried
// from one message to the next.

#include "examples/sample/sample_filter.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "milter/client/filter_factory.h"
#include "milter/client/testing.h"

namespace sample {
namespace {

using milter::client::Modification;
using milter::client::Status;
namespace mod = milter::client::mod;
using milter::testing::FilterTester;
using ::testing::ElementsAre;

class SampleFilterTest : public ::testing::Test {
 protected:
  SampleFilterTest() : t_(MakeSampleFactory()) {
    EXPECT_TRUE(t_.Negotiate().error.ok());
  }
  // A message up to end of headers; returns the end-of-message result.
  milter::testing::StageResult Message(const std::string& subject,
                                       const std::string& body = "hi\r\n") {
    EXPECT_EQ(t_.Mail("<a@example.net>").status, Status::kContinue);
    // No-reply stages: the filter sends nothing.
    EXPECT_EQ(t_.Rcpt("<b@Example.ORG>").status, Status::kNoReply);
    EXPECT_EQ(t_.Rcpt("<c@other.test>").status, Status::kNoReply);
    EXPECT_EQ(t_.Header("From", "a@example.net").status, Status::kNoReply);
    EXPECT_EQ(t_.Header("Subject", subject).status, Status::kNoReply);
    return t_.EndOfMessage(body);
  }
  FilterTester t_;
};

TEST_F(SampleFilterTest, NegotiatesOnlyTheStagesItUses) {
  namespace p = milter::codec::protocol;
  uint32_t flags = t_.negotiated().protocol;
  EXPECT_TRUE(flags & p::kNoConnect);
  EXPECT_TRUE(flags & p::kNoHelo);
  EXPECT_TRUE(flags & p::kNoBody);
  EXPECT_TRUE(flags & p::kNoEndOfHeaders);
  EXPECT_FALSE(flags & p::kNoMail);
  EXPECT_FALSE(flags & p::kNoRcpt);
  EXPECT_FALSE(flags & p::kNoHeaders);
  EXPECT_TRUE(flags & p::kNoReplyHeader);
  EXPECT_TRUE(flags & p::kNoReplyRcpt);
}

TEST(SampleFilterOldMtaTest, RepliesForAnMtaWithoutNoReplyFlags) {
  FilterTester t(MakeSampleFactory());
  t.Negotiate({6, milter::codec::action::kAll, 0});
  EXPECT_EQ(t.Mail("<a@example.net>").status, Status::kContinue);
  EXPECT_EQ(t.Rcpt("<b@example.org>").status, Status::kContinue);
  EXPECT_EQ(t.Header("Subject", "x").status, Status::kContinue);
  EXPECT_EQ(t.EndOfMessage().modifications.size(), 3u);
}

TEST_F(SampleFilterTest, RejectsTheRejectSender) {
  auto r = t_.Mail("<reject@example.com>");
  EXPECT_EQ(r.status, Status::kReject);
  EXPECT_EQ(r.reply, "550 5.7.1 Sender rejected by sample filter");
}

TEST_F(SampleFilterTest, ModifiesAtEndOfMessage) {
  auto r = Message("hello");
  EXPECT_EQ(r.status, Status::kContinue);
  EXPECT_THAT(r.modifications,
              ElementsAre(Modification(mod::AddHeader{"X-Sample", "yes"}),
                          Modification(mod::ChangeHeader{1, "Subject",
                                                         "[sample] hello"}),
                          Modification(mod::AddRecipient{"<added@Example.ORG>",
                                                         std::nullopt})));
}

TEST_F(SampleFilterTest, ReplacesTheBodyOnReplace) {
  auto r = Message("please REPLACE me");
  ASSERT_EQ(r.modifications.size(), 4u);
  EXPECT_EQ(r.modifications[3], Modification(mod::ReplaceBody{"replaced\r\n"}));
}

TEST_F(SampleFilterTest, NomodAcceptsWithoutChanges) {
  auto r = Message("x NOMOD y");
  EXPECT_EQ(r.status, Status::kAccept);
  EXPECT_TRUE(r.modifications.empty());
}

TEST_F(SampleFilterTest, StateDoesNotLeakAcrossMessages) {
  Message("REPLACE");
  EXPECT_EQ(t_.Abort().status, Status::kNoReply);
  EXPECT_EQ(t_.Mail("<a@example.net>").status, Status::kContinue);
  EXPECT_EQ(t_.Rcpt("<z@second.test>").status, Status::kNoReply);
  auto r = t_.EndOfMessage();
  EXPECT_THAT(
      r.modifications,
      ElementsAre(Modification(mod::AddHeader{"X-Sample", "yes"}),
                  Modification(mod::ChangeHeader{1, "Subject", "[sample] "}),
                  Modification(
                      mod::AddRecipient{"<added@second.test>", std::nullopt})));
}

}  // namespace
}  // namespace sample
