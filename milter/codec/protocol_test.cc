// Protocol constants: values against sendmail's mfdef.h/mfapi.h, flag names,
// macro stage table.

#include "milter/codec/protocol.h"

#include "gtest/gtest.h"
#include "milter/codec/message.h"

namespace milter::codec {
namespace {

TEST(Protocol, ValuesMatchLibmilter) {
  EXPECT_EQ(protocol::kAll & 0x001FFFFF, 0x001FFFFFu);  // SMFI_CURR_PROT
  EXPECT_EQ(action::kAll, 0x1FFu);                      // SMFI_CURR_ACTS
  EXPECT_EQ(protocol::kInternal, 0x70000000u);          // SMFI_INTERNAL
  EXPECT_EQ(protocol::kHeaderLeadingSpace, 0x00100000u);
  EXPECT_EQ(protocol::kMaxDataSize256K, 0x10000000u);
  EXPECT_EQ(protocol::kMaxDataSize1M, 0x20000000u);
  EXPECT_EQ(protocol::kVersion1Default, 0x3Fu);
  EXPECT_EQ(action::kVersion1Default, 0x0Fu);
  EXPECT_EQ(protocol::kAllNoReply & protocol::kAllNoSend, 0u);
  EXPECT_EQ(kDefaultMaxPayload, 65535u);
  EXPECT_EQ(kMaxPayload256K, 262143u);
  EXPECT_EQ(kMaxPayload1M, 1048575u);
}

TEST(Protocol, ActionFlagNames) {
  EXPECT_EQ(ActionFlagsToString(0), "none");
  EXPECT_EQ(ActionFlagsToString(action::kAddHeaders | action::kChangeBody),
            "add-headers|change-body");
  EXPECT_EQ(ActionFlagsToString(action::kAll),
            "add-headers|change-body|add-recipient|delete-recipient|"
            "change-headers|quarantine|change-from|add-recipient-with-args|"
            "set-symbol-list");
  EXPECT_EQ(ActionFlagsToString(0x1000 | action::kQuarantine),
            "quarantine|0x1000");
}

TEST(Protocol, ProtocolFlagNames) {
  EXPECT_EQ(ProtocolFlagsToString(0), "none");
  EXPECT_EQ(ProtocolFlagsToString(protocol::kNoConnect | protocol::kSkip),
            "no-connect|skip");
  EXPECT_EQ(ProtocolFlagsToString(protocol::kNoReplyHeader |
                                  protocol::kHeaderLeadingSpace |
                                  protocol::kMaxDataSize1M),
            "no-reply-header|header-leading-space|max-data-size-1m");
  EXPECT_EQ(ProtocolFlagsToString(0x80000000), "0x80000000");
  // Every defined bit has a name: no hex left for the full set.
  std::string all = ProtocolFlagsToString(protocol::kAll);
  EXPECT_EQ(all.find("0x"), std::string::npos) << all;
  EXPECT_NE(all.find("rcpt-rejected"), std::string::npos);
  EXPECT_NE(all.find("no-reply-body"), std::string::npos);
}

TEST(Protocol, MacroStages) {
  EXPECT_EQ(MacroStageForCommand('C'), 0);
  EXPECT_EQ(MacroStageForCommand('H'), 1);
  EXPECT_EQ(MacroStageForCommand('M'), 2);
  EXPECT_EQ(MacroStageForCommand('R'), 3);
  EXPECT_EQ(MacroStageForCommand('T'), 4);
  EXPECT_EQ(MacroStageForCommand('E'), 5);
  EXPECT_EQ(MacroStageForCommand('N'), 6);
  EXPECT_EQ(MacroStageForCommand('L'), -1);
  EXPECT_EQ(MacroStageForCommand('B'), -1);
  EXPECT_EQ(MacroStageForCommand('U'), -1);
  for (int s = 0; s < kNumMacroStages; ++s) {
    auto stage = static_cast<MacroStage>(s);
    EXPECT_EQ(MacroStageForCommand(CommandForMacroStage(stage)), s);
  }
  EXPECT_STREQ(MacroStageName(MacroStage::kConnect), "connect");
  EXPECT_STREQ(MacroStageName(MacroStage::kEndOfHeaders), "end-of-header");
  EXPECT_STREQ(MacroStageName(static_cast<MacroStage>(9)), "?");
}

TEST(Protocol, MaxPayloadForFlags) {
  EXPECT_EQ(MaxPayloadForFlags(0), kDefaultMaxPayload);
  EXPECT_EQ(MaxPayloadForFlags(protocol::kMaxDataSize256K), kMaxPayload256K);
  EXPECT_EQ(MaxPayloadForFlags(protocol::kMaxDataSize1M), kMaxPayload1M);
  EXPECT_EQ(
      MaxPayloadForFlags(protocol::kMaxDataSize1M | protocol::kMaxDataSize256K),
      kMaxPayload1M);
}

TEST(Protocol, CodesMatchMfdef) {
  EXPECT_EQ(static_cast<char>(CommandCode::kEndOfMessage), 'E');
  EXPECT_EQ(static_cast<char>(CommandCode::kQuitNewConnection), 'K');
  EXPECT_EQ(static_cast<char>(ResponseCode::kAddRecipientWithArgs), '2');
  EXPECT_EQ(static_cast<char>(ResponseCode::kShutdown), '4');
  EXPECT_EQ(static_cast<char>(ResponseCode::kConnectionFail), 'f');
  EXPECT_EQ(static_cast<char>(Family::kUnix), 'L');
}

}  // namespace
}  // namespace milter::codec
