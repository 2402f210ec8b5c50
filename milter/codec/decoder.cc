// Incremental decoders: packet framing, size limits and the payload parsers
// of every command and response (see decoder.h).

#include "milter/codec/decoder.h"

#include <cstring>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "milter/codec/byte_order.h"

namespace milter::codec {
namespace {

constexpr char kErrorPayloadUrl[] = "milter.codec/DecodeError";

absl::Status MakeError(DecodeError error, std::string message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kErrorPayloadUrl,
                    absl::Cord(std::string(1, static_cast<char>(error))));
  return status;
}

// Reads the fields of one payload front to back.
class FieldReader {
 public:
  FieldReader(char code, std::string_view payload)
      : code_(code), rest_(payload) {}

  bool empty() const { return rest_.empty(); }
  std::string_view rest() const { return rest_; }

  absl::Status String(std::string_view* out, const char* field) {
    size_t nul = rest_.find('\0');
    if (nul == std::string_view::npos) {
      return Error(DecodeError::kMissingNul,
                   absl::StrCat(field, " is not NUL-terminated"));
    }
    *out = rest_.substr(0, nul);
    rest_.remove_prefix(nul + 1);
    return absl::OkStatus();
  }

  absl::Status Uint32(uint32_t* out, const char* field) {
    if (rest_.size() < 4) {
      return Error(DecodeError::kTruncated,
                   absl::StrCat("payload ends inside ", field));
    }
    *out = LoadBigEndian32(rest_.data());
    rest_.remove_prefix(4);
    return absl::OkStatus();
  }

  absl::Status Uint16(uint16_t* out, const char* field) {
    if (rest_.size() < 2) {
      return Error(DecodeError::kTruncated,
                   absl::StrCat("payload ends inside ", field));
    }
    *out = LoadBigEndian16(rest_.data());
    rest_.remove_prefix(2);
    return absl::OkStatus();
  }

  absl::Status Byte(char* out, const char* field) {
    if (rest_.empty()) {
      return Error(DecodeError::kTruncated,
                   absl::StrCat("payload ends before ", field));
    }
    *out = rest_[0];
    rest_.remove_prefix(1);
    return absl::OkStatus();
  }

  // A run of NUL-terminated strings filling the rest of the payload.
  absl::Status StringsToEnd(StringList* out, const char* field) {
    if (!rest_.empty() && rest_.back() != '\0') {
      return Error(DecodeError::kMissingNul,
                   absl::StrCat(field, " is not NUL-terminated"));
    }
    *out = StringList(rest_);
    rest_ = rest_.substr(rest_.size());
    return absl::OkStatus();
  }

  absl::Status End() {
    if (rest_.empty()) return absl::OkStatus();
    return Error(DecodeError::kTrailingBytes,
                 absl::StrCat(rest_.size(), " unexpected trailing bytes"));
  }

  absl::Status Error(DecodeError error, std::string_view what) const {
    return MakeError(error,
                     absl::StrCat("milter packet '", EscapeCode(), "': ",
                                  absl::string_view(what.data(), what.size())));
  }

 private:
  std::string EscapeCode() const {
    if (code_ >= 0x20 && code_ < 0x7f) return std::string(1, code_);
    return absl::StrCat(
        "\\x", absl::Hex(static_cast<unsigned char>(code_), absl::kZeroPad2));
  }

  char code_;
  std::string_view rest_;
};

#define RETURN_IF_ERROR(expr)          \
  do {                                 \
    absl::Status status_ = (expr);     \
    if (!status_.ok()) return status_; \
  } while (0)

absl::Status UnknownCode(char code, const char* direction) {
  FieldReader r(code, {});
  return r.Error(DecodeError::kUnknownCode,
                 absl::StrCat("unknown ", direction, " code"));
}

bool IsFamily(char c) { return c == 'U' || c == 'L' || c == '4' || c == '6'; }

absl::StatusOr<Command> ParseConnect(FieldReader& r) {
  Connect c;
  RETURN_IF_ERROR(r.String(&c.hostname, "hostname"));
  char family = 0;
  RETURN_IF_ERROR(r.Byte(&family, "family"));
  if (!IsFamily(family)) {
    return r.Error(DecodeError::kBadFamily,
                   absl::StrCat("bad address family byte 0x",
                                absl::Hex(static_cast<unsigned char>(family),
                                          absl::kZeroPad2)));
  }
  c.family = static_cast<Family>(family);
  if (c.family != Family::kUnknown) {
    RETURN_IF_ERROR(r.Uint16(&c.port, "port"));
    RETURN_IF_ERROR(r.String(&c.address, "address"));
  }
  RETURN_IF_ERROR(r.End());
  return c;
}

}  // namespace

const char* DecodeErrorName(DecodeError error) {
  switch (error) {
    case DecodeError::kNone:
      return "none";
    case DecodeError::kZeroLength:
      return "zero-length";
    case DecodeError::kTooLarge:
      return "too-large";
    case DecodeError::kUnknownCode:
      return "unknown-code";
    case DecodeError::kTruncated:
      return "truncated";
    case DecodeError::kMissingNul:
      return "missing-nul";
    case DecodeError::kBadFamily:
      return "bad-family";
    case DecodeError::kTrailingBytes:
      return "trailing-bytes";
    case DecodeError::kBadStage:
      return "bad-stage";
  }
  return "?";
}

DecodeError DecodeErrorOf(const absl::Status& status) {
  if (status.ok()) return DecodeError::kNone;
  absl::optional<absl::Cord> payload = status.GetPayload(kErrorPayloadUrl);
  if (!payload || payload->size() != 1) return DecodeError::kNone;
  return static_cast<DecodeError>(std::string(*payload)[0]);
}

absl::StatusOr<Command> ParseCommand(char code, std::string_view payload) {
  FieldReader r(code, payload);
  switch (static_cast<CommandCode>(code)) {
    case CommandCode::kOptionNegotiation: {
      OptionNegotiation o;
      RETURN_IF_ERROR(r.Uint32(&o.version, "version"));
      RETURN_IF_ERROR(r.Uint32(&o.actions, "actions"));
      RETURN_IF_ERROR(r.Uint32(&o.protocol, "protocol flags"));
      RETURN_IF_ERROR(r.End());
      return o;
    }
    case CommandCode::kMacro: {
      DefineMacros d;
      // Postfix sends empty 'D' packets; they define nothing.
      if (r.empty()) return d;
      RETURN_IF_ERROR(r.Byte(&d.command_code, "command code"));
      RETURN_IF_ERROR(r.StringsToEnd(&d.pairs, "macro list"));
      return d;
    }
    case CommandCode::kConnect:
      return ParseConnect(r);
    case CommandCode::kHelo: {
      Helo h;
      RETURN_IF_ERROR(r.String(&h.name, "HELO name"));
      RETURN_IF_ERROR(r.End());
      return h;
    }
    case CommandCode::kMail:
    case CommandCode::kRcpt: {
      StringList args;
      RETURN_IF_ERROR(r.StringsToEnd(&args, "address"));
      if (args.empty()) {
        return r.Error(DecodeError::kTruncated, "no address");
      }
      if (code == 'M') return Mail{args};
      return Rcpt{args};
    }
    case CommandCode::kData:
      RETURN_IF_ERROR(r.End());
      return Data{};
    case CommandCode::kHeader: {
      Header h;
      RETURN_IF_ERROR(r.String(&h.name, "header name"));
      RETURN_IF_ERROR(r.String(&h.value, "header value"));
      RETURN_IF_ERROR(r.End());
      return h;
    }
    case CommandCode::kEndOfHeaders:
      RETURN_IF_ERROR(r.End());
      return EndOfHeaders{};
    case CommandCode::kBody:
      return BodyChunk{payload};
    case CommandCode::kEndOfMessage:
      return EndOfMessage{payload};
    case CommandCode::kUnknown: {
      Unknown u;
      RETURN_IF_ERROR(r.String(&u.command, "command"));
      RETURN_IF_ERROR(r.End());
      return u;
    }
    case CommandCode::kAbort:
      RETURN_IF_ERROR(r.End());
      return Abort{};
    case CommandCode::kQuit:
      RETURN_IF_ERROR(r.End());
      return Quit{};
    case CommandCode::kQuitNewConnection:
      RETURN_IF_ERROR(r.End());
      return QuitNewConnection{};
  }
  return UnknownCode(code, "command");
}

absl::StatusOr<Response> ParseResponse(char code, std::string_view payload) {
  FieldReader r(code, payload);
  switch (static_cast<ResponseCode>(code)) {
    case ResponseCode::kOptionNegotiation: {
      OptionNegotiationReply o;
      RETURN_IF_ERROR(r.Uint32(&o.version, "version"));
      RETURN_IF_ERROR(r.Uint32(&o.actions, "actions"));
      RETURN_IF_ERROR(r.Uint32(&o.protocol, "protocol flags"));
      while (!r.empty()) {
        uint32_t stage = 0;
        RETURN_IF_ERROR(r.Uint32(&stage, "symbol list stage"));
        if (stage >= kNumMacroStages) {
          return r.Error(DecodeError::kBadStage,
                         absl::StrCat("symbol list for stage ", stage));
        }
        std::string_view list;
        RETURN_IF_ERROR(r.String(&list, "symbol list"));
        o.symbol_lists[stage] = list;
      }
      return o;
    }
    case ResponseCode::kContinue:
      RETURN_IF_ERROR(r.End());
      return Continue{};
    case ResponseCode::kAccept:
      RETURN_IF_ERROR(r.End());
      return Accept{};
    case ResponseCode::kReject:
      RETURN_IF_ERROR(r.End());
      return Reject{};
    case ResponseCode::kTempfail:
      RETURN_IF_ERROR(r.End());
      return Tempfail{};
    case ResponseCode::kDiscard:
      RETURN_IF_ERROR(r.End());
      return Discard{};
    case ResponseCode::kSkip:
      RETURN_IF_ERROR(r.End());
      return Skip{};
    case ResponseCode::kProgress:
      RETURN_IF_ERROR(r.End());
      return Progress{};
    case ResponseCode::kShutdown:
      RETURN_IF_ERROR(r.End());
      return Shutdown{};
    case ResponseCode::kConnectionFail:
      RETURN_IF_ERROR(r.End());
      return ConnectionFail{};
    case ResponseCode::kReplyCode: {
      ReplyCode y;
      RETURN_IF_ERROR(r.String(&y.text, "reply text"));
      RETURN_IF_ERROR(r.End());
      return y;
    }
    case ResponseCode::kQuarantine: {
      Quarantine q;
      RETURN_IF_ERROR(r.String(&q.reason, "quarantine reason"));
      RETURN_IF_ERROR(r.End());
      return q;
    }
    case ResponseCode::kAddHeader: {
      AddHeader h;
      RETURN_IF_ERROR(r.String(&h.name, "header name"));
      RETURN_IF_ERROR(r.String(&h.value, "header value"));
      RETURN_IF_ERROR(r.End());
      return h;
    }
    case ResponseCode::kInsertHeader: {
      InsertHeader h;
      RETURN_IF_ERROR(r.Uint32(&h.index, "header index"));
      RETURN_IF_ERROR(r.String(&h.name, "header name"));
      RETURN_IF_ERROR(r.String(&h.value, "header value"));
      RETURN_IF_ERROR(r.End());
      return h;
    }
    case ResponseCode::kChangeHeader: {
      ChangeHeader h;
      RETURN_IF_ERROR(r.Uint32(&h.index, "header index"));
      RETURN_IF_ERROR(r.String(&h.name, "header name"));
      RETURN_IF_ERROR(r.String(&h.value, "header value"));
      RETURN_IF_ERROR(r.End());
      return h;
    }
    case ResponseCode::kChangeFrom: {
      ChangeFrom e;
      RETURN_IF_ERROR(r.String(&e.address, "address"));
      if (!r.empty()) {
        std::string_view args;
        RETURN_IF_ERROR(r.String(&args, "ESMTP arguments"));
        e.args = args;
      }
      RETURN_IF_ERROR(r.End());
      return e;
    }
    case ResponseCode::kAddRecipient: {
      AddRecipient a;
      RETURN_IF_ERROR(r.String(&a.address, "address"));
      RETURN_IF_ERROR(r.End());
      return a;
    }
    case ResponseCode::kAddRecipientWithArgs: {
      AddRecipientWithArgs a;
      RETURN_IF_ERROR(r.String(&a.address, "address"));
      RETURN_IF_ERROR(r.String(&a.args, "ESMTP arguments"));
      RETURN_IF_ERROR(r.End());
      return a;
    }
    case ResponseCode::kDeleteRecipient: {
      DeleteRecipient d;
      RETURN_IF_ERROR(r.String(&d.address, "address"));
      RETURN_IF_ERROR(r.End());
      return d;
    }
    case ResponseCode::kReplaceBody:
      return ReplaceBody{payload};
  }
  return UnknownCode(code, "response");
}

// ---------------------------------------------------------------------------
// Decoder

template <typename Message>
void Decoder<Message>::Feed(std::string_view bytes) {
  if (!error_.ok()) return;  // failed for good: keep no (dangling) view
  if (!input_.empty()) {
    // The previous input was not drained; keep it before the new bytes.
    buffer_.append(input_.data(), input_.size());
  }
  input_ = bytes;
}

template <typename Message>
absl::StatusOr<size_t> Decoder<Message>::ReadLength(const char* prefix) {
  uint32_t length = LoadBigEndian32(prefix);
  if (length == 0) {
    return MakeError(DecodeError::kZeroLength, "milter packet of length 0");
  }
  if (length - 1 > max_payload_) {
    return MakeError(
        DecodeError::kTooLarge,
        absl::StrCat("milter packet payload of ", length - 1,
                     " bytes exceeds the maximum of ", max_payload_));
  }
  return length - 1;
}

template <typename Message>
size_t Decoder<Message>::Take(size_t want) {
  size_t n = std::min(want, input_.size());
  buffer_.append(input_.data(), n);
  input_.remove_prefix(n);
  return n;
}

template <typename Message>
absl::StatusOr<std::optional<Message>> Decoder<Message>::Fail(
    absl::Status status) {
  error_ = status;
  input_ = {};
  buffer_.clear();
  buffer_pos_ = 0;
  return status;
}

template <typename Message>
absl::StatusOr<std::optional<Message>> Decoder<Message>::Next() {
  if (!error_.ok()) return error_;
  if (buffer_pos_ > 0) {
    buffer_.erase(0, buffer_pos_);
    buffer_pos_ = 0;
  }
  const char* packet;
  size_t payload_size;
  if (!buffer_.empty()) {
    // Complete the buffered packet from the input.
    if (buffer_.size() < kLengthBytes) {
      Take(kLengthBytes - buffer_.size());
      if (buffer_.size() < kLengthBytes) return std::nullopt;
    }
    absl::StatusOr<size_t> length = ReadLength(buffer_.data());
    if (!length.ok()) return Fail(length.status());
    size_t total = kLengthBytes + 1 + *length;
    if (buffer_.size() < total) Take(total - buffer_.size());
    if (buffer_.size() < total) return std::nullopt;
    packet = buffer_.data();
    payload_size = *length;
    buffer_pos_ = total;
  } else {
    if (input_.size() < kLengthBytes) {
      Take(input_.size());
      return std::nullopt;
    }
    absl::StatusOr<size_t> length = ReadLength(input_.data());
    if (!length.ok()) return Fail(length.status());
    size_t total = kLengthBytes + 1 + *length;
    if (input_.size() < total) {
      Take(input_.size());
      return std::nullopt;
    }
    packet = input_.data();
    payload_size = *length;
    input_.remove_prefix(total);
  }
  char code = packet[kLengthBytes];
  std::string_view payload(packet + kLengthBytes + 1, payload_size);
  absl::StatusOr<Message> message;
  if constexpr (std::is_same_v<Message, Command>) {
    message = ParseCommand(code, payload);
  } else {
    message = ParseResponse(code, payload);
  }
  if (!message.ok()) return Fail(message.status());
  return std::optional<Message>(*std::move(message));
}

template <typename Message>
void Decoder<Message>::ReleaseMemoryIfIdle() {
  if (buffer_pos_ == buffer_.size()) {
    std::string().swap(buffer_);
    buffer_pos_ = 0;
  }
}

template class Decoder<Command>;
template class Decoder<Response>;

}  // namespace milter::codec
