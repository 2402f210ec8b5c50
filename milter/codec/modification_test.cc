// Tests of owned modifications: encoding round trips through the decoder,
// WireSize against the real encoding, names, required actions.

#include "milter/codec/modification.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"

namespace milter::codec {
namespace {

std::vector<Modification> AllKinds() {
  return {
      mod::AddHeader{"X-A", " a"},
      mod::InsertHeader{0, "X-B", "b"},
      mod::ChangeHeader{2, "Subject", ""},
      mod::ChangeFrom{"<s@example.org>", std::nullopt},
      mod::ChangeFrom{"<s@example.org>", "SIZE=10"},
      mod::AddRecipient{"<r@example.org>", std::nullopt},
      mod::AddRecipient{"<r@example.org>", "NOTIFY=NEVER"},
      mod::DeleteRecipient{"<d@example.org>"},
      mod::ReplaceBody{""},
      mod::ReplaceBody{std::string(2 * kBodyChunkSize + 7, 'x')},
      mod::Quarantine{"suspicious"},
  };
}

// Decodes every packet of `bytes` back into modifications (replace-body
// chunks concatenated).
std::vector<Modification> DecodeAll(const std::string& bytes) {
  ResponseDecoder decoder;
  decoder.Feed(bytes);
  std::vector<Modification> out;
  while (true) {
    auto next = decoder.Next();
    EXPECT_TRUE(next.ok()) << next.status();
    if (!next.ok() || !next->has_value()) break;
    std::optional<Modification> m = ModificationOf(**next);
    EXPECT_TRUE(m.has_value());
    if (!m) break;
    if (!out.empty() && std::holds_alternative<mod::ReplaceBody>(*m) &&
        std::holds_alternative<mod::ReplaceBody>(out.back())) {
      std::get<mod::ReplaceBody>(out.back()).data +=
          std::get<mod::ReplaceBody>(*m).data;
    } else {
      out.push_back(*std::move(m));
    }
  }
  return out;
}

TEST(ModificationTest, EncodeThenDecodeGivesTheSameModification) {
  for (const Modification& m : AllKinds()) {
    std::string bytes;
    EncodeModification(m, &bytes);
    std::vector<Modification> back = DecodeAll(bytes);
    ASSERT_EQ(back.size(), 1u) << ToString(m);
    EXPECT_EQ(back[0], m) << ToString(m);
  }
}

TEST(ModificationTest, WireSizeIsTheEncodedSize) {
  for (const Modification& m : AllKinds()) {
    std::string bytes;
    EncodeModification(m, &bytes);
    EXPECT_EQ(WireSize(m), bytes.size()) << ToString(m);
  }
}

TEST(ModificationTest, NamesAndActions) {
  EXPECT_STREQ(ModificationName(mod::AddRecipient{"<a>", std::nullopt}),
               "add-recipient");
  EXPECT_STREQ(ModificationName(mod::AddRecipient{"<a>", "X=1"}),
               "add-recipient-with-args");
  EXPECT_EQ(RequiredAction(mod::AddRecipient{"<a>", "X=1"}),
            action::kAddRecipientWithArgs);
  EXPECT_EQ(RequiredAction(mod::InsertHeader{}), action::kAddHeaders);
  EXPECT_EQ(RequiredAction(mod::Quarantine{}), action::kQuarantine);
  EXPECT_EQ(ToString(mod::ChangeHeader{2, "Subject", "x\ny"}),
            "change-header[2] Subject: \"x\\ny\"");
  EXPECT_EQ(ToString(mod::ReplaceBody{"abc"}),
            "replace-body (3 bytes) \"abc\"");
}

TEST(ModificationTest, VerdictsAreNotModifications) {
  EXPECT_FALSE(ModificationOf(Continue{}).has_value());
  EXPECT_FALSE(ModificationOf(ReplyCode{"550 no"}).has_value());
  EXPECT_FALSE(ModificationOf(Progress{}).has_value());
}

TEST(EncodeWithinTest, RefusesAPacketAboveTheNegotiatedMaximum) {
  std::string out = "keep";
  std::string big(kDefaultMaxPayload, 'v');
  absl::Status s =
      EncodeResponseWithin(AddHeader{"X", big}, kDefaultMaxPayload, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  EXPECT_EQ(out, "keep");  // nothing appended
  EXPECT_TRUE(
      EncodeResponseWithin(AddHeader{"X", "v"}, kDefaultMaxPayload, &out).ok());
  EXPECT_GT(out.size(), 4u);
  std::string helo(kDefaultMaxPayload, 'h');
  EXPECT_FALSE(EncodeCommandWithin(Helo{helo}, kDefaultMaxPayload, &out).ok());
  EXPECT_TRUE(EncodeCommandWithin(Helo{helo}, kMaxPayload256K, &out).ok());
}

}  // namespace
}  // namespace milter::codec
