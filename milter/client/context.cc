// Context: macros, connection information, replies, progress and the
// modifications a filter records, each checked when called (see context.h).

#include "milter/client/context.h"

#include "absl/strings/str_cat.h"
#include "milter/codec/header_value.h"
#include "milter/codec/reply.h"

namespace milter::client {

namespace action = codec::action;

namespace {
// The no-reply flag covering a stage's answer, or 0.
uint32_t NoReplyFlagOf(Stage stage) {
  namespace p = codec::protocol;
  switch (stage) {
    case Stage::kConnect:
      return p::kNoReplyConnect;
    case Stage::kHelo:
      return p::kNoReplyHelo;
    case Stage::kMail:
      return p::kNoReplyMail;
    case Stage::kRcpt:
      return p::kNoReplyRcpt;
    case Stage::kData:
      return p::kNoReplyData;
    case Stage::kUnknown:
      return p::kNoReplyUnknown;
    case Stage::kHeader:
      return p::kNoReplyHeader;
    case Stage::kEndOfHeaders:
      return p::kNoReplyEndOfHeaders;
    case Stage::kBody:
      return p::kNoReplyBody;
    default:
      return 0;
  }
}

}  // namespace

const char* StageName(Stage stage) {
  switch (stage) {
    case Stage::kNone:
      return "none";
    case Stage::kNegotiate:
      return "negotiate";
    case Stage::kConnect:
      return "connect";
    case Stage::kHelo:
      return "helo";
    case Stage::kMail:
      return "envelope-from";
    case Stage::kRcpt:
      return "envelope-recipient";
    case Stage::kData:
      return "data";
    case Stage::kUnknown:
      return "unknown";
    case Stage::kHeader:
      return "header";
    case Stage::kEndOfHeaders:
      return "end-of-headers";
    case Stage::kBody:
      return "body";
    case Stage::kEndOfMessage:
      return "end-of-message";
    case Stage::kAbort:
      return "abort";
    case Stage::kClose:
      return "close";
  }
  return "unknown";
}

std::string_view Context::MacroOr(std::string_view name,
                                  std::string_view fallback) const {
  std::optional<std::string_view> v = GetMacro(name);
  return v ? *v : fallback;
}

const ConnectionInfo& Context::connection() const {
  static const ConnectionInfo* empty = new ConnectionInfo();
  return connection_ ? *connection_ : *empty;
}

const codec::MacroMap& Context::macros() const {
  static const codec::MacroMap* empty = new codec::MacroMap();
  return macros_ ? *macros_ : *empty;
}

absl::Status Context::SetReply(std::string_view code, std::string_view enhanced,
                               std::string_view text) {
  std::string_view lines[] = {text};
  return SetMultilineReply(code, enhanced, lines);
}

absl::Status Context::SetMultilineReply(
    std::string_view code, std::string_view enhanced,
    absl::Span<const std::string_view> lines) {
  if (stage_ == Stage::kNone || stage_ == Stage::kNegotiate ||
      stage_ == Stage::kAbort || stage_ == Stage::kClose) {
    // No verdict follows: the reply would wait for a later stage's.
    return absl::FailedPreconditionError(
        absl::StrCat("a reply is not allowed at ", StageName(stage_)));
  }
  absl::StatusOr<std::string> formatted =
      codec::FormatReply(code, enhanced, lines);
  if (!formatted.ok()) return formatted.status();
  return SetReplyText(*formatted);
}

absl::Status Context::SetReplyText(std::string_view text) {
  absl::StatusOr<codec::ParsedReply> parsed = codec::ParseReply(text);
  if (!parsed.ok()) return parsed.status();
  if (text.size() + 1 > negotiated_.max_payload) {
    return absl::OutOfRangeError(
        absl::StrCat("reply of ", text.size() + 1,
                     " bytes exceeds the negotiated maximum packet payload of ",
                     negotiated_.max_payload));
  }
  reply_ = std::string(text);
  return absl::OkStatus();
}

absl::Status Context::Progress() {
  if (stage_ == Stage::kNone || stage_ == Stage::kClose ||
      stage_ == Stage::kAbort || stage_ == Stage::kNegotiate) {
    return absl::FailedPreconditionError(
        absl::StrCat("progress is not allowed at ", StageName(stage_)));
  }
  if (negotiated_.NoReply(NoReplyFlagOf(stage_))) {
    // The MTA reads nothing at this stage: a 'p' would be taken as stray
    // data (or as the answer to its next command).
    return absl::FailedPreconditionError(
        absl::StrCat("progress is not allowed at ", StageName(stage_),
                     ", which is negotiated not to be answered"));
  }
  if (progress_sink_) progress_sink_();
  return absl::OkStatus();
}

absl::Status Context::CheckModification(const char* what,
                                        uint32_t needed) const {
  if (stage_ != Stage::kEndOfMessage) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " is only allowed at end of message, not at ",
                     StageName(stage_)));
  }
  if ((negotiated_.actions & needed) != needed) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " needs the action ", codec::ActionFlagsToString(needed),
        ", which was not negotiated"));
  }
  return absl::OkStatus();
}

namespace {
absl::string_view A(std::string_view s) { return {s.data(), s.size()}; }
absl::Status CheckHeaderName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty header name");
  for (char c : name) {
    if (c == ':' || c == '\0' || c == '\r' || c == '\n' ||
        static_cast<unsigned char>(c) <= ' ') {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid header name \"", A(name), "\""));
    }
  }
  return absl::OkStatus();
}
absl::Status CheckNoNul(std::string_view what, std::string_view s) {
  if (s.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(A(what), " contains NUL"));
  }
  return absl::OkStatus();
}
}  // namespace

std::string_view Context::OutgoingHeaderValue(std::string_view value) const {
  // Emulated HDR_LEADSPC: the filter sets raw values, the MTA will add the
  // space back.
  if (negotiated_.emulated & codec::protocol::kHeaderLeadingSpace) {
    return codec::HeaderValueForFilter(value, /*leading_space=*/false);
  }
  return value;
}

absl::Status Context::Record(Modification m) {
  // Every packet must fit the payload size the MTA negotiated (replace-body
  // is chunked, so only its chunk size counts).
  size_t payload = std::holds_alternative<mod::ReplaceBody>(m)
                       ? 0
                       : codec::WireSize(m) - codec::kLengthBytes - 1;
  if (payload > negotiated_.max_payload) {
    return absl::OutOfRangeError(
        absl::StrCat(codec::ModificationName(m), " of ", payload,
                     " bytes exceeds the negotiated maximum packet payload of ",
                     negotiated_.max_payload));
  }
  modifications_.push_back(std::move(m));
  return absl::OkStatus();
}

absl::Status Context::AddHeader(std::string_view name, std::string_view value) {
  if (auto s = CheckModification("add-header", action::kAddHeaders); !s.ok())
    return s;
  if (auto s = CheckHeaderName(name); !s.ok()) return s;
  if (auto s = CheckNoNul("header value", value); !s.ok()) return s;
  return Record(mod::AddHeader{std::string(name),
                               std::string(OutgoingHeaderValue(value))});
}

absl::Status Context::InsertHeader(uint32_t index, std::string_view name,
                                   std::string_view value) {
  if (auto s = CheckModification("insert-header", action::kAddHeaders); !s.ok())
    return s;
  if (auto s = CheckHeaderName(name); !s.ok()) return s;
  if (auto s = CheckNoNul("header value", value); !s.ok()) return s;
  return Record(mod::InsertHeader{index, std::string(name),
                                  std::string(OutgoingHeaderValue(value))});
}

absl::Status Context::ChangeHeader(std::string_view name, uint32_t index,
                                   std::string_view value) {
  if (auto s = CheckModification("change-header", action::kChangeHeaders);
      !s.ok())
    return s;
  if (auto s = CheckHeaderName(name); !s.ok()) return s;
  if (auto s = CheckNoNul("header value", value); !s.ok()) return s;
  return Record(mod::ChangeHeader{index, std::string(name),
                                  std::string(OutgoingHeaderValue(value))});
}

absl::Status Context::ChangeFrom(std::string_view address,
                                 std::string_view args) {
  if (auto s = CheckModification("change-from", action::kChangeFrom); !s.ok())
    return s;
  if (address.empty()) return absl::InvalidArgumentError("empty sender");
  if (auto s = CheckNoNul("sender", address); !s.ok()) return s;
  if (auto s = CheckNoNul("ESMTP arguments", args); !s.ok()) return s;
  mod::ChangeFrom m{std::string(address), std::nullopt};
  if (!args.empty()) m.args = std::string(args);
  return Record(std::move(m));
}

absl::Status Context::AddRecipient(std::string_view address) {
  if (auto s = CheckModification("add-recipient", action::kAddRecipient);
      !s.ok())
    return s;
  if (address.empty()) return absl::InvalidArgumentError("empty recipient");
  if (auto s = CheckNoNul("recipient", address); !s.ok()) return s;
  return Record(mod::AddRecipient{std::string(address), {}});
}

absl::Status Context::AddRecipient(std::string_view address,
                                   std::string_view args) {
  if (auto s = CheckModification("add-recipient with ESMTP arguments",
                                 action::kAddRecipientWithArgs);
      !s.ok())
    return s;
  if (address.empty()) return absl::InvalidArgumentError("empty recipient");
  if (auto s = CheckNoNul("recipient", address); !s.ok()) return s;
  if (auto s = CheckNoNul("ESMTP arguments", args); !s.ok()) return s;
  return Record(mod::AddRecipient{std::string(address), std::string(args)});
}

absl::Status Context::DeleteRecipient(std::string_view address) {
  if (auto s = CheckModification("delete-recipient", action::kDeleteRecipient);
      !s.ok())
    return s;
  if (auto s = CheckNoNul("recipient", address); !s.ok()) return s;
  return Record(mod::DeleteRecipient{std::string(address)});
}

absl::Status Context::ReplaceBody(std::string_view data) {
  if (auto s = CheckModification("replace-body", action::kChangeBody); !s.ok())
    return s;
  if (!modifications_.empty()) {
    if (auto* last = std::get_if<mod::ReplaceBody>(&modifications_.back())) {
      last->data.append(data);
      return absl::OkStatus();
    }
  }
  return Record(mod::ReplaceBody{std::string(data)});
}

absl::Status Context::Quarantine(std::string_view reason) {
  if (auto s = CheckModification("quarantine", action::kQuarantine); !s.ok())
    return s;
  if (reason.empty()) return absl::InvalidArgumentError("empty reason");
  if (auto s = CheckNoNul("reason", reason); !s.ok()) return s;
  return Record(mod::Quarantine{std::string(reason)});
}

}  // namespace milter::client
