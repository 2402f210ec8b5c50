// The engine fuzzer's Brain: makes each callback's choices from the input's
// choice bytes (verdict, reply, progress, modifications) and records what
// it asked for, checking the Context's answers on the way.

#include <string>
#include <variant>
#include <vector>

#include "milter/client/fuzz/fuzz_filter.h"
#include "milter/codec/protocol.h"

namespace milter::client::fuzz {
namespace {

namespace action = codec::action;
namespace protocol = codec::protocol;

constexpr Status kStatuses[] = {
    Status::kContinue, Status::kContinue, Status::kAccept, Status::kReject,
    Status::kTempfail, Status::kDiscard,  Status::kSkip,   Status::kNoReply,
};

// Bytes remembered for echoing back in replies and modifications: enough to
// overflow any negotiated payload size.
constexpr size_t kMaxRemembered = 1100 * 1024;

uint32_t CallbackOf(Stage stage) {
  switch (stage) {
    case Stage::kConnect:
      return callback::kConnect;
    case Stage::kHelo:
      return callback::kHelo;
    case Stage::kMail:
      return callback::kMail;
    case Stage::kRcpt:
      return callback::kRcpt;
    case Stage::kData:
      return callback::kData;
    case Stage::kUnknown:
      return callback::kUnknown;
    case Stage::kHeader:
      return callback::kHeader;
    case Stage::kEndOfHeaders:
      return callback::kEndOfHeaders;
    case Stage::kBody:
      return callback::kBody;
    default:
      return 0;  // end of message: always called
  }
}

// The no-reply flag covering a stage's answer, or 0.
uint32_t NoReplyFlagOf(Stage stage) {
  switch (stage) {
    case Stage::kConnect:
      return protocol::kNoReplyConnect;
    case Stage::kHelo:
      return protocol::kNoReplyHelo;
    case Stage::kMail:
      return protocol::kNoReplyMail;
    case Stage::kRcpt:
      return protocol::kNoReplyRcpt;
    case Stage::kData:
      return protocol::kNoReplyData;
    case Stage::kUnknown:
      return protocol::kNoReplyUnknown;
    case Stage::kHeader:
      return protocol::kNoReplyHeader;
    case Stage::kEndOfHeaders:
      return protocol::kNoReplyEndOfHeaders;
    case Stage::kBody:
      return protocol::kNoReplyBody;
    default:
      return 0;
  }
}

}  // namespace

Brain::Brain(milter::fuzz::Choices* choices, FilterConfig config)
    : choices_(choices), config_(config) {}

Brain::~Brain() { FUZZ_CHECK(live_ == 0); }

void Brain::BeginCommand(const codec::Command& command) {
  // (Member by member: gcc 12 at -O1 warns about a moved-in temporary.)
  observed_.callbacks = 0;
  observed_.last_status = Status::kContinue;
  observed_.reply.reset();
  observed_.progress = 0;
  observed_.mods.clear();
  command_ = &command;
  if (std::holds_alternative<codec::Mail>(command) ||
      std::holds_alternative<codec::Abort>(command) ||
      std::holds_alternative<codec::QuitNewConnection>(command)) {
    body_skipped_ = false;
  }
}

void Brain::EndCommand() {
  if (std::holds_alternative<codec::EndOfMessage>(*command_)) {
    body_skipped_ = false;
  }
  command_ = nullptr;
}

bool Brain::Spend(size_t bytes) {
  if (spent_ + bytes > config_.budget) return false;
  spent_ += bytes;
  return true;
}

Status Brain::OnNegotiate(Context& ctx, Negotiation& n) {
  FUZZ_CHECK(ctx.stage() == Stage::kNegotiate);
  uint8_t d = choices_->Next();
  suspend_ = d & 0x80;
  if (d & 0x01) n.request.version = 2 + choices_->Below(5);
  if (d & 0x02) n.request.actions &= choices_->Next() | choices_->Next() << 1;
  if (d & 0x04) n.request.protocol ^= 1u << choices_->Below(21);
  if (d & 0x08) {
    n.request.protocol |= choices_->Next() & 1 ? protocol::kMaxDataSize1M
                                               : protocol::kMaxDataSize256K;
  }
  if (d & 0x10 || config_.symbol_lists) {
    const char* lists[] = {"i", "{daemon_name} j", "", "{mail_addr} i {x}"};
    n.symbol_lists[choices_->Below(codec::kNumMacroStages)] =
        lists[choices_->Below(4)];
  }
  if (d & 0x20) {
    // Nothing of the message may be done at negotiation.
    FUZZ_CHECK(!ctx.Progress().ok());
    FUZZ_CHECK(!ctx.AddHeader("X-Fuzz", "no").ok());
    TrySetReply(ctx, /*allowed=*/false);
  }
  switch (d >> 6 & 1) {
    case 0:
      return choices_->Next() < 16 ? kStatuses[choices_->Below(8)]
                                   : Status::kContinue;
    default:
      return Status::kAccept;
  }
}

Status Brain::OnStage(Context& ctx, Stage stage, std::string_view data) {
  FUZZ_CHECK(ctx.stage() == stage);
  FUZZ_CHECK(command_ != nullptr);
  uint32_t cb = CallbackOf(stage);
  FUZZ_CHECK(cb == 0 || (config_.callbacks & cb));
  if (stage == Stage::kBody) FUZZ_CHECK(!body_skipped_);
  if (stage == Stage::kHeader) last_header_.assign(data.substr(0, 64));
  if (message_data_.size() < kMaxRemembered) {
    message_data_.append(data.substr(0, kMaxRemembered - message_data_.size()));
  }
  // Macro lookups of every spelling.
  (void)ctx.MacroOr("i", "");
  (void)ctx.GetMacro("{daemon_name}");
  (void)ctx.connection().hostname.size();

  uint8_t d = choices_->Next();
  suspend_ = d & 0x80;
  if (d & 0x08) TrySetReply(ctx, /*allowed=*/true);
  if (d & 0x10) {
    // Not at a stage the MTA reads no answer to.
    TryProgress(ctx, !ctx.negotiated().NoReply(NoReplyFlagOf(stage)));
  }
  if (stage == Stage::kEndOfMessage) {
    if (d & 0x20) Modify(ctx);
  } else if (d & 0x40) {
    TryOutsideEom(ctx);
  }
  Status status = kStatuses[d & 7];
  ++observed_.callbacks;
  observed_.last_status = status;
  if (stage == Stage::kBody && status == Status::kSkip &&
      std::holds_alternative<codec::BodyChunk>(*command_)) {
    body_skipped_ = true;
  }
  return status;
}

void Brain::OnAbort(Context& ctx) {
  FUZZ_CHECK(ctx.stage() == Stage::kAbort);
  FUZZ_CHECK(ctx.modifications().empty());
  body_skipped_ = false;
  uint8_t d = choices_->Next();
  if (d & 0x08) TrySetReply(ctx, /*allowed=*/false);
  if (d & 0x10) TryProgress(ctx, /*allowed=*/false);
  if (d & 0x40) TryOutsideEom(ctx);
}

void Brain::OnClose(Context& ctx) {
  FUZZ_CHECK(ctx.stage() == Stage::kClose);
  TryProgress(ctx, /*allowed=*/false);
}

void Brain::TrySetReply(Context& ctx, bool allowed) {
  uint8_t how = choices_->Next();
  absl::Status s;
  std::string text = Value(choices_->Next());
  bool valid = false;
  switch (how % 6) {
    case 0:
      s = ctx.SetReply("550", "5.7.1", "rejected by fuzz");
      valid = true;
      break;
    case 1:
      s = ctx.SetReply("451", "", "try later");
      valid = true;
      break;
    case 2:
      s = ctx.SetReply("250", "2.0.0", "not an error code");
      break;
    case 3:
      s = ctx.SetReply("550", "4.7.1", "class mismatch");
      break;
    case 4: {
      if (!Spend(text.size() + 16)) return;
      s = ctx.SetReply(how & 0x80 ? "421" : "554", "", text);
      break;
    }
    default: {
      size_t n = 1 + choices_->Below(34);
      if (!Spend(n * (text.size() + 16))) return;
      std::vector<std::string_view> lines(n, text);
      s = ctx.SetMultilineReply("452", "4.2.2", lines);
      break;
    }
  }
  if (!allowed) FUZZ_CHECK(!s.ok());  // no verdict follows
  if (allowed && valid) FUZZ_CHECK(s.ok());
  if (s.ok()) {
    FUZZ_CHECK(ctx.reply().has_value());
    requested_ += ctx.reply()->size() + 16;
    observed_.reply = *ctx.reply();
  }
}

void Brain::TryProgress(Context& ctx, bool allowed) {
  absl::Status s = ctx.Progress();
  FUZZ_CHECK(s.ok() == allowed);
  if (s.ok()) {
    ++observed_.progress;
    requested_ += 8;
  }
}

void Brain::TryOutsideEom(Context& ctx) {
  FUZZ_CHECK(!ctx.AddHeader("X-Fuzz", "no").ok());
  FUZZ_CHECK(!ctx.ChangeHeader("Subject", 1, "no").ok());
  FUZZ_CHECK(!ctx.AddRecipient("<no@example.com>").ok());
  FUZZ_CHECK(!ctx.ReplaceBody("no").ok());
  FUZZ_CHECK(!ctx.Quarantine("no").ok());
  FUZZ_CHECK(ctx.modifications().empty());
}

std::string Brain::Value(uint8_t how) {
  const std::string& m = message_data_;
  switch (how % 7) {
    case 0:
      return "yes";
    case 1:
      return "";
    case 2: {
      size_t at = choices_->Below(m.size() + 1);
      return m.substr(at, size_t{choices_->Next()} * 4);
    }
    case 3:
      return m;
    case 4: {
      std::string out;
      for (int i = 0; i <= how / 7 % 4; ++i) out += m;
      return out;
    }
    case 5:
      return std::string("a\r\nb\0c", 6);
    default:
      return std::string(size_t{choices_->Next()} << 10, 'v');
  }
}

std::string Brain::Name(uint8_t how) {
  switch (how % 4) {
    case 0:
      return "X-Fuzz";
    case 1:
      return "Subject";
    case 2:
      return last_header_;
    default:
      return "Bad Name:";
  }
}

std::string Brain::Address(uint8_t how) {
  switch (how % 3) {
    case 0:
      return "<new@example.com>";
    case 1:
      return "";
    default:
      return Value(how / 3);
  }
}

void Brain::Record(char code, size_t body_bytes) {
  if (code == 'b' && !observed_.mods.empty() &&
      observed_.mods.back().code == 'b') {
    observed_.mods.back().body_bytes += body_bytes;
    return;
  }
  observed_.mods.push_back(ModRecord{code, body_bytes});
}

void Brain::Modify(Context& ctx) {
  uint8_t which = choices_->Next();
  for (int i = 0; i < 8; ++i) {
    if (which & (1 << i)) ModifyOne(ctx, i);
  }
  if (which == 0xFF) ModifyOne(ctx, 6);  // a second replace-body piece
}

void Brain::ModifyOne(Context& ctx, int which) {
  static constexpr uint32_t kNeeded[] = {
      action::kAddHeaders,          action::kAddHeaders,
      action::kChangeHeaders,       action::kChangeFrom,
      action::kAddRecipient,        action::kDeleteRecipient,
      action::kChangeBody,          action::kQuarantine,
      action::kAddRecipientWithArgs};
  uint8_t how = choices_->Next();
  std::string value = Value(how);
  std::string name = Name(how >> 3);
  std::string address = Address(how >> 5);
  if (!Spend(value.size() + name.size() + address.size() + 64)) {
    value = "x";
    address = "<a@b>";
  }
  bool with_args = which == 4 && (how & 0x10);
  uint32_t needed = kNeeded[with_args ? 8 : which];
  bool granted = (ctx.negotiated().actions & needed) == needed;
  absl::Status s;
  char code = 0;
  switch (which) {
    case 0:
      s = ctx.AddHeader(name, value), code = 'h';
      break;
    case 1:
      s = ctx.InsertHeader(choices_->Next(), name, value), code = 'i';
      break;
    case 2:
      s = ctx.ChangeHeader(name, choices_->Next(), value), code = 'm';
      break;
    case 3:
      s = ctx.ChangeFrom(address, how & 1 ? "SIZE=1" : ""), code = 'e';
      break;
    case 4:
      s = with_args ? ctx.AddRecipient(address, value)
                    : ctx.AddRecipient(address);
      code = with_args ? '2' : '+';
      break;
    case 5:
      s = ctx.DeleteRecipient(address), code = '-';
      break;
    case 6:
      s = ctx.ReplaceBody(value), code = 'b';
      break;
    default:
      s = ctx.Quarantine(address), code = 'q';
      break;
  }
  if (!granted) FUZZ_CHECK(!s.ok());
  if (granted && which == 0 && name == "X-Fuzz" && value == "yes") {
    FUZZ_CHECK(s.ok());
  }
  if (!s.ok()) return;
  requested_ += value.size() + name.size() + address.size() + 64;
  if (code == 'b') requested_ += 5 * (value.size() / codec::kBodyChunkSize);
  Record(code, code == 'b' ? value.size() : 0);
}

}  // namespace milter::client::fuzz
