// ManagerSession: the children combined as the MTA would chain them.

#include "manager/core/manager_session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asio/this_coro.hpp"
#include "manager/core/session_helpers.h"
#include "manager/core/when_all.h"
#include "milter/codec/header_value.h"
#include "milter/codec/macros.h"
#include "milter/net/socket_spec.h"
#include "milter/server/mail_message.h"

namespace milter::manager {
namespace {

using internal::EndsMessage;
using internal::EnsureMtaHeader;

namespace protocol = codec::protocol;
using codec::MacroStage;

}  // namespace

void ManagerSession::Outcome::Merge(const Outcome& other) {
  if (!other.objected) return;
  if (!objected ||
      codec::StatusSeverity(other.status) > codec::StatusSeverity(status)) {
    *this = other;
  }
}

ManagerSession::ManagerSession(std::shared_ptr<const ManagerShared> shared)
    : shared_(std::move(shared)),
      config_(shared_->config.get()),
      applicability_(shared_->conditions.get(), shared_->access.get(),
                     shared_->active_sessions.get()),
      lines_([this](config::LogLevel level,
                    std::string_view line) { Log(level, line); },
             config_->log_level(), shared_->metrics),
      store_(config_->max_message_memory_bytes(),
             config_->temporary_directory()) {
  shared_->active_sessions->fetch_add(1, std::memory_order_relaxed);
}

ManagerSession::~ManagerSession() {
  shared_->active_sessions->fetch_sub(1, std::memory_order_relaxed);
}

void ManagerSession::Log(config::LogLevel level, std::string_view line) const {
  if (shared_->log && level <= config_->log_level()) {
    shared_->log(level, line);
  }
}

std::string ManagerSession::QueueId(const Context& ctx) const {
  return std::string(ctx.MacroOr("i", "-"));
}

asio::awaitable<client::Status> ManagerSession::OnNegotiate(
    Context&, client::Negotiation& n) {
  auto executor = co_await asio::this_coro::executor;
  codec::OptionNegotiation offer = OfferToChildren(n.offer);
  for (int i = 0; i < config_->child_size(); ++i) {
    const config::ChildConfig& c = config_->child(i);
    child_names_.push_back(c.name());
    if (!c.enabled()) continue;
    std::unique_ptr<ChildLink> link;
    if (c.has_script()) {
      link =
          std::make_unique<ScriptLink>(c, offer, shared_->scripts.get(), this);
    } else {
      link =
          std::make_unique<SocketLink>(c, executor, offer, shared_->pool.get());
    }
    children_.push_back(std::make_unique<Child>(&c, i, std::move(link)));
    // Scripts have no circuit breaker: there is nothing to probe.
    if (shared_->health && !c.has_script())
      children_.back()->set_health(shared_->health->Get(c.name()));
  }
  std::vector<asio::awaitable<void>> opens;
  for (auto& child : children_) {
    ChildHealth* health = child->health();
    if (health != nullptr && !health->Admit()) {
      // Down or starting: its fallback at once, nothing reported.
      child->Fail(
          absl::UnavailableError(absl::StrCat(HealthName(health->health()),
                                              ": ", health->last_error())),
          false);
      continue;
    }
    opens.push_back([](Child* c) -> asio::awaitable<void> {
      absl::Time start = absl::Now();
      absl::Status status = co_await c->link().Open();
      if (!status.ok()) {
        c->Fail(status);
      } else if (c->health() != nullptr) {
        c->health()->Succeeded(absl::Now() - start);
      }
    }(child.get()));
  }
  co_await WhenAll(std::move(opens));
  std::vector<ChildNeeds> needs;
  Outcome at_start;
  for (auto& child : children_) {
    if (child->part() != Child::Part::kFailed) {
      needs.push_back(child->needs());
      continue;
    }
    lines_.ChildUnavailable(child->name(), child->error());
    Log(config::WARNING,
        absl::StrCat("child ", child->name(),
                     " is not available: ", child->error().message()));
    Status fallback = FallbackStatusOf(child->config().fallback_status());
    if (fallback != Status::kAccept) at_start.Merge({fallback, "", true});
  }
  MtaRequest request = UnionOfNeeds(n.offer, needs);
  AskForFacts(&request);
  if (needs.empty()) {
    // Nothing to ask: only the connect stage, for the manager's answer
    // (its own fallback when it has no children at all).
    request.request.protocol = protocol::kAllNoSend & ~protocol::kNoConnect;
    if (children_.empty()) {
      Status fallback = FallbackStatusOf(config_->fallback_status());
      if (fallback != Status::kAccept) at_start.Merge({fallback, "", true});
    }
  }
  // The first answered stage carries what negotiation decided.
  if (at_start.objected) deferred_ = at_start;
  n.request = request.request;
  n.symbol_lists = request.symbol_lists;
  co_return Status::kContinue;
}

void ManagerSession::Consider(Child& child,
                              const absl::StatusOr<server::Verdict>& result,
                              Scope scope, Outcome* outcome) {
  Status status;
  std::string reply;
  if (!result.ok()) {
    status = child.Fail(result.status());
    Log(config::WARNING,
        absl::StrCat("child ", child.name(),
                     " failed: ", result.status().message(),
                     "; its fallback is ", codec::StatusName(status)));
  } else {
    if (!result->answered) return;
    status = result->decision;
    reply = result->reply;
    if (child.evaluation_mode()) {
      Log(config::INFO,
          absl::StrCat("child ", child.name(), " (evaluation) answered ",
                       codec::StatusName(status)));
      if (status == Status::kAccept)
        child.Answered(status, scope != Scope::kSession);
      return;
    }
    bool command_only =
        scope == Scope::kCommand &&
        (status == Status::kReject || status == Status::kTempfail);
    if (!command_only) child.Answered(status, scope != Scope::kSession);
  }
  if (status == Status::kAccept || status == Status::kContinue ||
      status == Status::kSkip || status == Status::kNoReply) {
    return;
  }
  outcome->Merge({status, std::move(reply), true});
}

client::Status ManagerSession::Answer(Context& ctx, Outcome outcome,
                                      Scope scope, uint32_t no_reply_flag) {
  if (deferred_) {
    outcome.Merge(*deferred_);
    deferred_.reset();
  }
  if (outcome.objected && no_reply_flag != 0 &&
      ctx.negotiated().NoReply(no_reply_flag)) {
    deferred_ = std::move(outcome);  // the MTA reads no answer here
    return Status::kContinue;
  }
  if (outcome.objected) {
    if (!outcome.reply.empty() && (outcome.status == Status::kReject ||
                                   outcome.status == Status::kTempfail)) {
      absl::Status set = ctx.SetReplyText(outcome.reply);
      if (!set.ok()) {
        Log(config::WARNING,
            absl::StrCat("child reply not passed on: ", set.message()));
      }
    }
    return outcome.status;
  }
  // Nobody objected. When every child has failed, the manager answers its
  // own fallback; when no child takes part any more for other reasons
  // (they accepted), it has nothing left to ask for this scope.
  bool anyone_left = false;
  bool all_failed = !children_.empty();
  for (auto& child : children_) {
    anyone_left |= child->active();
    all_failed &= child->part() == Child::Part::kFailed;
  }
  if (all_failed && !own_fallback_given_) {
    own_fallback_given_ = true;
    Status fallback = FallbackStatusOf(config_->fallback_status());
    if (fallback != Status::kAccept) {
      return Answer(ctx, Outcome{fallback, "", true}, scope, no_reply_flag);
    }
  }
  if (!anyone_left && scope != Scope::kCommand) return Status::kAccept;
  return Status::kContinue;
}

asio::awaitable<client::Status> ManagerSession::Envelope(
    Context& ctx, config::Stage stage, uint32_t no_send_flag,
    uint32_t no_reply_flag, Scope scope, StageCall call) {
  std::vector<Child*> asked;
  for (auto& child : children_) {
    if (child->takes(no_send_flag)) asked.push_back(child.get());
  }
  // Waves: a child whose conditions read another's verdict is asked after
  // it (dependencies come earlier in the configuration); a script child
  // after every child before it, and before every child after it.
  std::vector<int> wave(asked.size(), 0);
  int waves = asked.empty() ? 0 : 1;
  int after_script = 0;  // the first wave after the last script so far
  for (size_t i = 0; i < asked.size(); ++i) {
    wave[i] = after_script;
    for (int dep : applicability_.DependenciesOf(asked[i]->index())) {
      for (size_t j = 0; j < i; ++j) {
        if (asked[j]->index() == dep) wave[i] = std::max(wave[i], wave[j] + 1);
      }
    }
    if (asked[i]->is_script()) {
      for (size_t j = 0; j < i; ++j) wave[i] = std::max(wave[i], wave[j] + 1);
      after_script = wave[i] + 1;
    }
    waves = std::max(waves, wave[i] + 1);
  }
  std::vector<absl::StatusOr<server::Verdict>> results(
      asked.size(), absl::UnknownError("not asked"));
  for (int w = 0; w < waves; ++w) {
    std::vector<asio::awaitable<void>> tasks;
    for (size_t i = 0; i < asked.size(); ++i) {
      if (wave[i] == w)
        tasks.push_back(Ask(*asked[i], stage, &call, &results[i]));
    }
    co_await WhenAll(std::move(tasks));
    for (size_t i = 0; i < asked.size(); ++i) {
      if (wave[i] == w && results[i].ok() && results[i]->answered) {
        applicability_.Record(asked[i]->name(), stage, results[i]->decision);
        RecordAnswer(*asked[i], stage, *results[i]);
      }
    }
  }
  Outcome outcome;
  for (size_t i = 0; i < asked.size(); ++i) {
    Consider(*asked[i], results[i], scope, &outcome);
  }
  Status answer = Answer(ctx, std::move(outcome), scope, no_reply_flag);
  if (scope == Scope::kMessage &&
      (internal::EndsMessage(answer) || answer == Status::kAccept)) {
    lines_.MessageDone(codec::StatusName(answer));
  }
  co_return answer;
}

asio::awaitable<client::Status> ManagerSession::OnConnect(
    Context& ctx, const client::ConnectionInfo& info) {
  client_ = info;
  lines_.SetClient(info.hostname, info.address);
  applicability_.SetMacros(&ctx.macros());
  applicability_.SetConnection(info);
  if (std::optional<Status> s = CheckAccess(ctx, config::CONNECT)) co_return *s;
  const auto& macros = MacrosFor(ctx, MacroStage::kConnect);
  co_return co_await Envelope(
      ctx, config::CONNECT, protocol::kNoConnect, protocol::kNoReplyConnect,
      Scope::kSession,
      [&](Child& c) { return c.link().ConnectStage(info, macros); });
}

asio::awaitable<client::Status> ManagerSession::OnHelo(Context& ctx,
                                                       std::string_view name) {
  applicability_.SetHelo(name);
  if (std::optional<Status> s = CheckAccess(ctx, config::HELO)) co_return *s;
  const auto& macros = MacrosFor(ctx, MacroStage::kHelo);
  co_return co_await Envelope(
      ctx, config::HELO, protocol::kNoHelo, protocol::kNoReplyHelo,
      Scope::kSession, [&](Child& c) { return c.link().Helo(name, macros); });
}

asio::awaitable<client::Status> ManagerSession::OnMailFrom(
    Context& ctx, std::string_view address, client::EsmtpArgs args) {
  store_.Clear();
  changes_.clear();
  lead_ = nullptr;
  lead_chosen_ = false;
  for (auto& child : children_) child->NewMessage();
  std::erase_if(answers_, [](const script::ChildAnswer& a) {
    return a.stage != script::Stage::kConnect &&
           a.stage != script::Stage::kHelo;
  });
  merged_macros_.clear();
  applicability_.SetMacros(&ctx.macros());
  applicability_.StartMessage(address, args);
  lines_.StartMessage(address);
  lines_.SetQueueId(ctx.MacroOr("i", ""));
  if (std::optional<Status> s = CheckAccess(ctx, config::ENVELOPE_FROM)) {
    co_return *s;
  }
  const auto& macros = MacrosFor(ctx, MacroStage::kMail);
  co_return co_await Envelope(
      ctx, config::ENVELOPE_FROM, protocol::kNoMail, protocol::kNoReplyMail,
      Scope::kMessage,
      [&](Child& c) { return c.link().Mail(address, args, macros); });
}

asio::awaitable<client::Status> ManagerSession::OnRcptTo(
    Context& ctx, std::string_view address, client::EsmtpArgs args) {
  applicability_.SetRecipient(address);
  lines_.AddRecipient();
  for (auto& child : children_) {
    if (child->script_off == script::SwitchScope::kRecipient) {
      child->script_off.reset();
    }
    if (child->script_on == script::SwitchScope::kRecipient) {
      child->script_on.reset();
    }
  }
  if (std::optional<Status> s = CheckAccess(ctx, config::ENVELOPE_RECIPIENT)) {
    co_return *s;
  }
  const auto& macros = MacrosFor(ctx, MacroStage::kRcpt);
  // A recipient the MTA already rejected (RCPT_REJ) goes only to children
  // that asked for those.
  bool rejected = ctx.MacroOr("{rcpt_mailer}", "") == "error";
  co_return co_await Envelope(
      ctx, config::ENVELOPE_RECIPIENT, protocol::kNoRcpt,
      protocol::kNoReplyRcpt, Scope::kCommand,
      [&](Child& c) -> asio::awaitable<absl::StatusOr<server::Verdict>> {
        if (rejected &&
            !(c.link().negotiated().protocol & protocol::kRcptRejected)) {
          co_return server::Verdict::NotSent();
        }
        co_return co_await c.link().Rcpt(address, args, macros);
      });
}

asio::awaitable<client::Status> ManagerSession::OnData(Context& ctx) {
  const auto& macros = MacrosFor(ctx, MacroStage::kData);
  co_return co_await Envelope(ctx, config::DATA, protocol::kNoData,
                              protocol::kNoReplyData, Scope::kMessage,
                              [&](Child& c) { return c.link().Data(macros); });
}

asio::awaitable<client::Status> ManagerSession::OnUnknown(
    Context& ctx, std::string_view command) {
  co_return co_await Envelope(
      ctx, config::UNKNOWN, protocol::kNoUnknown, protocol::kNoReplyUnknown,
      Scope::kCommand, [&](Child& c) { return c.link().Unknown(command); });
}

Child* ManagerSession::Lead() {
  if (!lead_chosen_) {
    lead_chosen_ = true;
    for (auto& child : children_) {
      // A script without content handlers neither reads nor changes the
      // message: the next child leads.
      bool passive_script =
          child->is_script() &&
          !child->link().negotiated().Sends(protocol::kNoHeaders) &&
          !child->link().negotiated().Sends(protocol::kNoBody);
      if (child->active() && !child->config().concurrent_content() &&
          !passive_script) {
        lead_ = child.get();
        break;
      }
    }
  }
  return lead_ != nullptr && lead_->active() ? lead_ : nullptr;
}

std::vector<Child*> ManagerSession::Streamed(uint32_t no_send_flag) {
  Child* lead = Lead();
  std::vector<Child*> out;
  for (auto& child : children_) {
    bool streamed = child.get() == lead || child->config().concurrent_content();
    if (streamed && child->takes(no_send_flag)) out.push_back(child.get());
  }
  return out;
}

asio::awaitable<client::Status> ManagerSession::Stream(Context& ctx,
                                                       config::Stage stage,
                                                       uint32_t no_send_flag,
                                                       uint32_t no_reply_flag,
                                                       StageCall call) {
  std::vector<Child*> streamed = Streamed(no_send_flag);
  std::vector<absl::StatusOr<server::Verdict>> results(
      streamed.size(), absl::UnknownError("not asked"));
  std::vector<asio::awaitable<void>> tasks;
  for (size_t i = 0; i < streamed.size(); ++i) {
    tasks.push_back(Ask(*streamed[i], stage, &call, &results[i]));
  }
  co_await WhenAll(std::move(tasks));
  Outcome outcome;
  for (size_t i = 0; i < streamed.size(); ++i) {
    if (results[i].ok() && results[i]->decision == Status::kSkip) {
      streamed[i]->body_skipped = true;
    }
    Consider(*streamed[i], results[i], Scope::kMessage, &outcome);
  }
  if (outcome.objected && EndsMessage(outcome.status)) {
    co_return Answer(ctx, std::move(outcome), Scope::kMessage, no_reply_flag);
  }
  // Otherwise the stage goes on; whether the manager may stop asking is
  // decided at end of message, when the others have seen the message.
  co_return Status::kContinue;
}

asio::awaitable<client::Status> ManagerSession::OnHeader(
    Context& ctx, std::string_view name, std::string_view value) {
  if (MessageEnded()) co_return Status::kContinue;
  // With HDR_LEADSPC (asked of the MTA, emulated otherwise) `value` is raw.
  EnsureMtaHeader(store_.headers());
  store_.headers().push_back({std::string(name), std::string(value)});
  co_return co_await Stream(ctx, config::HEADER, protocol::kNoHeaders,
                            protocol::kNoReplyHeader, [&](Child& c) {
                              return c.link().Header(
                                  name,
                                  codec::HeaderValueForFilter(
                                      value, c.link().header_leading_space()));
                            });
}

asio::awaitable<client::Status> ManagerSession::OnEndOfHeaders(Context& ctx) {
  if (MessageEnded()) co_return Status::kContinue;
  const auto& macros = MacrosFor(ctx, MacroStage::kEndOfHeaders);
  co_return co_await Stream(
      ctx, config::END_OF_HEADER, protocol::kNoEndOfHeaders,
      protocol::kNoReplyEndOfHeaders,
      [&](Child& c) { return c.link().EndOfHeaders(macros); });
}

asio::awaitable<client::Status> ManagerSession::OnBody(Context& ctx,
                                                       std::string_view chunk) {
  if (MessageEnded()) co_return Status::kContinue;
  if (absl::Status s = store_.AppendBody(chunk); !s.ok()) {
    Log(config::ERROR, absl::StrCat("message store: ", s.message()));
    co_return Status::kTempfail;
  }
  applicability_.SetBodyBytes(store_.body_size());
  co_return co_await Stream(
      ctx, config::BODY, protocol::kNoBody, protocol::kNoReplyBody,
      [&](Child& c) -> asio::awaitable<absl::StatusOr<server::Verdict>> {
        if (c.body_skipped) co_return server::Verdict::NotSent(Status::kSkip);
        co_return co_await c.link().BodyChunk(chunk);
      });
}

asio::awaitable<void> ManagerSession::OnAbort(Context&) {
  // An objection kept for this message's end goes with the message.
  if (MessageEnded()) deferred_.reset();
  lines_.MessageDone("aborted");
  store_.Clear();
  changes_.clear();
  lead_ = nullptr;
  lead_chosen_ = false;
  std::vector<asio::awaitable<void>> aborts;
  for (auto& child : children_) {
    if (child->part() == Child::Part::kFailed ||
        !child->link().negotiated_ok()) {
      continue;
    }
    aborts.push_back([](Child* c) -> asio::awaitable<void> {
      absl::Status s = co_await c->link().Abort();
      if (!s.ok()) c->Fail(s);
    }(child.get()));
  }
  co_await WhenAll(std::move(aborts));
}

asio::awaitable<void> ManagerSession::OnClose(Context&) {
  lines_.SessionDone();
  std::vector<asio::awaitable<void>> quits;
  for (auto& child : children_) {
    if (child->part() == Child::Part::kFailed) continue;
    quits.push_back([](Child* c) -> asio::awaitable<void> {
      co_await c->link().Quit();
    }(child.get()));
  }
  co_await WhenAll(std::move(quits));
  children_.clear();
  store_.Clear();
}

}  // namespace milter::manager
