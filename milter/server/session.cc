// Session: the MTA side of one milter session as coroutines (see
// session.h): negotiation, stages, whole-answer timeouts, verdict reading.

#include "milter/server/session.h"

#include <algorithm>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "asio/post.hpp"
#include "asio/use_awaitable.hpp"
#include "milter/codec/encoder.h"
#include "milter/codec/macros.h"
#include "milter/codec/message.h"
#include "milter/codec/modification.h"
#include "milter/codec/reply.h"

namespace milter::server {
namespace {

namespace protocol = codec::protocol;
using codec::CommandCode;
using codec::MacroStage;

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

// Read buffer shared by every session on a thread: sessions copy what they
// need before they next suspend, so an idle session holds no buffer. Fetch it
// after every suspension: the coroutine may resume on another thread.
constexpr size_t kReadBufferSize = 64 * 1024;
char* ThreadReadBuffer() {
  static thread_local char buffer[kReadBufferSize];
  return buffer;
}

// What one modification holds in memory: its bytes (as on the wire, a fair
// bound for its strings) plus the variant and allocation overhead, so that
// many tiny modifications count for what they really cost.
size_t MemoryCost(const codec::Modification& m) {
  return codec::WireSize(m) + sizeof(codec::Modification) + 64;
}

// Scratch for a command's string list, reused by every session on this
// thread (filled and encoded without suspending).
std::string& ScratchList() {
  static thread_local std::string list;
  list.clear();
  return list;
}

bool InSymbolList(std::string_view list, std::string_view name) {
  std::string_view canonical = codec::CanonicalMacroName(name);
  for (absl::string_view entry :
       absl::StrSplit(Absl(list), absl::ByAnyChar(" ,\t"), absl::SkipEmpty())) {
    if (codec::CanonicalMacroName(
            std::string_view(entry.data(), entry.size())) == canonical) {
      return true;
    }
  }
  return false;
}

const char* ResponseNameOf(const codec::Response& response) {
  return codec::ResponseName(codec::CodeOf(response));
}

}  // namespace

Session::Session(asio::any_io_executor executor, SessionOptions options)
    : options_(options), connection_(std::move(executor)) {}

absl::Status Session::Fail(absl::Status status) {
  if (error_.ok()) error_ = status;
  out_.clear();
  out_unanswered_ = false;
  connection_.Close();
  negotiated_ok_ = false;
  return error_;  // the first failure: what ended the session
}

void Session::Abandon(absl::Status reason) { (void)Fail(std::move(reason)); }

absl::Status Session::CheckUsable(bool need_negotiated) const {
  if (!error_.ok()) return error_;
  if (!connection_.is_open()) {
    return absl::FailedPreconditionError("session is not connected");
  }
  if (need_negotiated && !negotiated_ok_) {
    return absl::FailedPreconditionError("session is not negotiated");
  }
  return absl::OkStatus();
}

asio::awaitable<absl::Status> Session::Open(const net::SocketSpec& spec) {
  absl::Status status = co_await Connect(spec);
  if (!status.ok()) co_return status;
  co_return co_await Negotiate();
}

asio::awaitable<absl::Status> Session::Connect(const net::SocketSpec& spec) {
  if (!error_.ok()) co_return error_;
  absl::Status status =
      co_await connection_.Connect(spec, options_.connect_timeout);
  if (!status.ok()) co_return Fail(status);
  co_return absl::OkStatus();
}

asio::awaitable<absl::Status> Session::Open(const ResolvedSpec& resolved) {
  absl::Status status = co_await Connect(resolved);
  if (!status.ok()) co_return status;
  co_return co_await Negotiate();
}

asio::awaitable<absl::Status> Session::Connect(const ResolvedSpec& resolved) {
  if (!error_.ok()) co_return error_;
  absl::Status status =
      co_await connection_.Connect(resolved, options_.connect_timeout);
  if (!status.ok()) co_return Fail(status);
  co_return absl::OkStatus();
}

absl::Status Session::StartFlush() {
  // Anything readable now was sent unasked: a filter that answers a stage it
  // negotiated not to answer, or that sends garbage between stages.
  // Only once a command went unanswered can a stray answer be waiting unseen
  // (the check costs a system call). Stays on for the session: a stray answer
  // may have been taken for the next command's, leaving that one unread.
  size_t unsolicited = decoder_.pending_bytes();
  if (sent_unanswered_) unsolicited += connection_.Available();
  if (unsolicited > 0) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "protocol violation: the filter sent ", unsolicited,
        " bytes nobody asked for (a reply to a stage it negotiated not to "
        "answer?)")));
  }
  std::string_view rest = out_;
  if (absl::Status status = connection_.WriteNow(&rest); !status.ok()) {
    return Fail(status);
  }
  if (rest.empty()) {
    Flushed();
  } else {
    out_.erase(0, out_.size() - rest.size());
  }
  return absl::OkStatus();
}

void Session::Flushed() {
  out_.clear();
  if (out_unanswered_) {
    out_unanswered_ = false;
    sent_unanswered_ = true;
  }
}

asio::awaitable<absl::Status> Session::FinishFlush(absl::Duration timeout) {
  absl::Status status = co_await connection_.Write(out_, timeout);
  if (!status.ok()) co_return Fail(status);
  Flushed();
  co_return absl::OkStatus();
}

asio::awaitable<absl::Status> Session::Negotiate() {
  if (absl::Status s = CheckUsable(false); !s.ok()) co_return s;
  negotiated_ok_ = false;
  body_skipped_ = false;
  sent_unanswered_ = false;
  symbol_lists_.reset();
  decoder_.set_max_payload(codec::kDefaultMaxPayload);

  codec::OptionNegotiation offer{options_.version, options_.actions,
                                 options_.protocol};
  codec::EncodeCommand(offer, &out_);
  // (Inline rather than Flush(): no coroutine frame when the socket takes
  // everything at once, the usual case.)
  absl::Status flushed = StartFlush();
  if (flushed.ok() && !out_.empty()) {
    flushed = co_await FinishFlush(options_.write_timeout);
  }
  if (!flushed.ok()) co_return flushed;
  absl::Duration timeout = options_.read_timeout;
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<std::optional<codec::Response>> next = decoder_.Next();
    if (!next.ok()) {
      co_return Fail(absl::InvalidArgumentError(
          absl::StrCat("bad negotiation reply: ", next.status().message())));
    }
    if (!next->has_value()) {
      bool partial = decoder_.pending_bytes() > 0;
      if (absl::Status s = co_await ReadMore(deadline, timeout, partial);
          !s.ok()) {
        co_return Fail(s);
      }
      continue;
    }
    connection_.ReleaseTimer();  // the connection may now stay idle
    const auto* reply = std::get_if<codec::OptionNegotiationReply>(&**next);
    if (reply == nullptr) {
      co_return Fail(absl::InvalidArgumentError(
          absl::StrCat("protocol violation: the filter answered option "
                       "negotiation with '",
                       ResponseNameOf(**next), "'")));
    }
    // As Postfix: a version above the offer (or below 2) is a conflict that
    // ends the session; libmilter answers min(its own, the offer).
    absl::StatusOr<codec::NegotiatedOptions> options =
        codec::AcceptFilterReply(offer, *reply);
    if (!options.ok()) co_return Fail(options.status());
    negotiated_ = *options;
    for (int i = 0; i < codec::kNumMacroStages; ++i) {
      if (reply->symbol_lists[i]) {
        if (!symbol_lists_) symbol_lists_ = std::make_unique<SymbolLists>();
        (*symbol_lists_)[i] = std::string(*reply->symbol_lists[i]);
      }
    }
    break;
  }
  if (decoder_.pending_bytes() > 0) {
    co_return Fail(absl::FailedPreconditionError(
        "protocol violation: data after the negotiation reply"));
  }
  decoder_.set_max_payload(negotiated_.max_payload);
  negotiated_ok_ = true;
  co_return absl::OkStatus();
}

const std::optional<std::string>& Session::symbol_list(
    codec::MacroStage stage) const {
  static const std::optional<std::string> kNone;
  if (!symbol_lists_) return kNone;
  return (*symbol_lists_)[static_cast<int>(stage)];
}

absl::Status Session::AppendMacros(CommandCode command, MacroStage stage,
                                   const Macros& macros) {
  if (macros.empty()) return absl::OkStatus();
  const std::optional<std::string>& list = symbol_list(stage);
  // Scratch reused by every session on this thread (filled and consumed
  // without suspending): no allocation per stage.
  static thread_local std::string pairs;
  pairs.clear();
  for (const auto& [name, value] : macros) {
    if (list && !InSymbolList(*list, name)) continue;
    codec::AppendMacroPair(name, value, &pairs);
  }
  if (pairs.empty()) return absl::OkStatus();
  return codec::EncodeCommandWithin(
      codec::DefineMacros{static_cast<char>(command), codec::StringList(pairs)},
      negotiated_.max_payload, &out_);
}

absl::Status Session::AppendStage(CommandCode code, const Macros* macros,
                                  const codec::Command& command) {
  // One allocation for the session's packets rather than several as they
  // grow, made at the first stage: a negotiated connection may stay idle.
  if (out_.capacity() < 512) out_.reserve(512);
  size_t mark = out_.size();
  absl::Status status = absl::OkStatus();
  int stage = codec::MacroStageForCommand(static_cast<char>(code));
  if (macros != nullptr && stage >= 0) {
    status = AppendMacros(code, static_cast<MacroStage>(stage), *macros);
  }
  if (status.ok()) {
    status =
        codec::EncodeCommandWithin(command, negotiated_.max_payload, &out_);
  }
  if (!status.ok()) out_.resize(mark);
  return status;
}

bool Session::Defer() {
  if (!options_.defer_unanswered_writes || out_.size() >= kMaxDeferredBytes) {
    return false;
  }
  out_unanswered_ = true;
  return true;
}

asio::awaitable<absl::StatusOr<Verdict>> Session::SendAndRead(
    uint32_t no_reply_flag, ReplyKind kind) {
  bool no_reply = no_reply_flag != 0 && negotiated_.NoReply(no_reply_flag);
  if (no_reply && Defer()) co_return Verdict::Unanswered();
  absl::Status flushed = StartFlush();
  if (flushed.ok() && !out_.empty()) {
    flushed = co_await FinishFlush(options_.write_timeout);
  }
  if (!flushed.ok()) co_return flushed;
  if (no_reply) {
    sent_unanswered_ = true;
    co_return Verdict::Unanswered();
  }
  co_return co_await ReadVerdict(kind, options_.read_timeout, nullptr);
}

asio::awaitable<absl::Status> Session::ReadMore(absl::Time deadline,
                                                absl::Duration timeout,
                                                bool partial) {
  if (partial) connection_.AcknowledgeNow();
  absl::StatusOr<std::string_view> first =
      co_await connection_.Receive(deadline - absl::Now());
  if (!first.ok()) {
    if (absl::IsDeadlineExceeded(first.status())) {
      co_return absl::DeadlineExceededError(
          absl::StrCat("waiting for the filter: no answer within ",
                       absl::FormatDuration(timeout)));
    }
    co_return first.status();
  }
  decoder_.Feed(*first);
  // A full inbox: there may be more, taken now into this thread's buffer
  // (fetched after resuming: the coroutine may have moved threads).
  if (first->size() == Connection::kInboxSize) {
    char* buffer = ThreadReadBuffer();
    absl::StatusOr<size_t> n = connection_.ReadNow(buffer, kReadBufferSize);
    if (!n.ok()) co_return n.status();
    decoder_.Feed(std::string_view(buffer, *n));
  }
  co_return absl::OkStatus();
}

absl::Status Session::CheckModification(const codec::Response& response,
                                        const codec::Modification& m,
                                        size_t* memory) {
  auto violation = [&](std::string_view what) {
    return absl::FailedPreconditionError(
        absl::StrCat("protocol violation: ", Absl(what)));
  };
  uint32_t needed = codec::RequiredAction(m);
  if ((negotiated_.actions & needed) == 0) {
    return violation(absl::StrCat("'", ResponseNameOf(response),
                                  "' without negotiating ",
                                  codec::ActionFlagsToString(needed)));
  }
  *memory += MemoryCost(m);
  if (*memory > options_.max_modification_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the filter's modifications exceed ", options_.max_modification_bytes,
        " bytes of memory (SessionOptions::max_modification_bytes)"));
  }
  return absl::OkStatus();
}

// Adds `m` to `eom`, merging consecutive replace-body chunks into one.
void Session::AddModification(codec::Modification m, EndOfMessageResult* eom,
                              std::optional<size_t>* body_index) {
  if (auto* body = std::get_if<codec::mod::ReplaceBody>(&m)) {
    if (*body_index) {
      std::get<codec::mod::ReplaceBody>(eom->modifications[**body_index])
          .data.append(body->data);
      return;
    }
    *body_index = eom->modifications.size();
  }
  eom->modifications.push_back(std::move(m));
}

absl::StatusOr<Decision> Session::FinalStatus(const codec::Response& response,
                                              ReplyKind kind,
                                              Verdict* verdict) const {
  auto violation = [&](std::string_view what) {
    return absl::FailedPreconditionError(
        absl::StrCat("protocol violation: ", Absl(what)));
  };
  switch (codec::CodeOf(response)) {
    case codec::ResponseCode::kContinue:
      return Decision::kContinue;
    case codec::ResponseCode::kAccept:
      return Decision::kAccept;
    case codec::ResponseCode::kReject:
      return Decision::kReject;
    case codec::ResponseCode::kTempfail:
      return Decision::kTempfail;
    case codec::ResponseCode::kDiscard:
      return Decision::kDiscard;
    case codec::ResponseCode::kShutdown:
      return Decision::kShutdown;
    case codec::ResponseCode::kConnectionFail:
      return Decision::kConnectionFail;
    case codec::ResponseCode::kSkip:
      if (kind != ReplyKind::kBody) {
        return violation("'skip' answers only a body chunk");
      }
      if ((negotiated_.protocol & protocol::kSkip) == 0 &&
          (options_.protocol & protocol::kSkip) == 0) {
        return violation("'skip' without SKIP negotiated");
      }
      return Decision::kSkip;
    case codec::ResponseCode::kReplyCode: {
      std::string_view text = std::get<codec::ReplyCode>(response).text;
      absl::StatusOr<codec::ParsedReply> parsed = codec::ParseReply(text);
      if (!parsed.ok()) {
        return violation(absl::StrCat("reply \"", Absl(text.substr(0, 40)),
                                      "\": ", parsed.status().message()));
      }
      verdict->reply = std::string(text);
      return text[0] == '4' ? Decision::kTempfail : Decision::kReject;
    }
    case codec::ResponseCode::kOptionNegotiation:
      return violation("an option negotiation reply in mid-session");
    default:
      return violation(
          absl::StrCat("unexpected '", ResponseNameOf(response), "'"));
  }
}

asio::awaitable<absl::StatusOr<Verdict>> Session::ReadVerdict(
    ReplyKind kind, absl::Duration timeout, EndOfMessageResult* eom) {
  Verdict verdict;
  std::optional<size_t> body_index;  // of the merged replace-body
  size_t modification_memory = 0;
  // The timeout is for the whole answer, not for each read; a progress
  // packet (the filter saying it is still working) starts it again.
  absl::Time deadline = absl::Now() + timeout;
  // Whether part of the answer has come (packets or a packet's start).
  bool partial = false;
  while (true) {
    absl::StatusOr<std::optional<codec::Response>> next = decoder_.Next();
    if (!next.ok()) {
      co_return Fail(absl::InvalidArgumentError(absl::StrCat(
          "bad packet from the filter: ", next.status().message())));
    }
    if (!next->has_value()) {
      partial = partial || decoder_.pending_bytes() > 0;
      if (absl::Status s = co_await ReadMore(deadline, timeout, partial);
          !s.ok()) {
        co_return Fail(s);
      }
      continue;
    }
    const codec::Response& response = **next;
    partial = true;
    if (std::holds_alternative<codec::Progress>(response)) {
      ++verdict.progress;
      deadline = absl::Now() + timeout;
      if (on_progress_) on_progress_();
      continue;
    }
    if (std::optional<codec::Modification> m =
            codec::ModificationOf(response)) {
      if (eom == nullptr) {
        co_return Fail(absl::FailedPreconditionError(
            absl::StrCat("protocol violation: '", ResponseNameOf(response),
                         "' before end of message")));
      }
      absl::Status ok = CheckModification(response, *m, &modification_memory);
      if (!ok.ok()) co_return Fail(ok);
      AddModification(*std::move(m), eom, &body_index);
      continue;
    }
    absl::StatusOr<Decision> status = FinalStatus(response, kind, &verdict);
    if (!status.ok()) co_return Fail(status.status());
    verdict.decision = *status;
    if (decoder_.pending_bytes() > 0) {
      co_return Fail(absl::FailedPreconditionError(absl::StrCat(
          "protocol violation: the filter sent ", decoder_.pending_bytes(),
          " bytes after its final answer '", ResponseNameOf(response), "'")));
    }
    co_return verdict;
  }
}

asio::awaitable<absl::StatusOr<Verdict>> Session::ConnectStage(
    const ConnectionInfo& info, const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoConnect)) co_return Verdict::NotSent();
  if (absl::Status s =
          AppendStage(CommandCode::kConnect, &macros, info.ToConnect());
      !s.ok()) {
    co_return s;
  }
  co_return co_await SendAndRead(protocol::kNoReplyConnect, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Helo(std::string_view name,
                                                       const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoHelo)) co_return Verdict::NotSent();
  if (absl::Status s =
          AppendStage(CommandCode::kHelo, &macros, codec::Helo{name});
      !s.ok()) {
    co_return s;
  }
  co_return co_await SendAndRead(protocol::kNoReplyHelo, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Mail(std::string_view address,
                                                       codec::EsmtpArgs args,
                                                       const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  body_skipped_ = false;
  if (!negotiated_.Sends(protocol::kNoMail)) co_return Verdict::NotSent();
  std::string& list = ScratchList();
  codec::AppendString(address, &list);
  for (std::string_view arg : args) codec::AppendString(arg, &list);
  if (absl::Status s = AppendStage(CommandCode::kMail, &macros,
                                   codec::Mail{codec::StringList(list)});
      !s.ok()) {
    co_return s;
  }
  co_return co_await SendAndRead(protocol::kNoReplyMail, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Rcpt(std::string_view address,
                                                       codec::EsmtpArgs args,
                                                       const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoRcpt)) co_return Verdict::NotSent();
  std::string& list = ScratchList();
  codec::AppendString(address, &list);
  for (std::string_view arg : args) codec::AppendString(arg, &list);
  if (absl::Status s = AppendStage(CommandCode::kRcpt, &macros,
                                   codec::Rcpt{codec::StringList(list)});
      !s.ok()) {
    co_return s;
  }
  co_return co_await SendAndRead(protocol::kNoReplyRcpt, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Data(const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  // DATA and unknown commands exist from protocol version 6 (sendmail 8.14).
  if (!negotiated_.Sends(protocol::kNoData) || negotiated_.version < 6) {
    co_return Verdict::NotSent();
  }
  if (absl::Status s = AppendStage(CommandCode::kData, &macros, codec::Data{});
      !s.ok()) {
    co_return s;
  }
  co_return co_await SendAndRead(protocol::kNoReplyData, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Unknown(
    std::string_view command) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoUnknown) || negotiated_.version < 6) {
    co_return Verdict::NotSent();
  }
  if (absl::Status s =
          AppendStage(CommandCode::kUnknown, nullptr, codec::Unknown{command});
      !s.ok()) {
    co_return s;
  }
  co_return co_await SendAndRead(protocol::kNoReplyUnknown, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Header(
    std::string_view name, std::string_view value) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoHeaders)) co_return Verdict::NotSent();
  if (absl::Status s = AppendStage(CommandCode::kHeader, nullptr,
                                   codec::Header{name, value});
      !s.ok()) {
    co_return s;
  }
  co_return co_await SendAndRead(protocol::kNoReplyHeader, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::EndOfHeaders(
    const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoEndOfHeaders))
    co_return Verdict::NotSent();
  if (absl::Status s = AppendStage(CommandCode::kEndOfHeaders, &macros,
                                   codec::EndOfHeaders{});
      !s.ok()) {
    co_return s;
  }
  co_return co_await SendAndRead(protocol::kNoReplyEndOfHeaders,
                                 ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::BodyChunk(
    std::string_view chunk) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (body_skipped_) co_return Verdict::NotSent(Decision::kSkip);
  if (!negotiated_.Sends(protocol::kNoBody)) co_return Verdict::NotSent();
  if (chunk.size() > codec::kBodyChunkSize) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("body chunk of ", chunk.size(), " bytes; at most ",
                     codec::kBodyChunkSize));
  }
  codec::EncodeCommand(codec::BodyChunk{chunk}, &out_);
  absl::StatusOr<Verdict> verdict =
      co_await SendAndRead(protocol::kNoReplyBody, ReplyKind::kBody);
  if (verdict.ok() && verdict->decision == Decision::kSkip) {
    body_skipped_ = true;
  }
  co_return verdict;
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Body(std::string_view body) {
  if (body.empty())
    co_return Verdict::NotSent(body_skipped_ ? Decision::kSkip
                                             : Decision::kContinue);
  Verdict last;
  for (std::string_view chunk : codec::SplitBody(body, codec::kBodyChunkSize)) {
    absl::StatusOr<Verdict> verdict = co_await BodyChunk(chunk);
    if (!verdict.ok()) co_return verdict;
    int progress = last.progress + verdict->progress;
    last = *std::move(verdict);
    last.progress = progress;
    if (last.decision != Decision::kContinue) break;
  }
  co_return last;
}

asio::awaitable<absl::StatusOr<EndOfMessageResult>> Session::EndOfMessage(
    const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (absl::Status s = AppendStage(CommandCode::kEndOfMessage, &macros,
                                   codec::EndOfMessage{});
      !s.ok()) {
    co_return s;
  }
  absl::Status flushed = StartFlush();
  if (flushed.ok() && !out_.empty()) {
    flushed = co_await FinishFlush(options_.write_timeout);
  }
  if (!flushed.ok()) co_return flushed;
  EndOfMessageResult result;
  absl::StatusOr<Verdict> verdict = co_await ReadVerdict(
      ReplyKind::kEndOfMessage, options_.end_of_message_timeout, &result);
  if (!verdict.ok()) co_return verdict.status();
  result.verdict = *std::move(verdict);
  body_skipped_ = false;
  co_return result;
}

asio::awaitable<absl::Status> Session::Abort() {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  body_skipped_ = false;
  codec::EncodeCommand(codec::Abort{}, &out_);
  if (Defer()) co_return absl::OkStatus();
  absl::Status status = StartFlush();
  if (status.ok() && !out_.empty()) {
    status = co_await FinishFlush(options_.write_timeout);
  }
  sent_unanswered_ = true;
  co_return status;
}

asio::awaitable<absl::Status> Session::Quit() {
  if (absl::Status s = CheckUsable(false); !s.ok()) co_return s;
  codec::EncodeCommand(codec::Quit{}, &out_);
  absl::Status status = StartFlush();
  if (status.ok() && !out_.empty()) {
    status = co_await FinishFlush(options_.write_timeout);
  }
  connection_.Close();
  negotiated_ok_ = false;
  co_return status;
}

asio::awaitable<absl::Status> Session::QuitNewConnection() {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  codec::EncodeCommand(codec::QuitNewConnection{}, &out_);
  absl::Status status = StartFlush();
  if (status.ok() && !out_.empty()) {
    status = co_await FinishFlush(options_.write_timeout);
  }
  negotiated_ok_ = false;
  co_return status;
}

}  // namespace milter::server
