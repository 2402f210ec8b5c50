// ScriptLink: a policy script as a child of the manager.

#include "manager/core/script_link.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "manager/core/merge.h"
#include "milter/codec/protocol.h"

namespace milter::manager {
namespace {

namespace protocol = codec::protocol;
using script::Stage;

// The protocol flag that leaves out each stage a script may have no
// handler for (abort and close are always sent).
uint32_t NoSendFlag(Stage stage) {
  switch (stage) {
    case Stage::kConnect:
      return protocol::kNoConnect;
    case Stage::kHelo:
      return protocol::kNoHelo;
    case Stage::kEnvelopeFrom:
      return protocol::kNoMail;
    case Stage::kEnvelopeRecipient:
      return protocol::kNoRcpt;
    case Stage::kData:
      return protocol::kNoData;
    case Stage::kUnknown:
      return protocol::kNoUnknown;
    case Stage::kHeader:
      return protocol::kNoHeaders;
    case Stage::kEndOfHeaders:
      return protocol::kNoEndOfHeaders;
    case Stage::kBody:
      return protocol::kNoBody;
    default:
      return 0;
  }
}

}  // namespace

ScriptLink::ScriptLink(const config::ChildConfig& config,
                       const codec::OptionNegotiation& offer,
                       script::Runtime* runtime, ScriptHost* host)
    : config_(config), runtime_(runtime), host_(host) {
  negotiated_.version = offer.version;
  negotiated_.actions = offer.actions & codec::action::kAll;
  negotiated_.protocol = offer.protocol & protocol::kAllNoSend;
}

asio::awaitable<absl::Status> ScriptLink::Open() {
  const config::ScriptConfig& s = config_.script();
  if (runtime_ == nullptr) {
    co_return absl::FailedPreconditionError("no script runtime");
  }
  script::Engine& engine = runtime_->ThisThreadEngine();
  absl::Duration limit = absl::Seconds(s.time_limit());
  codec::Status fallback = FallbackStatusOf(config_.fallback_status());
  if (!s.file().empty()) {
    // (Defines loads the file when needed, re-checking it at most once a
    // second: no stat per session.)
    bool any = false;
    for (int i = 0; i < script::kNumStages; ++i) {
      std::string method(script::HandlerName(static_cast<Stage>(i)));
      if (engine.Defines(s.file(), method)) {
        handlers_[i] = {s.file(), method, limit, fallback};
        any = true;
      }
    }
    // A broken edit keeps the earlier good version; with none, the child
    // cannot take part.
    if (!any) {
      absl::Status loaded = engine.Load(s.file());
      if (!loaded.ok()) co_return loaded;
    }
  }
  // A stage's own entry: its file (run whole) and/or its own settings.
  for (const config::ScriptHandler& h : s.handler()) {
    for (int i = 0; i < script::kNumStages; ++i) {
      if (h.stage() != script::StageName(static_cast<Stage>(i))) continue;
      Handler& handler = handlers_[i];
      if (!h.file().empty()) handler = {h.file(), "", limit, fallback};
      if (h.time_limit() > 0)
        handler.time_limit = absl::Seconds(h.time_limit());
      if (h.fallback_status() != config::FALLBACK_UNSET) {
        handler.fallback = FallbackStatusOf(h.fallback_status());
      }
    }
  }
  // Every stage is offered to the child; those without a handler are
  // negotiated away. The headers are kept for the later content handlers
  // (they read the headers so far), the envelope for the facts.
  uint32_t no_send = 0;
  bool content = Has(Stage::kHeader) || Has(Stage::kEndOfHeaders) ||
                 Has(Stage::kBody) || Has(Stage::kEndOfMessage);
  for (int i = 0; i < script::kNumStages; ++i) {
    Stage stage = static_cast<Stage>(i);
    if (Has(stage)) continue;
    if (stage == Stage::kHeader && content) continue;
    if (stage == Stage::kConnect || stage == Stage::kHelo ||
        stage == Stage::kEnvelopeFrom || stage == Stage::kEnvelopeRecipient) {
      continue;
    }
    no_send |= NoSendFlag(stage);
  }
  negotiated_.protocol = no_send;
  session_.receive_time = absl::Now();
  session_.child_answers = &host_->ChildAnswers();
  session_.child_names = &host_->ChildNames();
  session_.macros = &macros_;
  opened_ = true;
  co_return absl::OkStatus();
}

void ScriptLink::AddMacros(codec::MacroStage stage, const Macros& macros) {
  for (const auto& [name, value] : macros) macros_.Set(stage, name, value);
}

server::Verdict ScriptLink::Run(Stage stage) {
  server::Verdict verdict;
  const Handler& h = handlers_[static_cast<int>(stage)];
  if (h.file.empty()) return verdict;  // continue
  session_.stage = stage;
  session_.Reset();
  session_.body_chunk = body_chunk_;
  script::Engine& engine = runtime_->ThisThreadEngine();
  script::Value fallback_value =
      script::Value::Symbol(std::string(codec::StatusName(h.fallback)));
  script::Engine::Outcome out =
      h.method.empty()
          ? engine.RunFile(h.file, session_, fallback_value, h.time_limit)
          : engine.Call(h.file, h.method, session_, fallback_value,
                        h.time_limit);
  verdict.decision = script::ResolveStatus(out, session_);
  if (!out.error.ok()) return verdict;  // the fallback, requests dropped
  if (verdict.decision == codec::Status::kReject ||
      verdict.decision == codec::Status::kTempfail) {
    verdict.reply = session_.reply;
  }
  host_->ScriptRequests(config_.name(), session_);
  return verdict;
}

asio::awaitable<ChildLink::VerdictOr> ScriptLink::ConnectStage(
    const codec::ConnectionInfo& info, const Macros& macros) {
  session_.client = info;
  AddMacros(codec::MacroStage::kConnect, macros);
  co_return Run(Stage::kConnect);
}

asio::awaitable<ChildLink::VerdictOr> ScriptLink::Helo(std::string_view name,
                                                       const Macros& macros) {
  session_.helo = std::string(name);
  AddMacros(codec::MacroStage::kHelo, macros);
  co_return Run(Stage::kHelo);
}

asio::awaitable<ChildLink::VerdictOr> ScriptLink::Mail(std::string_view address,
                                                       codec::EsmtpArgs args,
                                                       const Macros& macros) {
  macros_.ClearAbove(codec::MacroStage::kHelo);
  session_.envelope_from = std::string(address);
  session_.envelope_from_args.assign(args.begin(), args.end());
  session_.recipients.clear();
  session_.recipient.clear();
  session_.recipient_args.clear();
  session_.headers.clear();
  session_.header_name.clear();
  session_.header_value.clear();
  ++session_.message_count;
  AddMacros(codec::MacroStage::kMail, macros);
  co_return Run(Stage::kEnvelopeFrom);
}

asio::awaitable<ChildLink::VerdictOr> ScriptLink::Rcpt(std::string_view address,
                                                       codec::EsmtpArgs args,
                                                       const Macros& macros) {
  session_.recipient = std::string(address);
  session_.recipient_args.assign(args.begin(), args.end());
  session_.recipients.push_back(session_.recipient);
  AddMacros(codec::MacroStage::kRcpt, macros);
  co_return Run(Stage::kEnvelopeRecipient);
}

asio::awaitable<ChildLink::VerdictOr> ScriptLink::Data(const Macros& macros) {
  AddMacros(codec::MacroStage::kData, macros);
  co_return Run(Stage::kData);
}

asio::awaitable<ChildLink::VerdictOr> ScriptLink::Unknown(
    std::string_view command) {
  session_.unknown_command = std::string(command);
  co_return Run(Stage::kUnknown);
}

asio::awaitable<ChildLink::VerdictOr> ScriptLink::Header(
    std::string_view name, std::string_view value) {
  session_.header_name = std::string(name);
  session_.header_value = std::string(value);
  session_.headers.emplace_back(session_.header_name, session_.header_value);
  co_return Run(Stage::kHeader);
}

asio::awaitable<ChildLink::VerdictOr> ScriptLink::EndOfHeaders(
    const Macros& macros) {
  AddMacros(codec::MacroStage::kEndOfHeaders, macros);
  co_return Run(Stage::kEndOfHeaders);
}

asio::awaitable<ChildLink::VerdictOr> ScriptLink::BodyChunk(
    std::string_view chunk) {
  body_chunk_.assign(chunk.data(), chunk.size());
  server::Verdict v = Run(Stage::kBody);
  body_chunk_.clear();
  co_return v;
}

asio::awaitable<ChildLink::EndOfMessageOr> ScriptLink::EndOfMessage(
    const Macros& macros) {
  AddMacros(codec::MacroStage::kEndOfMessage, macros);
  server::EndOfMessageResult result;
  result.verdict = Run(Stage::kEndOfMessage);
  result.modifications = std::move(session_.changes);
  session_.changes.clear();
  co_return result;
}

asio::awaitable<absl::Status> ScriptLink::Abort() {
  (void)Run(Stage::kAbort);
  co_return absl::OkStatus();
}

asio::awaitable<absl::Status> ScriptLink::Quit() {
  (void)Run(Stage::kClose);
  co_return absl::OkStatus();
}

}  // namespace milter::manager
