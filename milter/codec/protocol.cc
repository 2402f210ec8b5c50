// Names of the protocol's flags and codes, for logs and errors.

#include "milter/codec/protocol.h"

#include "absl/strings/str_cat.h"

namespace milter::codec {
namespace {

struct FlagName {
  uint32_t bit;
  const char* name;
};

constexpr FlagName kActionNames[] = {
    {action::kAddHeaders, "add-headers"},
    {action::kChangeBody, "change-body"},
    {action::kAddRecipient, "add-recipient"},
    {action::kDeleteRecipient, "delete-recipient"},
    {action::kChangeHeaders, "change-headers"},
    {action::kQuarantine, "quarantine"},
    {action::kChangeFrom, "change-from"},
    {action::kAddRecipientWithArgs, "add-recipient-with-args"},
    {action::kSetSymbolList, "set-symbol-list"},
};

constexpr FlagName kProtocolNames[] = {
    {protocol::kNoConnect, "no-connect"},
    {protocol::kNoHelo, "no-helo"},
    {protocol::kNoMail, "no-mail"},
    {protocol::kNoRcpt, "no-rcpt"},
    {protocol::kNoBody, "no-body"},
    {protocol::kNoHeaders, "no-headers"},
    {protocol::kNoEndOfHeaders, "no-end-of-headers"},
    {protocol::kNoReplyHeader, "no-reply-header"},
    {protocol::kNoUnknown, "no-unknown"},
    {protocol::kNoData, "no-data"},
    {protocol::kSkip, "skip"},
    {protocol::kRcptRejected, "rcpt-rejected"},
    {protocol::kNoReplyConnect, "no-reply-connect"},
    {protocol::kNoReplyHelo, "no-reply-helo"},
    {protocol::kNoReplyMail, "no-reply-mail"},
    {protocol::kNoReplyRcpt, "no-reply-rcpt"},
    {protocol::kNoReplyData, "no-reply-data"},
    {protocol::kNoReplyUnknown, "no-reply-unknown"},
    {protocol::kNoReplyEndOfHeaders, "no-reply-end-of-headers"},
    {protocol::kNoReplyBody, "no-reply-body"},
    {protocol::kHeaderLeadingSpace, "header-leading-space"},
    {protocol::kMaxDataSize256K, "max-data-size-256k"},
    {protocol::kMaxDataSize1M, "max-data-size-1m"},
};

template <size_t N>
std::string FlagsToString(uint32_t flags, const FlagName (&names)[N]) {
  std::string out;
  uint32_t known = 0;
  for (const FlagName& f : names) {
    known |= f.bit;
    if ((flags & f.bit) == 0) continue;
    if (!out.empty()) out += '|';
    out += f.name;
  }
  if (uint32_t rest = flags & ~known; rest != 0) {
    if (!out.empty()) out += '|';
    absl::StrAppend(&out, "0x", absl::Hex(rest));
  }
  return out.empty() ? "none" : out;
}

}  // namespace

int MacroStageForCommand(char command_code) {
  switch (command_code) {
    case 'C':
      return static_cast<int>(MacroStage::kConnect);
    case 'H':
      return static_cast<int>(MacroStage::kHelo);
    case 'M':
      return static_cast<int>(MacroStage::kMail);
    case 'R':
      return static_cast<int>(MacroStage::kRcpt);
    case 'T':
      return static_cast<int>(MacroStage::kData);
    case 'E':
      return static_cast<int>(MacroStage::kEndOfMessage);
    case 'N':
      return static_cast<int>(MacroStage::kEndOfHeaders);
    default:
      return -1;
  }
}

char CommandForMacroStage(MacroStage stage) {
  static constexpr char kCodes[kNumMacroStages] = {'C', 'H', 'M', 'R',
                                                   'T', 'E', 'N'};
  return kCodes[static_cast<int>(stage)];
}

const char* MacroStageName(MacroStage stage) {
  static constexpr const char* kNames[kNumMacroStages] = {
      "connect", "helo",           "envelope-from", "envelope-recipient",
      "data",    "end-of-message", "end-of-header"};
  int i = static_cast<int>(stage);
  return i >= 0 && i < kNumMacroStages ? kNames[i] : "?";
}

std::string ActionFlagsToString(uint32_t actions) {
  return FlagsToString(actions, kActionNames);
}

std::string ProtocolFlagsToString(uint32_t flags) {
  return FlagsToString(flags, kProtocolNames);
}

size_t MaxPayloadForFlags(uint32_t protocol_flags) {
  if (protocol_flags & protocol::kMaxDataSize1M) return kMaxPayload1M;
  if (protocol_flags & protocol::kMaxDataSize256K) return kMaxPayload256K;
  return kDefaultMaxPayload;
}

}  // namespace milter::codec
