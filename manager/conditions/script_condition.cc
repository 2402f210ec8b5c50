// ScriptCondition: a condition decided by a Ruby script.

#include "manager/conditions/script_condition.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "manager/script/session.h"

namespace milter::manager::conditions {

std::optional<script::Stage> ScriptStageOf(Stage stage) {
  switch (stage) {
    case config::CONNECT:
      return script::Stage::kConnect;
    case config::HELO:
      return script::Stage::kHelo;
    case config::ENVELOPE_FROM:
      return script::Stage::kEnvelopeFrom;
    case config::ENVELOPE_RECIPIENT:
      return script::Stage::kEnvelopeRecipient;
    case config::DATA:
      return script::Stage::kData;
    case config::UNKNOWN:
      return script::Stage::kUnknown;
    case config::HEADER:
      return script::Stage::kHeader;
    case config::END_OF_HEADER:
      return script::Stage::kEndOfHeaders;
    case config::BODY:
      return script::Stage::kBody;
    case config::END_OF_MESSAGE:
      return script::Stage::kEndOfMessage;
    default:
      return std::nullopt;
  }
}

namespace {

// The stages children's answers are recorded at.
constexpr Stage kAnswerStages[] = {
    config::CONNECT,       config::HELO,
    config::ENVELOPE_FROM, config::ENVELOPE_RECIPIENT,
    config::DATA,          config::UNKNOWN,
    config::END_OF_MESSAGE};

}  // namespace

ScriptCondition::ScriptCondition(std::string name,
                                 const config::ScriptCondition& config,
                                 const config::ManagerConfig& manager,
                                 std::shared_ptr<script::Runtime> runtime)
    : Condition(std::move(name)),
      config_(config),
      runtime_(std::move(runtime)) {
  for (const config::ChildConfig& c : manager.child()) {
    children_.push_back(c.name());
  }
}

asio::awaitable<Decision> ScriptCondition::Evaluate(Stage stage,
                                                    const Facts& facts) const {
  std::optional<script::Stage> at = ScriptStageOf(stage);
  if (!at.has_value()) co_return Decision::Undecided();
  script::Engine& engine = runtime_->ThisThreadEngine();
  std::string method(script::HandlerName(*at));
  if (!engine.Defines(config_.file(), method)) co_return Decision::Undecided();
  script::Session session;
  session.stage = *at;
  session.client.hostname = std::string(facts.client_host);
  session.client.address = std::string(facts.client_address);
  session.helo = std::string(facts.helo);
  session.envelope_from = std::string(facts.envelope_from);
  session.recipient = std::string(facts.recipient);
  if (facts.recipients != nullptr) session.recipients = *facts.recipients;
  session.macros = facts.macros;
  std::vector<script::ChildAnswer> answers;
  if (facts.child_verdict) {
    for (const std::string& child : children_) {
      for (Stage s : kAnswerStages) {
        std::optional<codec::Status> got = facts.child_verdict(child, s);
        if (got.has_value())
          answers.push_back({child, *ScriptStageOf(s), *got, ""});
      }
    }
  }
  session.child_answers = &answers;
  session.child_names = &children_;
  script::Engine::Outcome out =
      engine.Call(config_.file(), method, session, script::Value::Nil(),
                  absl::Seconds(config_.time_limit()));
  std::string where = absl::StrCat("script ", config_.file(), " ", method);
  if (out.error.ok() && out.value.kind == script::Value::Kind::kTrue) {
    co_return Decision::Holds(absl::StrCat(where, " returned true"));
  }
  if (out.error.ok() && out.value.kind == script::Value::Kind::kFalse) {
    co_return Decision::Fails(absl::StrCat(where, " returned false"));
  }
  if (out.error.ok() && out.value.kind == script::Value::Kind::kNil) {
    co_return Decision::Undecided();
  }
  std::string why =
      out.error.ok()
          ? absl::StrCat(where, " returned ", out.value.DebugString(),
                         ", not true, false or nil")
          : absl::StrCat(where, " failed: ", out.error.message());
  if (config_.holds_on_error()) co_return Decision::Holds(why);
  co_return Decision::Fails(why);
}

}  // namespace milter::manager::conditions
