// The session engine: negotiation, stage dispatch, answers and emulation
// (see engine.h).

#include "milter/client/engine.h"

#include <exception>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "milter/client/worker_call.h"
#include "milter/codec/encoder.h"
#include "milter/codec/header_value.h"
#include "milter/codec/modification.h"
#include "milter/codec/reply.h"

namespace milter::client {
namespace {

namespace protocol = codec::protocol;
using Internal = Context::Internal;

// Set in Engine::progress_ while a stage's callbacks may report progress.
constexpr uint32_t kStageOpen = 1u << 31;

// Calls a sync callback (on the pool) or a coroutine one. Exceptions
// propagate to the caller.
template <class SyncFn, class CoroFn>
asio::awaitable<Status> CallFilter(bool sync, const asio::any_io_executor* pool,
                                   SyncFn sync_fn, CoroFn coro_fn) {
  if (sync) co_return co_await internal::CallOnWorker<Status>(pool, sync_fn);
  co_return co_await coro_fn();
}

void AppendProgress(uint32_t count, std::string* out) {
  for (; count > 0; --count) codec::EncodeResponse(codec::Progress{}, out);
}

std::string ExceptionText(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return absl::StrCat("an exception: ", e.what());
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

std::string QueueIdSuffix(const Context& ctx) {
  std::string_view id = ctx.MacroOr("i", "");
  if (id.empty()) return "";
  return absl::StrCat(" (queue ID ", std::string(id), ")");
}

void AppendArgs(const codec::StringList& list, std::string_view* address,
                std::vector<std::string_view>* args) {
  bool first = true;
  for (std::string_view s : list) {
    if (first) {
      *address = s;
      first = false;
    } else {
      args->push_back(s);
    }
  }
}

}  // namespace

Engine::Engine(const FilterFactory* factory, const asio::any_io_executor* pool,
               const DiagnosticSink* diagnostics)
    : factory_(factory), pool_(pool), diagnostics_(diagnostics) {
  NewFilter();
}

void Engine::Report(std::string_view what) const {
  if (diagnostics_ != nullptr && *diagnostics_) (*diagnostics_)(what);
}

Engine::~Engine() = default;

void Engine::NewFilter() {
  sync_.reset();
  coroutine_.reset();
  context_ = std::make_unique<Context>();
  Internal::SetProgressSink(*context_, [this] { OnProgress(); });
  negotiated_ = in_message_ = skipping_body_ = closed_ = false;
}

// The filter object of this session, made only once the MTA negotiates.
void Engine::MakeFilter() {
  if (factory_->is_sync()) {
    sync_ = factory_->NewSync();
  } else {
    coroutine_ = factory_->NewCoroutine();
  }
}

void Engine::SetProgressSink(std::function<void()> notify) {
  progress_notify_ = std::move(notify);
}

// Any thread. Counted only while the stage is open: a report after the
// stage's callbacks returned is dropped, so nothing follows the verdict.
void Engine::OnProgress() {
  uint32_t state = progress_.load(std::memory_order_acquire);
  do {
    if (!(state & kStageOpen)) return;
  } while (!progress_.compare_exchange_weak(
      state, state + 1, std::memory_order_acq_rel, std::memory_order_acquire));
  if (progress_notify_) progress_notify_();
}

void Engine::TakeProgress(std::string* out) {
  AppendProgress(
      progress_.fetch_and(kStageOpen, std::memory_order_acq_rel) & ~kStageOpen,
      out);
}

size_t Engine::max_payload() const {
  return negotiated_ ? context_->negotiated().max_payload
                     : codec::kDefaultMaxPayload;
}

asio::awaitable<absl::StatusOr<Engine::After>> Engine::Handle(
    const codec::Command& command, std::string* out) {
  if (const auto* o = std::get_if<codec::OptionNegotiation>(&command)) {
    co_return co_await Negotiate(*o, out);
  }
  if (std::holds_alternative<codec::Quit>(command)) {
    // Also before negotiation (after `K`, or a bare probe): a clean close.
    co_await Finish();
    co_return After::kClose;
  }
  if (!negotiated_) {
    co_return absl::FailedPreconditionError(
        absl::StrCat("MTA sent ", codec::CommandName(codec::CodeOf(command)),
                     " before option negotiation"));
  }
  if (const auto* d = std::get_if<codec::DefineMacros>(&command)) {
    int stage = codec::MacroStageForCommand(d->command_code);
    if (stage >= 0) {
      Internal::macros(*context_).SetStage(
          static_cast<codec::MacroStage>(stage), d->pairs);
    }
    co_return After::kContinue;
  }
  if (std::holds_alternative<codec::QuitNewConnection>(command)) {
    co_await Finish();
    NewFilter();
    co_return After::kNewSession;
  }
  if (std::holds_alternative<codec::Abort>(command)) {
    co_await CallAbort();
    co_return After::kContinue;
  }
  char code = static_cast<char>(codec::CodeOf(command));
  int macro_stage = codec::MacroStageForCommand(code);
  if (macro_stage >= 0) {
    if (codec::MacroMap* m = Internal::existing_macros(*context_)) {
      m->ClearAbove(static_cast<codec::MacroStage>(macro_stage));
    }
  }
  uint32_t no_reply = 0;
  switch (code) {
    case 'C':
      no_reply = protocol::kNoReplyConnect;
      break;
    case 'H':
      no_reply = protocol::kNoReplyHelo;
      break;
    case 'M':
      no_reply = protocol::kNoReplyMail;
      in_message_ = true;
      skipping_body_ = false;
      break;
    case 'R':
      no_reply = protocol::kNoReplyRcpt;
      break;
    case 'T':
      no_reply = protocol::kNoReplyData;
      break;
    case 'U':
      no_reply = protocol::kNoReplyUnknown;
      break;
    case 'L':
      no_reply = protocol::kNoReplyHeader;
      break;
    case 'N':
      no_reply = protocol::kNoReplyEndOfHeaders;
      break;
    case 'B':
      no_reply = protocol::kNoReplyBody;
      break;
    default:
      break;
  }
  // Any message-stage command means a message is in flight, also when the
  // MTA was told not to send MAIL: a lost connection then calls OnAbort.
  if (std::string_view("MRTLNBE").find(code) != std::string_view::npos) {
    in_message_ = true;
  }
  progress_.store(kStageOpen, std::memory_order_release);
  Status status = co_await CallStage(command);
  // Progress of this stage goes before its answer, and none after it: the
  // count is taken and the stage closed in one step.
  AppendProgress(progress_.exchange(0, std::memory_order_acq_rel) & ~kStageOpen,
                 out);
  ReportMismatchedReply(no_reply, status);
  if (code == 'E') {
    EmitModifications(out);
    in_message_ = false;
    skipping_body_ = false;
  }
  Respond(no_reply, status, out);
  // Outside a stage, Progress and the modifications are refused.
  Internal::SetStage(*context_, Stage::kNone);
  if (code == 'B' && status == Status::kSkip) {
    // The filter wants no more body. Whether or not the MTA got an 's' (it
    // lacks SKIP, or the no-reply-body flag forbids an answer), OnBody is
    // not called again for this message: the remaining chunks are answered
    // (or not, under no-reply-body) without it.
    skipping_body_ = true;
  }
  co_return After::kContinue;
}

asio::awaitable<absl::StatusOr<Engine::After>> Engine::Negotiate(
    const codec::OptionNegotiation& offer, std::string* out) {
  if (negotiated_) {
    co_return absl::FailedPreconditionError(
        "MTA sent option negotiation twice in one session");
  }
  MakeFilter();
  Negotiation n = factory_->DefaultNegotiation(offer);
  Internal::SetStage(*context_, Stage::kNegotiate);
  Context& ctx = *context_;
  Status status = Status::kTempfail;
  std::exception_ptr error;
  try {
    status = co_await CallFilter(
        sync_ != nullptr, pool_, [&] { return sync_->OnNegotiate(ctx, n); },
        [&] { return coroutine_->OnNegotiate(ctx, n); });
  } catch (...) {
    error = std::current_exception();
  }
  if (error) ReportException(error, "refusing the negotiation (tempfail)");
  if (!(n.offer == offer)) {
    // The offer is the MTA's: a filter cannot widen (or narrow) it.
    Report(absl::StrCat(
        "OnNegotiate changed the MTA's offer (version ", offer.version,
        " actions ", codec::ActionFlagsToString(offer.actions), " protocol ",
        codec::ProtocolFlagsToString(offer.protocol),
        "); the change is ignored: edit Negotiation::request instead"));
    n.offer = offer;
  }
  if (status != Status::kContinue && status != Status::kAccept) {
    co_return absl::FailedPreconditionError(absl::StrCat(
        "filter refused option negotiation (", StatusName(status), ")"));
  }
  // Symbol lists need the setsymlist action; ask for it when the MTA offers
  // it (without it, the MTA sends its default macros).
  bool want_lists = false;
  for (const auto& list : n.symbol_lists) want_lists |= list.has_value();
  if (want_lists && (n.offer.actions & codec::action::kSetSymbolList)) {
    n.request.actions |= codec::action::kSetSymbolList;
  }
  absl::StatusOr<codec::NegotiatedOptions> options =
      codec::NegotiateAsFilter(n.offer, n.request);
  if (!options.ok()) co_return options.status();
  codec::OptionNegotiationReply reply = codec::MakeReply(*options);
  if (options->actions & codec::action::kSetSymbolList) {
    for (int i = 0; i < codec::kNumMacroStages; ++i) {
      if (n.symbol_lists[i]) reply.symbol_lists[i] = *n.symbol_lists[i];
    }
  }
  codec::EncodeResponse(reply, out);
  Internal::negotiated(ctx) = *options;
  negotiated_ = true;
  co_return After::kContinue;
}

asio::awaitable<Status> Engine::CallBody(std::string_view chunk) {
  Context& ctx = *context_;
  co_return co_await CallFilter(
      sync_ != nullptr, pool_, [&] { return sync_->OnBody(ctx, chunk); },
      [&] { return coroutine_->OnBody(ctx, chunk); });
}

asio::awaitable<void> Engine::CallAbort() {
  Context& ctx = *context_;
  Internal::SetStage(ctx, Stage::kAbort);
  in_message_ = false;
  skipping_body_ = false;
  Internal::reply(ctx).reset();
  Internal::modifications(ctx).clear();
  std::exception_ptr error;
  try {
    if (sync_) {
      auto fn = [&] {
        sync_->OnAbort(ctx);
        return 0;
      };
      co_await internal::CallOnWorker<int>(pool_, fn);
    } else {
      co_await coroutine_->OnAbort(ctx);
    }
  } catch (...) {
    error = std::current_exception();
  }
  if (error) ReportException(error, "ignored");
}

asio::awaitable<void> Engine::Finish() {
  if (closed_) co_return;
  closed_ = true;
  progress_.store(0, std::memory_order_release);
  if (!has_filter()) co_return;  // closed before negotiating: no session
  if (in_message_) co_await CallAbort();
  Context& ctx = *context_;
  Internal::SetStage(ctx, Stage::kClose);
  std::exception_ptr error;
  try {
    if (sync_) {
      auto fn = [&] {
        sync_->OnClose(ctx);
        return 0;
      };
      co_await internal::CallOnWorker<int>(pool_, fn);
    } else {
      co_await coroutine_->OnClose(ctx);
    }
  } catch (...) {
    error = std::current_exception();
  }
  if (error) ReportException(error, "ignored");
}

asio::awaitable<Status> Engine::CallStage(const codec::Command& command) {
  std::exception_ptr error;
  try {
    co_return co_await Dispatch(command);
  } catch (...) {
    error = std::current_exception();
  }
  ReportException(error, "answering tempfail");
  co_return Status::kTempfail;
}

void Engine::ReportException(std::exception_ptr error,
                             std::string_view outcome) {
  Report(absl::StrCat("filter callback at ", StageName(context_->stage()),
                      QueueIdSuffix(*context_), " threw ", ExceptionText(error),
                      "; ", std::string(outcome)));
}

// libmilter sends a reply only with the verdict of its class (5xx with
// reject, 4xx with tempfail); a mismatched one is not used. Said so here.
void Engine::ReportMismatchedReply(uint32_t no_reply_flag,
                                   Status status) const {
  const Context& ctx = *context_;
  const std::optional<std::string>& reply = ctx.reply();
  if (!reply || reply->empty()) return;
  char wanted = status == Status::kReject     ? '5'
                : status == Status::kTempfail ? '4'
                                              : 0;
  if (wanted == 0 || reply->front() == wanted) return;
  // At a no-reply stage the verdict itself is lost (reported in Respond).
  if (no_reply_flag != 0 && ctx.negotiated().NoReply(no_reply_flag)) return;
  std::string_view first_line(*reply);
  first_line = first_line.substr(0, first_line.find('\r'));
  Report(absl::StrCat(
      "filter set the reply \"", std::string(first_line), "\" at ",
      StageName(ctx.stage()), QueueIdSuffix(ctx), " but returned ",
      StatusName(status), ": a ", wanted == '5' ? "4xx" : "5xx",
      " reply goes only with ", wanted == '5' ? "tempfail" : "reject",
      "; the reply is not used (the MTA sends its default text)"));
}

asio::awaitable<Status> Engine::Dispatch(const codec::Command& command) {
  Context& ctx = *context_;
  const uint32_t cbs = factory_->callbacks();
  bool sync = sync_ != nullptr;
  Filter* f = sync_.get();
  CoroutineFilter* c = coroutine_.get();
  if (const auto* m = std::get_if<codec::Connect>(&command)) {
    Internal::SetStage(ctx, Stage::kConnect);
    ConnectionInfo& info = Internal::connection(ctx);
    info = ConnectionInfo::From(*m);
    if (!(cbs & callback::kConnect)) co_return Status::kContinue;
    co_return co_await CallFilter(
        sync, pool_, [&] { return f->OnConnect(ctx, info); },
        [&] { return c->OnConnect(ctx, info); });
  }
  if (const auto* m = std::get_if<codec::Helo>(&command)) {
    Internal::SetStage(ctx, Stage::kHelo);
    if (!(cbs & callback::kHelo)) co_return Status::kContinue;
    co_return co_await CallFilter(
        sync, pool_, [&] { return f->OnHelo(ctx, m->name); },
        [&] { return c->OnHelo(ctx, m->name); });
  }
  if (std::holds_alternative<codec::Mail>(command) ||
      std::holds_alternative<codec::Rcpt>(command)) {
    bool is_mail = std::holds_alternative<codec::Mail>(command);
    Internal::SetStage(ctx, is_mail ? Stage::kMail : Stage::kRcpt);
    if (!(cbs & (is_mail ? callback::kMail : callback::kRcpt))) {
      co_return Status::kContinue;
    }
    const codec::StringList& list = is_mail
                                        ? std::get<codec::Mail>(command).args
                                        : std::get<codec::Rcpt>(command).args;
    std::string_view address;
    std::vector<std::string_view> args;
    AppendArgs(list, &address, &args);
    EsmtpArgs span(args);
    if (is_mail) {
      co_return co_await CallFilter(
          sync, pool_, [&] { return f->OnMailFrom(ctx, address, span); },
          [&] { return c->OnMailFrom(ctx, address, span); });
    }
    co_return co_await CallFilter(
        sync, pool_, [&] { return f->OnRcptTo(ctx, address, span); },
        [&] { return c->OnRcptTo(ctx, address, span); });
  }
  if (std::holds_alternative<codec::Data>(command)) {
    Internal::SetStage(ctx, Stage::kData);
    if (!(cbs & callback::kData)) co_return Status::kContinue;
    co_return co_await CallFilter(
        sync, pool_, [&] { return f->OnData(ctx); },
        [&] { return c->OnData(ctx); });
  }
  if (const auto* m = std::get_if<codec::Unknown>(&command)) {
    Internal::SetStage(ctx, Stage::kUnknown);
    if (!(cbs & callback::kUnknown)) co_return Status::kContinue;
    co_return co_await CallFilter(
        sync, pool_, [&] { return f->OnUnknown(ctx, m->command); },
        [&] { return c->OnUnknown(ctx, m->command); });
  }
  if (const auto* m = std::get_if<codec::Header>(&command)) {
    Internal::SetStage(ctx, Stage::kHeader);
    if (!(cbs & callback::kHeader)) co_return Status::kContinue;
    std::string_view value = m->value;
    if (ctx.negotiated().emulated & protocol::kHeaderLeadingSpace) {
      // The MTA stripped the space the filter wants: put it back.
      if (!header_value_) header_value_ = std::make_unique<std::string>();
      *header_value_ =
          codec::HeaderValueFromFilter(value, /*leading_space=*/false);
      value = *header_value_;
    }
    std::string_view name = m->name;
    co_return co_await CallFilter(
        sync, pool_, [&] { return f->OnHeader(ctx, name, value); },
        [&] { return c->OnHeader(ctx, name, value); });
  }
  if (std::holds_alternative<codec::EndOfHeaders>(command)) {
    Internal::SetStage(ctx, Stage::kEndOfHeaders);
    if (!(cbs & callback::kEndOfHeaders)) co_return Status::kContinue;
    co_return co_await CallFilter(
        sync, pool_, [&] { return f->OnEndOfHeaders(ctx); },
        [&] { return c->OnEndOfHeaders(ctx); });
  }
  if (const auto* m = std::get_if<codec::BodyChunk>(&command)) {
    Internal::SetStage(ctx, Stage::kBody);
    if (!(cbs & callback::kBody) || skipping_body_) {
      co_return Status::kContinue;
    }
    co_return co_await CallBody(m->data);
  }
  if (const auto* m = std::get_if<codec::EndOfMessage>(&command)) {
    Internal::modifications(ctx).clear();
    if (!m->data.empty() && (cbs & callback::kBody) && !skipping_body_) {
      Internal::SetStage(ctx, Stage::kBody);
      Status s = co_await CallBody(m->data);
      if (s != Status::kContinue && s != Status::kSkip &&
          s != Status::kNoReply) {
        co_return s;
      }
    }
    Internal::SetStage(ctx, Stage::kEndOfMessage);
    co_return co_await CallFilter(
        sync, pool_, [&] { return f->OnEndOfMessage(ctx); },
        [&] { return c->OnEndOfMessage(ctx); });
  }
  co_return Status::kContinue;
}

void Engine::Respond(uint32_t no_reply_flag, Status status, std::string* out) {
  Context& ctx = *context_;
  std::optional<std::string> reply = std::move(Internal::reply(ctx));
  Internal::reply(ctx).reset();
  if (no_reply_flag != 0 && ctx.negotiated().NoReply(no_reply_flag)) {
    // The MTA does not read an answer to this stage: anything sent would be
    // taken as the answer to its next command. A continue/no-reply/skip
    // loses nothing (skip is emulated by the caller); any other verdict is
    // lost, as in libmilter, but said so.
    if (status != Status::kContinue && status != Status::kNoReply &&
        status != Status::kSkip) {
      std::string queue_id(ctx.MacroOr("i", ""));
      Report(absl::StrCat(
          "filter returned ", StatusName(status), " at ",
          StageName(ctx.stage()),
          queue_id.empty() ? "" : absl::StrCat(" (queue ID ", queue_id, ")"),
          " but negotiated no reply for that stage: the verdict is not sent "
          "(the MTA would not read it); request no no-reply flag for a "
          "stage that may reject"));
    }
    return;
  }
  switch (status) {
    case Status::kContinue:
    case Status::kNoReply:
      codec::EncodeResponse(codec::Continue{}, out);
      return;
    case Status::kAccept:
      codec::EncodeResponse(codec::Accept{}, out);
      return;
    case Status::kDiscard:
      codec::EncodeResponse(codec::Discard{}, out);
      return;
    case Status::kShutdown:
      codec::EncodeResponse(codec::Shutdown{}, out);
      return;
    case Status::kConnectionFail:
      codec::EncodeResponse(codec::ConnectionFail{}, out);
      return;
    case Status::kSkip:
      if (no_reply_flag == protocol::kNoReplyBody &&
          (ctx.negotiated().protocol & protocol::kSkip)) {
        codec::EncodeResponse(codec::Skip{}, out);
      } else {
        codec::EncodeResponse(codec::Continue{}, out);
      }
      return;
    case Status::kReject:
      if (reply && reply->front() == '5') {
        codec::EncodeResponse(codec::ReplyCode{*reply}, out);
      } else {
        codec::EncodeResponse(codec::Reject{}, out);
      }
      return;
    case Status::kTempfail:
      if (reply && reply->front() == '4') {
        codec::EncodeResponse(codec::ReplyCode{*reply}, out);
      } else {
        codec::EncodeResponse(codec::Tempfail{}, out);
      }
      return;
  }
}

void Engine::EmitModifications(std::string* out) {
  std::vector<Modification>& mods = Internal::modifications(*context_);
  for (const Modification& m : mods) codec::EncodeModification(m, out);
  mods.clear();
  mods.shrink_to_fit();
}

}  // namespace milter::client
