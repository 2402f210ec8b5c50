// Milter protocol constants: command and response codes, action and protocol
// flag bits, protocol versions, size limits and macro stage indices, as defined
// by sendmail's libmilter (mfdef.h, mfapi.h). Pure definitions, no I/O.
//
// Naming follows the field: the "MTA" (server side) sends commands, the
// "filter" (client side, libmilter's role) sends responses.

#ifndef MILTER_CODEC_PROTOCOL_H_
#define MILTER_CODEC_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace milter::codec {

// Protocol versions this codec speaks.
inline constexpr uint32_t kMinVersion = 2;
inline constexpr uint32_t kMaxVersion = 6;

// Bytes of the big-endian length prefix of every packet.
inline constexpr size_t kLengthBytes = 4;

// Largest payload (bytes after the code byte) accepted by default; raised only
// by negotiating kMaxDataSize256K or kMaxDataSize1M.
inline constexpr size_t kDefaultMaxPayload = 65535;
inline constexpr size_t kMaxPayload256K = 256 * 1024 - 1;
inline constexpr size_t kMaxPayload1M = 1024 * 1024 - 1;

// Largest body chunk an MTA sends and a filter's replace-body packet carries.
inline constexpr size_t kBodyChunkSize = 65535;

// Codes of packets the MTA sends to the filter.
enum class CommandCode : char {
  kAbort = 'A',              // abort the current message
  kBody = 'B',               // body chunk
  kConnect = 'C',            // connection information
  kMacro = 'D',              // define macros for the next command
  kEndOfMessage = 'E',       // final body chunk, end of message
  kHelo = 'H',               // HELO/EHLO
  kQuitNewConnection = 'K',  // quit, keep the connection for a new session
  kHeader = 'L',             // one header
  kMail = 'M',               // MAIL FROM
  kEndOfHeaders = 'N',       // end of headers
  kOptionNegotiation = 'O',  // option negotiation
  kQuit = 'Q',               // quit and close
  kRcpt = 'R',               // RCPT TO
  kData = 'T',               // DATA
  kUnknown = 'U',            // an SMTP command the MTA does not know
};

// Codes of packets the filter sends to the MTA.
enum class ResponseCode : char {
  kAddRecipient = '+',          // add a recipient
  kDeleteRecipient = '-',       // remove a recipient
  kAddRecipientWithArgs = '2',  // add a recipient with ESMTP arguments
  kShutdown = '4',              // 421: shut the SMTP connection down
  kAccept = 'a',                // accept
  kReplaceBody = 'b',           // replace the body (one chunk of it)
  kContinue = 'c',              // continue
  kDiscard = 'd',               // discard silently
  kChangeFrom = 'e',            // change the envelope sender
  kConnectionFail = 'f',        // make the MTA drop the connection
  kAddHeader = 'h',             // append a header
  kInsertHeader = 'i',          // insert a header at an index
  kChangeHeader = 'm',          // change or delete a header
  kOptionNegotiation = 'O',     // option negotiation reply
  kProgress = 'p',              // still working, reset the MTA's timeout
  kQuarantine = 'q',            // quarantine the message
  kReject = 'r',                // reject (5xx)
  kSkip = 's',                  // skip further body chunks
  kTempfail = 't',              // temporary failure (4xx)
  kReplyCode = 'y',             // reject or tempfail with this SMTP reply
};

// Family byte of the connect command.
enum class Family : char {
  kUnknown = 'U',
  kUnix = 'L',
  kInet = '4',
  kInet6 = '6',
};

// Action flags: what the filter may do to a message (SMFIF_*).
namespace action {
inline constexpr uint32_t kAddHeaders = 0x001;
inline constexpr uint32_t kChangeBody = 0x002;
inline constexpr uint32_t kAddRecipient = 0x004;
inline constexpr uint32_t kDeleteRecipient = 0x008;
inline constexpr uint32_t kChangeHeaders = 0x010;
inline constexpr uint32_t kQuarantine = 0x020;
inline constexpr uint32_t kChangeFrom = 0x040;
inline constexpr uint32_t kAddRecipientWithArgs = 0x080;
inline constexpr uint32_t kSetSymbolList = 0x100;
// Every action protocol version 6 defines.
inline constexpr uint32_t kAll = 0x1FF;
// What an MTA that sends 0 means (SMFI_V1_ACTS).
inline constexpr uint32_t kVersion1Default = 0x00F;
}  // namespace action

// Protocol flags (SMFIP_*): steps the MTA must not send (kNo*), steps the
// filter will not reply to (kNoReply*), and extensions.
namespace protocol {
inline constexpr uint32_t kNoConnect = 0x00000001;
inline constexpr uint32_t kNoHelo = 0x00000002;
inline constexpr uint32_t kNoMail = 0x00000004;
inline constexpr uint32_t kNoRcpt = 0x00000008;
inline constexpr uint32_t kNoBody = 0x00000010;
inline constexpr uint32_t kNoHeaders = 0x00000020;
inline constexpr uint32_t kNoEndOfHeaders = 0x00000040;
inline constexpr uint32_t kNoReplyHeader = 0x00000080;
inline constexpr uint32_t kNoUnknown = 0x00000100;
inline constexpr uint32_t kNoData = 0x00000200;
inline constexpr uint32_t kSkip = 0x00000400;          // MTA understands SKIP
inline constexpr uint32_t kRcptRejected = 0x00000800;  // send rejected RCPTs
inline constexpr uint32_t kNoReplyConnect = 0x00001000;
inline constexpr uint32_t kNoReplyHelo = 0x00002000;
inline constexpr uint32_t kNoReplyMail = 0x00004000;
inline constexpr uint32_t kNoReplyRcpt = 0x00008000;
inline constexpr uint32_t kNoReplyData = 0x00010000;
inline constexpr uint32_t kNoReplyUnknown = 0x00020000;
inline constexpr uint32_t kNoReplyEndOfHeaders = 0x00040000;
inline constexpr uint32_t kNoReplyBody = 0x00080000;
inline constexpr uint32_t kHeaderLeadingSpace = 0x00100000;
inline constexpr uint32_t kMaxDataSize256K = 0x10000000;
inline constexpr uint32_t kMaxDataSize1M = 0x20000000;
// Every "don't send" flag.
inline constexpr uint32_t kAllNoSend = kNoConnect | kNoHelo | kNoMail |
                                       kNoRcpt | kNoBody | kNoHeaders |
                                       kNoEndOfHeaders | kNoUnknown | kNoData;
// Every "no reply" flag; libmilter fakes these for an MTA that lacks them.
inline constexpr uint32_t kAllNoReply =
    kNoReplyHeader | kNoReplyConnect | kNoReplyHelo | kNoReplyMail |
    kNoReplyRcpt | kNoReplyData | kNoReplyUnknown | kNoReplyEndOfHeaders |
    kNoReplyBody;
// Flags only the library sets (SMFI_INTERNAL).
inline constexpr uint32_t kInternal = 0x70000000;
// Every flag protocol version 6 defines (SMFI_CURR_PROT) plus the size bits.
inline constexpr uint32_t kAll = 0x001FFFFF | kMaxDataSize256K | kMaxDataSize1M;
// What an MTA that sends 0 means (SMFI_V1_PROT).
inline constexpr uint32_t kVersion1Default = 0x0000003F;
}  // namespace protocol

// Macro stages: the index a symbol list (setsymlist) names. Note that end of
// headers (6) comes after end of message (5) numerically but not in protocol
// order.
enum class MacroStage : int {
  kConnect = 0,
  kHelo = 1,
  kMail = 2,
  kRcpt = 3,
  kData = 4,
  kEndOfMessage = 5,
  kEndOfHeaders = 6,
};
inline constexpr int kNumMacroStages = 7;

// The macro stage a command's `D` packet refers to, or -1 if that command
// carries no macros (e.g. header, body, unknown).
int MacroStageForCommand(char command_code);

// The command code whose macros a stage holds ('C', 'H', 'M', 'R', 'T', 'E',
// 'N').
char CommandForMacroStage(MacroStage stage);

// Human-readable names: "add-headers|change-body", "no-connect|skip", "helo".
std::string ActionFlagsToString(uint32_t actions);
std::string ProtocolFlagsToString(uint32_t flags);
const char* MacroStageName(MacroStage stage);

// Largest payload a peer may send once `protocol_flags` are negotiated.
size_t MaxPayloadForFlags(uint32_t protocol_flags);

}  // namespace milter::codec

#endif  // MILTER_CODEC_PROTOCOL_H_
