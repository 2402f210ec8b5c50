// Codes and names of the typed packets.

#include "milter/codec/message.h"

#include <type_traits>

namespace milter::codec {
namespace {

template <typename T>
constexpr char CommandCodeFor() {
  if constexpr (std::is_same_v<T, OptionNegotiation>) return 'O';
  if constexpr (std::is_same_v<T, DefineMacros>) return 'D';
  if constexpr (std::is_same_v<T, Connect>) return 'C';
  if constexpr (std::is_same_v<T, Helo>) return 'H';
  if constexpr (std::is_same_v<T, Mail>) return 'M';
  if constexpr (std::is_same_v<T, Rcpt>) return 'R';
  if constexpr (std::is_same_v<T, Data>) return 'T';
  if constexpr (std::is_same_v<T, Header>) return 'L';
  if constexpr (std::is_same_v<T, EndOfHeaders>) return 'N';
  if constexpr (std::is_same_v<T, BodyChunk>) return 'B';
  if constexpr (std::is_same_v<T, EndOfMessage>) return 'E';
  if constexpr (std::is_same_v<T, Unknown>) return 'U';
  if constexpr (std::is_same_v<T, Abort>) return 'A';
  if constexpr (std::is_same_v<T, Quit>) return 'Q';
  if constexpr (std::is_same_v<T, QuitNewConnection>) return 'K';
}

template <typename T>
constexpr char ResponseCodeFor() {
  if constexpr (std::is_same_v<T, OptionNegotiationReply>) return 'O';
  if constexpr (std::is_same_v<T, Continue>) return 'c';
  if constexpr (std::is_same_v<T, Accept>) return 'a';
  if constexpr (std::is_same_v<T, Reject>) return 'r';
  if constexpr (std::is_same_v<T, Tempfail>) return 't';
  if constexpr (std::is_same_v<T, Discard>) return 'd';
  if constexpr (std::is_same_v<T, Skip>) return 's';
  if constexpr (std::is_same_v<T, Progress>) return 'p';
  if constexpr (std::is_same_v<T, Shutdown>) return '4';
  if constexpr (std::is_same_v<T, ConnectionFail>) return 'f';
  if constexpr (std::is_same_v<T, ReplyCode>) return 'y';
  if constexpr (std::is_same_v<T, Quarantine>) return 'q';
  if constexpr (std::is_same_v<T, AddHeader>) return 'h';
  if constexpr (std::is_same_v<T, InsertHeader>) return 'i';
  if constexpr (std::is_same_v<T, ChangeHeader>) return 'm';
  if constexpr (std::is_same_v<T, ChangeFrom>) return 'e';
  if constexpr (std::is_same_v<T, AddRecipient>) return '+';
  if constexpr (std::is_same_v<T, AddRecipientWithArgs>) return '2';
  if constexpr (std::is_same_v<T, DeleteRecipient>) return '-';
  if constexpr (std::is_same_v<T, ReplaceBody>) return 'b';
}

}  // namespace

size_t StringList::size() const {
  size_t n = 0;
  for (char c : raw_) n += (c == '\0');
  return n;
}

CommandCode CodeOf(const Command& command) {
  return std::visit(
      [](const auto& c) {
        return static_cast<CommandCode>(
            CommandCodeFor<std::decay_t<decltype(c)>>());
      },
      command);
}

ResponseCode CodeOf(const Response& response) {
  return std::visit(
      [](const auto& r) {
        return static_cast<ResponseCode>(
            ResponseCodeFor<std::decay_t<decltype(r)>>());
      },
      response);
}

const char* CommandName(CommandCode code) {
  switch (code) {
    case CommandCode::kAbort:
      return "abort";
    case CommandCode::kBody:
      return "body";
    case CommandCode::kConnect:
      return "connect";
    case CommandCode::kMacro:
      return "define-macro";
    case CommandCode::kEndOfMessage:
      return "end-of-message";
    case CommandCode::kHelo:
      return "helo";
    case CommandCode::kQuitNewConnection:
      return "quit-new-connection";
    case CommandCode::kHeader:
      return "header";
    case CommandCode::kMail:
      return "envelope-from";
    case CommandCode::kEndOfHeaders:
      return "end-of-header";
    case CommandCode::kOptionNegotiation:
      return "negotiate";
    case CommandCode::kQuit:
      return "quit";
    case CommandCode::kRcpt:
      return "envelope-recipient";
    case CommandCode::kData:
      return "data";
    case CommandCode::kUnknown:
      return "unknown";
  }
  return "?";
}

const char* ResponseName(ResponseCode code) {
  switch (code) {
    case ResponseCode::kAddRecipient:
      return "add-recipient";
    case ResponseCode::kDeleteRecipient:
      return "delete-recipient";
    case ResponseCode::kAddRecipientWithArgs:
      return "add-recipient-with-args";
    case ResponseCode::kShutdown:
      return "shutdown";
    case ResponseCode::kAccept:
      return "accept";
    case ResponseCode::kReplaceBody:
      return "replace-body";
    case ResponseCode::kContinue:
      return "continue";
    case ResponseCode::kDiscard:
      return "discard";
    case ResponseCode::kChangeFrom:
      return "change-from";
    case ResponseCode::kConnectionFail:
      return "connection-fail";
    case ResponseCode::kAddHeader:
      return "add-header";
    case ResponseCode::kInsertHeader:
      return "insert-header";
    case ResponseCode::kChangeHeader:
      return "change-header";
    case ResponseCode::kOptionNegotiation:
      return "negotiate-reply";
    case ResponseCode::kProgress:
      return "progress";
    case ResponseCode::kQuarantine:
      return "quarantine";
    case ResponseCode::kReject:
      return "reject";
    case ResponseCode::kSkip:
      return "skip";
    case ResponseCode::kTempfail:
      return "temporary-failure";
    case ResponseCode::kReplyCode:
      return "reply-code";
  }
  return "?";
}

}  // namespace milter::codec
