#include "milter/server/session.h"

#include <algorithm>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asio/post.hpp"
#include "asio/use_awaitable.hpp"
#include "milter/codec/encoder.h"
#include "milter/codec/macros.h"
#include "milter/codec/message.h"
#include "milter/codec/reply.h"
#include "milter/server/modification.h"

namespace milter::server {
namespace {

namespace protocol = codec::protocol;
using codec::CommandCode;
using codec::MacroStage;

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// Read buffer shared by every session on a thread: sessions copy what they
// need before they next suspend, so an idle session holds no buffer.
char* ThreadReadBuffer(size_t* size) {
  static thread_local char buffer[64 * 1024];
  *size = sizeof(buffer);
  return buffer;
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

std::optional<Modification> ToModification(const codec::Response& response) {
  using T = Modification::Type;
  return std::visit(
      Overloaded{
          [](const codec::AddHeader& h) -> std::optional<Modification> {
            return Modification{T::kAddHeader, 0, std::string(h.name),
                                std::string(h.value), ""};
          },
          [](const codec::InsertHeader& h) -> std::optional<Modification> {
            return Modification{T::kInsertHeader, h.index, std::string(h.name),
                                std::string(h.value), ""};
          },
          [](const codec::ChangeHeader& h) -> std::optional<Modification> {
            return Modification{T::kChangeHeader, h.index, std::string(h.name),
                                std::string(h.value), ""};
          },
          [](const codec::ChangeFrom& e) -> std::optional<Modification> {
            return Modification{T::kChangeFrom, 0, "", std::string(e.address),
                                std::string(e.args.value_or(""))};
          },
          [](const codec::AddRecipient& a) -> std::optional<Modification> {
            return Modification{T::kAddRecipient, 0, "", std::string(a.address),
                                ""};
          },
          [](const codec::AddRecipientWithArgs& a)
              -> std::optional<Modification> {
            return Modification{T::kAddRecipientWithArgs, 0, "",
                                std::string(a.address), std::string(a.args)};
          },
          [](const codec::DeleteRecipient& d) -> std::optional<Modification> {
            return Modification{T::kDeleteRecipient, 0, "",
                                std::string(d.address), ""};
          },
          [](const codec::ReplaceBody& b) -> std::optional<Modification> {
            return Modification{T::kReplaceBody, 0, "", std::string(b.data),
                                ""};
          },
          [](const auto&) -> std::optional<Modification> {
            return std::nullopt;
          },
      },
      response);
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
  return status;
}

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
  for (auto& list : symbol_lists_) list.reset();
  decoder_.set_max_payload(codec::kDefaultMaxPayload);

  codec::OptionNegotiation offer{options_.version, options_.actions,
                                 options_.protocol};
  // One allocation for the session's packets rather than several as it grows.
  out_.reserve(512);
  codec::EncodeCommand(offer, &out_);
  // (Inline rather than Flush(): no coroutine frame when the socket takes
  // everything at once, the usual case.)
  absl::Status flushed = StartFlush();
  if (flushed.ok() && !out_.empty()) {
    flushed = co_await FinishFlush(options_.write_timeout);
  }
  if (!flushed.ok()) co_return flushed;
  size_t buffer_size;
  char* buffer = ThreadReadBuffer(&buffer_size);
  while (true) {
    absl::StatusOr<std::optional<codec::Response>> next = decoder_.Next();
    if (!next.ok()) {
      co_return Fail(absl::InvalidArgumentError(
          absl::StrCat("bad negotiation reply: ", next.status().message())));
    }
    if (!next->has_value()) {
      // Connection::ReadSome() inline (one coroutine frame less): let the
      // other sessions run, read what is there, wait only if nothing is.
      co_await asio::post(connection_.executor(), asio::use_awaitable);
      absl::StatusOr<size_t> n = connection_.ReadNow(buffer, buffer_size);
      if (n.ok() && *n == 0) {
        n = co_await connection_.WaitAndRead(buffer, buffer_size,
                                             options_.read_timeout);
      }
      if (!n.ok()) co_return Fail(n.status());
      decoder_.Feed(std::string_view(buffer, *n));
      continue;
    }
    const auto* reply = std::get_if<codec::OptionNegotiationReply>(&**next);
    if (reply == nullptr) {
      co_return Fail(absl::InvalidArgumentError(
          absl::StrCat("protocol violation: the filter answered option "
                       "negotiation with '",
                       ResponseNameOf(**next), "'")));
    }
    codec::OptionNegotiationReply clamped = *reply;
    // libmilter answers with its own version even when the MTA offers an
    // older one; MTAs carry on with the offered version.
    clamped.version = std::min(clamped.version, offer.version);
    absl::StatusOr<codec::NegotiatedOptions> options =
        codec::AcceptFilterReply(offer, clamped);
    if (!options.ok()) co_return Fail(options.status());
    negotiated_ = *options;
    for (int i = 0; i < codec::kNumMacroStages; ++i) {
      if (reply->symbol_lists[i]) {
        symbol_lists_[i] = std::string(*reply->symbol_lists[i]);
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

void Session::AppendMacros(CommandCode command, MacroStage stage,
                           const Macros& macros) {
  if (macros.empty()) return;
  const std::optional<std::string>& list =
      symbol_lists_[static_cast<int>(stage)];
  // Scratch reused by every session on this thread (filled and consumed
  // without suspending): no allocation per stage.
  static thread_local std::string pairs;
  pairs.clear();
  for (const auto& [name, value] : macros) {
    if (list && !InSymbolList(*list, name)) continue;
    codec::AppendMacroPair(name, value, &pairs);
  }
  if (pairs.empty()) return;
  codec::EncodeCommand(
      codec::DefineMacros{static_cast<char>(command), codec::StringList(pairs)},
      &out_);
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

asio::awaitable<absl::StatusOr<Verdict>> Session::ReadVerdict(
    ReplyKind kind, absl::Duration timeout, EndOfMessageResult* eom) {
  size_t buffer_size;
  char* buffer = ThreadReadBuffer(&buffer_size);
  Verdict verdict;
  std::optional<size_t> body_index;  // of the merged replace-body
  size_t modification_bytes = 0;
  auto violation = [&](std::string_view what) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("protocol violation: ", Absl(what))));
  };
  while (true) {
    absl::StatusOr<std::optional<codec::Response>> next = decoder_.Next();
    if (!next.ok()) {
      co_return Fail(absl::InvalidArgumentError(absl::StrCat(
          "bad packet from the filter: ", next.status().message())));
    }
    if (!next->has_value()) {
      // Connection::ReadSome() inline (one coroutine frame less): let the
      // other sessions run, read what is there, wait only if nothing is.
      co_await asio::post(connection_.executor(), asio::use_awaitable);
      absl::StatusOr<size_t> n = connection_.ReadNow(buffer, buffer_size);
      if (n.ok() && *n == 0) {
        n = co_await connection_.WaitAndRead(buffer, buffer_size, timeout);
      }
      if (!n.ok()) co_return Fail(n.status());
      decoder_.Feed(std::string_view(buffer, *n));
      continue;
    }
    const codec::Response& response = **next;
    bool done = true;
    switch (codec::CodeOf(response)) {
      case codec::ResponseCode::kContinue:
        verdict.decision = Decision::kContinue;
        break;
      case codec::ResponseCode::kAccept:
        verdict.decision = Decision::kAccept;
        break;
      case codec::ResponseCode::kReject:
        verdict.decision = Decision::kReject;
        break;
      case codec::ResponseCode::kTempfail:
        verdict.decision = Decision::kTempfail;
        break;
      case codec::ResponseCode::kDiscard:
        verdict.decision = Decision::kDiscard;
        break;
      case codec::ResponseCode::kShutdown:
        verdict.decision = Decision::kShutdown;
        break;
      case codec::ResponseCode::kConnectionFail:
        verdict.decision = Decision::kConnectionFail;
        break;
      case codec::ResponseCode::kSkip:
        if (kind != ReplyKind::kBody) {
          co_return violation("'skip' answers only a body chunk");
        }
        if ((negotiated_.protocol & protocol::kSkip) == 0 &&
            (options_.protocol & protocol::kSkip) == 0) {
          co_return violation("'skip' without SKIP negotiated");
        }
        verdict.decision = Decision::kSkip;
        break;
      case codec::ResponseCode::kReplyCode: {
        std::string_view text = std::get<codec::ReplyCode>(response).text;
        if (text.size() < 3 || (text[0] != '4' && text[0] != '5') ||
            text[1] < '0' || text[1] > '9' || text[2] < '0' || text[2] > '9') {
          co_return violation(
              absl::StrCat("reply code text \"", Absl(text.substr(0, 40)),
                           "\" does not start with a 4xx or 5xx code"));
        }
        verdict.decision =
            text[0] == '4' ? Decision::kTempfail : Decision::kReject;
        verdict.reply = std::string(text);
        break;
      }
      case codec::ResponseCode::kProgress:
        ++verdict.progress;
        done = false;
        break;
      case codec::ResponseCode::kOptionNegotiation:
        co_return violation("an option negotiation reply in mid-session");
      case codec::ResponseCode::kQuarantine:
        if (eom == nullptr) {
          co_return violation("'quarantine' before end of message");
        }
        if ((negotiated_.actions & codec::action::kQuarantine) == 0) {
          co_return violation("'quarantine' without negotiating it");
        }
        eom->quarantine =
            std::string(std::get<codec::Quarantine>(response).reason);
        done = false;
        break;
      default: {
        // A modification.
        std::optional<Modification> m = ToModification(response);
        if (!m) co_return violation("unexpected response");
        if (eom == nullptr) {
          co_return violation(absl::StrCat("'", ResponseNameOf(response),
                                           "' before end of message"));
        }
        if ((negotiated_.actions & RequiredAction(m->type)) == 0) {
          co_return violation(absl::StrCat(
              "'", ResponseNameOf(response), "' without negotiating ",
              codec::ActionFlagsToString(RequiredAction(m->type))));
        }
        modification_bytes += m->name.size() + m->value.size() + m->args.size();
        if (modification_bytes > options_.max_modification_bytes) {
          co_return Fail(absl::ResourceExhaustedError(
              absl::StrCat("the filter's modifications exceed ",
                           options_.max_modification_bytes, " bytes")));
        }
        if (m->type == Modification::Type::kReplaceBody && body_index) {
          eom->modifications[*body_index].value += m->value;
        } else {
          if (m->type == Modification::Type::kReplaceBody) {
            body_index = eom->modifications.size();
          }
          eom->modifications.push_back(*std::move(m));
        }
        done = false;
        break;
      }
    }
    if (!done) continue;
    if (decoder_.pending_bytes() > 0) {
      co_return violation(absl::StrCat(
          "the filter sent ", decoder_.pending_bytes(),
          " bytes after its final answer '", ResponseNameOf(response), "'"));
    }
    co_return verdict;
  }
}

asio::awaitable<absl::StatusOr<Verdict>> Session::ConnectStage(
    const ConnectInfo& info, const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoConnect)) co_return Verdict::NotSent();
  AppendMacros(CommandCode::kConnect, MacroStage::kConnect, macros);
  codec::EncodeCommand(
      codec::Connect{info.hostname, info.family, info.port, info.address},
      &out_);
  co_return co_await SendAndRead(protocol::kNoReplyConnect, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Helo(std::string_view name,
                                                       const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoHelo)) co_return Verdict::NotSent();
  AppendMacros(CommandCode::kHelo, MacroStage::kHelo, macros);
  codec::EncodeCommand(codec::Helo{name}, &out_);
  co_return co_await SendAndRead(protocol::kNoReplyHelo, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Mail(
    std::string_view address, const std::vector<std::string>& args,
    const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  body_skipped_ = false;
  if (!negotiated_.Sends(protocol::kNoMail)) co_return Verdict::NotSent();
  AppendMacros(CommandCode::kMail, MacroStage::kMail, macros);
  std::string& list = ScratchList();
  codec::AppendString(address, &list);
  for (const std::string& arg : args) codec::AppendString(arg, &list);
  codec::EncodeCommand(codec::Mail{codec::StringList(list)}, &out_);
  co_return co_await SendAndRead(protocol::kNoReplyMail, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Rcpt(
    std::string_view address, const std::vector<std::string>& args,
    const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoRcpt)) co_return Verdict::NotSent();
  AppendMacros(CommandCode::kRcpt, MacroStage::kRcpt, macros);
  std::string& list = ScratchList();
  codec::AppendString(address, &list);
  for (const std::string& arg : args) codec::AppendString(arg, &list);
  codec::EncodeCommand(codec::Rcpt{codec::StringList(list)}, &out_);
  co_return co_await SendAndRead(protocol::kNoReplyRcpt, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Data(const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  // DATA and unknown commands exist from protocol version 6 (sendmail 8.14).
  if (!negotiated_.Sends(protocol::kNoData) || negotiated_.version < 6) {
    co_return Verdict::NotSent();
  }
  AppendMacros(CommandCode::kData, MacroStage::kData, macros);
  codec::EncodeCommand(codec::Data{}, &out_);
  co_return co_await SendAndRead(protocol::kNoReplyData, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Unknown(
    std::string_view command) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoUnknown) || negotiated_.version < 6) {
    co_return Verdict::NotSent();
  }
  codec::EncodeCommand(codec::Unknown{command}, &out_);
  co_return co_await SendAndRead(protocol::kNoReplyUnknown, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::Header(
    std::string_view name, std::string_view value) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoHeaders)) co_return Verdict::NotSent();
  codec::EncodeCommand(codec::Header{name, value}, &out_);
  co_return co_await SendAndRead(protocol::kNoReplyHeader, ReplyKind::kStage);
}

asio::awaitable<absl::StatusOr<Verdict>> Session::EndOfHeaders(
    const Macros& macros) {
  if (absl::Status s = CheckUsable(true); !s.ok()) co_return s;
  if (!negotiated_.Sends(protocol::kNoEndOfHeaders))
    co_return Verdict::NotSent();
  AppendMacros(CommandCode::kEndOfHeaders, MacroStage::kEndOfHeaders, macros);
  codec::EncodeCommand(codec::EndOfHeaders{}, &out_);
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
  AppendMacros(CommandCode::kEndOfMessage, MacroStage::kEndOfMessage, macros);
  codec::EncodeCommand(codec::EndOfMessage{}, &out_);
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
