// Option negotiation: the filter side (NegotiateAsFilter, MakeReply) and the
// MTA side (AcceptFilterReply), with libmilter's rules for missing flags.

#include "milter/codec/negotiation.h"

#include "gtest/gtest.h"

namespace milter::codec {
namespace {

// What Postfix 3.7 offers (see testdata/recorded): version 6, every action,
// every protocol flag of version 6.
constexpr OptionNegotiation kPostfixOffer{6, 0x1FF, 0x1FFFFF};

TEST(NegotiateAsFilter, VersionIsTheLowerOne) {
  auto n = NegotiateAsFilter(kPostfixOffer, {2, 0, 0});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->version, 2u);
  n = NegotiateAsFilter({4, 0x1FF, 0x1FFFFF}, {6, 0, 0});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->version, 4u);
  n = NegotiateAsFilter({9, 0x1FF, 0x1FFFFF}, {9, 0, 0});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->version, kMaxVersion);
}

TEST(NegotiateAsFilter, TooOldMtaFails) {
  auto n = NegotiateAsFilter({1, 0x1FF, 0x1FFFFF}, {6, 0, 0});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(NegotiateAsFilter, ActionsMustAllBeOffered) {
  auto n = NegotiateAsFilter(
      {6, action::kAddHeaders | action::kChangeHeaders, 0x1FFFFF},
      {6, action::kAddHeaders | action::kChangeBody, 0});
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(n.status().message().find("change-body"), std::string::npos)
      << n.status();

  n = NegotiateAsFilter(kPostfixOffer,
                        {6, action::kAddHeaders | action::kAddRecipient, 0});
  ASSERT_TRUE(n.ok());
  // Only what the filter asked for, not everything offered.
  EXPECT_EQ(n->actions, action::kAddHeaders | action::kAddRecipient);
}

TEST(NegotiateAsFilter, ZeroOfferMeansVersion1Defaults) {
  auto n = NegotiateAsFilter(
      {2, 0, 0}, {6, action::kVersion1Default, protocol::kNoConnect});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->actions, action::kVersion1Default);
  EXPECT_EQ(n->protocol, protocol::kNoConnect);
  EXPECT_FALSE(NegotiateAsFilter({2, 0, 0}, {6, action::kQuarantine, 0}).ok());
}

TEST(NegotiateAsFilter, MissingProtocolFlagsAreEmulated) {
  // An MTA without no-reply flags (an old Sendmail): the filter still gets
  // them, emulated by the library, and they are not sent on the wire.
  uint32_t want = protocol::kNoReplyHeader | protocol::kNoHelo |
                  protocol::kSkip | protocol::kNoReplyRcpt;
  auto n =
      NegotiateAsFilter({6, 0x1FF, protocol::kVersion1Default}, {6, 0, want});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->protocol, protocol::kNoHelo);
  EXPECT_EQ(n->emulated, protocol::kNoReplyHeader | protocol::kSkip |
                             protocol::kNoReplyRcpt);
  EXPECT_TRUE(n->Sends(protocol::kNoConnect));
  EXPECT_FALSE(n->Sends(protocol::kNoHelo));
  EXPECT_FALSE(n->NoReply(protocol::kNoReplyHeader));  // not on the wire

  n = NegotiateAsFilter(kPostfixOffer, {6, 0, want});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->protocol, want);
  EXPECT_EQ(n->emulated, 0u);
  EXPECT_TRUE(n->NoReply(protocol::kNoReplyHeader));
}

TEST(NegotiateAsFilter, MaxDataSize) {
  // Granted only when both sides set it; the largest common one wins.
  auto n = NegotiateAsFilter(
      {6, 0x1FF,
       0x1FFFFF | protocol::kMaxDataSize1M | protocol::kMaxDataSize256K},
      {6, 0, protocol::kMaxDataSize1M | protocol::kMaxDataSize256K});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->protocol, protocol::kMaxDataSize1M);
  EXPECT_EQ(n->max_payload, kMaxPayload1M);
  EXPECT_EQ(n->emulated, 0u);

  n = NegotiateAsFilter(
      {6, 0x1FF, 0x1FFFFF | protocol::kMaxDataSize256K},
      {6, 0, protocol::kMaxDataSize1M | protocol::kMaxDataSize256K});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->protocol, protocol::kMaxDataSize256K);
  EXPECT_EQ(n->max_payload, kMaxPayload256K);

  n = NegotiateAsFilter(kPostfixOffer, {6, 0, protocol::kMaxDataSize1M});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->protocol, 0u);
  EXPECT_EQ(n->max_payload, kDefaultMaxPayload);
  EXPECT_EQ(n->emulated, 0u);  // sizes are never emulated
}

TEST(NegotiateAsFilter, InternalBitsAreNotSent) {
  auto n = NegotiateAsFilter({6, 0x1FF, 0xFFFFFFFF},
                             {6, 0, 0x40000000 | protocol::kNoUnknown});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->protocol, protocol::kNoUnknown);
  EXPECT_EQ(n->emulated, 0u);
}

TEST(MakeReply, CarriesTheSettledOptions) {
  auto n = NegotiateAsFilter(kPostfixOffer,
                             {6, action::kAddHeaders, protocol::kNoUnknown});
  ASSERT_TRUE(n.ok());
  OptionNegotiationReply r = MakeReply(*n);
  EXPECT_EQ(r.version, 6u);
  EXPECT_EQ(r.actions, action::kAddHeaders);
  EXPECT_EQ(r.protocol, protocol::kNoUnknown);
  for (const auto& list : r.symbol_lists) EXPECT_FALSE(list.has_value());
}

TEST(AcceptFilterReply, ValidReply) {
  OptionNegotiationReply reply{6,
                               action::kAddHeaders | action::kChangeBody,
                               protocol::kNoReplyHeader | protocol::kSkip,
                               {}};
  auto n = AcceptFilterReply(kPostfixOffer, reply);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->version, 6u);
  EXPECT_EQ(n->actions, reply.actions);
  EXPECT_EQ(n->protocol, reply.protocol);
  EXPECT_EQ(n->max_payload, kDefaultMaxPayload);
  EXPECT_TRUE(n->NoReply(protocol::kNoReplyHeader));
}

TEST(AcceptFilterReply, Refusals) {
  EXPECT_FALSE(AcceptFilterReply(kPostfixOffer, {7, 0, 0, {}}).ok());
  EXPECT_FALSE(AcceptFilterReply(kPostfixOffer, {1, 0, 0, {}}).ok());
  EXPECT_TRUE(AcceptFilterReply(kPostfixOffer, {2, 0, 0, {}}).ok());
  auto bad_action =
      AcceptFilterReply({6, action::kAddHeaders, 0x1FFFFF},
                        {6, action::kAddHeaders | action::kQuarantine, 0, {}});
  ASSERT_FALSE(bad_action.ok());
  EXPECT_NE(bad_action.status().message().find("quarantine"),
            std::string::npos);
  auto bad_flag = AcceptFilterReply({6, 0x1FF, protocol::kNoConnect},
                                    {6, 0, protocol::kNoHelo, {}});
  ASSERT_FALSE(bad_flag.ok());
  EXPECT_NE(bad_flag.status().message().find("no-helo"), std::string::npos);
}

TEST(AcceptFilterReply, SizeBits) {
  // The filter may ask for a size the MTA did not offer; it is not granted.
  auto n =
      AcceptFilterReply(kPostfixOffer, {6, 0, protocol::kMaxDataSize1M, {}});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->protocol, 0u);
  EXPECT_EQ(n->max_payload, kDefaultMaxPayload);
  n = AcceptFilterReply({6, 0x1FF, 0x1FFFFF | protocol::kMaxDataSize256K},
                        {6, 0, protocol::kMaxDataSize256K, {}});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->protocol, protocol::kMaxDataSize256K);
  EXPECT_EQ(n->max_payload, kMaxPayload256K);
}

}  // namespace
}  // namespace milter::codec
