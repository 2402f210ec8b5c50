// What a relay (such as a milter manager) needs from the filter side: a reply
// passed on byte for byte, every verdict the MTA side can read (shutdown and
// connection-failure included), and modifications refused when their packets
// would exceed the size the MTA negotiated.

#include <string>

#include "gtest/gtest.h"
#include "milter/client/filter_factory.h"
#include "milter/client/testing.h"

namespace milter::client {
namespace {

using testing::FilterTester;

// Returns at end of message whatever the test sets.
class Scripted : public Filter {
 public:
  std::function<Status(Context&)> at_mail = [](Context&) {
    return Status::kContinue;
  };
  std::function<Status(Context&)> at_eom = [](Context&) {
    return Status::kContinue;
  };
  Status OnMailFrom(Context& ctx, std::string_view, EsmtpArgs) override {
    return at_mail(ctx);
  }
  Status OnEndOfMessage(Context& ctx) override { return at_eom(ctx); }
};

FilterFactory Factory(std::function<void(Scripted&)> setup) {
  return MakeFilterFactory<Scripted>(
      std::function<std::unique_ptr<Scripted>()>([setup] {
        auto f = std::make_unique<Scripted>();
        setup(*f);
        return f;
      }));
}

TEST(RelayTest, ReplyTextIsSentAsReceived) {
  // A reply read from another filter, '%' already doubled by it: sent byte
  // for byte (SetReply would double it again).
  const std::string relayed = "550-5.7.1 100%% spam\r\n550 5.7.1 go away";
  FilterTester t(Factory([&](Scripted& f) {
    f.at_mail = [&](Context& ctx) {
      EXPECT_TRUE(ctx.SetReplyText(relayed).ok());
      return Status::kReject;
    };
  }));
  t.Negotiate();
  auto r = t.Mail("<a@example.org>");
  EXPECT_EQ(r.status, Status::kReject);
  EXPECT_EQ(r.reply, relayed);
}

TEST(RelayTest, MalformedReplyTextIsRefused) {
  FilterTester t(Factory([](Scripted& f) {
    f.at_mail = [](Context& ctx) {
      EXPECT_FALSE(ctx.SetReplyText("250 ok").ok());
      EXPECT_FALSE(ctx.SetReplyText("550-a\r\n551 b").ok());
      EXPECT_FALSE(ctx.SetReplyText("hello").ok());
      return Status::kContinue;
    };
  }));
  t.Negotiate();
  EXPECT_EQ(t.Mail("<a@example.org>").status, Status::kContinue);
}

TEST(RelayTest, ShutdownAndConnectionFailureReachTheMta) {
  for (Status s : {Status::kShutdown, Status::kConnectionFail}) {
    FilterTester t(
        Factory([s](Scripted& f) { f.at_mail = [s](Context&) { return s; }; }));
    t.Negotiate();
    EXPECT_EQ(t.Mail("<a@example.org>").status, s) << StatusName(s);
  }
}

TEST(RelayTest, ModificationLargerThanTheNegotiatedPacketIsRefused) {
  absl::Status add, change, reply, small;
  FilterTester t(Factory([&](Scripted& f) {
    f.at_eom = [&](Context& ctx) {
      std::string big(codec::kDefaultMaxPayload, 'v');
      add = ctx.AddHeader("X-Big", big);
      change = ctx.ChangeHeader("Subject", 1, big);
      reply = ctx.SetReplyText("550 5.7.1 " + big);
      small = ctx.AddHeader("X-Small", "ok");
      // A large body is fine: it goes in chunks.
      EXPECT_TRUE(ctx.ReplaceBody(big + big).ok());
      return Status::kContinue;
    };
  }));
  codec::OptionNegotiation offer = FilterTester::FullOffer();
  offer.protocol &=
      ~(codec::protocol::kMaxDataSize256K | codec::protocol::kMaxDataSize1M);
  t.Negotiate(offer);
  auto r = t.EndOfMessage();
  EXPECT_EQ(add.code(), absl::StatusCode::kOutOfRange) << add;
  EXPECT_EQ(change.code(), absl::StatusCode::kOutOfRange) << change;
  EXPECT_EQ(reply.code(), absl::StatusCode::kOutOfRange) << reply;
  EXPECT_TRUE(small.ok()) << small;
  EXPECT_TRUE(r.error.ok()) << r.error;
  ASSERT_EQ(r.modifications.size(), 2u);
  EXPECT_EQ(r.modifications[0], Modification(mod::AddHeader{"X-Small", "ok"}));
  EXPECT_EQ(r.replace_body_packets, 2);  // 2 x 65535 bytes
}

}  // namespace
}  // namespace milter::client
