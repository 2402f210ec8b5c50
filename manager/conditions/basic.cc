// Conditions on the MTA's own facts: authentication, load, size, and other
// children's verdicts.

#include "manager/conditions/basic.h"

#include "absl/strings/str_cat.h"

namespace milter::manager::conditions {
namespace {

using CR = config::ChildResultCondition;

bool VerdictMatches(CR::Verdict want, codec::Status got) {
  switch (want) {
    case CR::CONTINUE:
      return got == codec::Status::kContinue;
    case CR::ACCEPT:
      return got == codec::Status::kAccept;
    case CR::REJECT:
      return got == codec::Status::kReject;
    case CR::TEMPFAIL:
      return got == codec::Status::kTempfail;
    case CR::DISCARD:
      return got == codec::Status::kDiscard;
    case CR::SKIP:
      return got == codec::Status::kSkip;
    default:
      return false;
  }
}

}  // namespace

int EnvelopeOrder(Stage stage) {
  switch (stage) {
    case config::CONNECT:
      return 1;
    case config::HELO:
      return 2;
    case config::ENVELOPE_FROM:
      return 3;
    case config::ENVELOPE_RECIPIENT:
      return 4;
    case config::DATA:
      return 5;
    case config::HEADER:
    case config::END_OF_HEADER:
    case config::BODY:
    case config::END_OF_MESSAGE:
      return 6;
    default:
      return 0;
  }
}

asio::awaitable<Decision> AuthenticationCondition::Evaluate(
    Stage stage, const Facts& facts) const {
  if (EnvelopeOrder(stage) < EnvelopeOrder(config::ENVELOPE_FROM)) {
    co_return Decision::Undecided();
  }
  std::string_view who = facts.Macro("{auth_authen}");
  std::string_view how = facts.Macro("{auth_type}");
  bool authenticated = !who.empty() || !how.empty();
  std::string reason =
      authenticated ? absl::StrCat("authenticated as \"", std::string(who),
                                   "\" (", std::string(how), ")")
                    : std::string("not authenticated");
  if (authenticated == authenticated_) co_return Decision::Holds(reason);
  co_return Decision::Fails(reason);
}

std::vector<std::pair<codec::MacroStage, std::string>>
AuthenticationCondition::NeededMacros() const {
  return {{codec::MacroStage::kMail, "{auth_type}"},
          {codec::MacroStage::kMail, "{auth_authen}"},
          {codec::MacroStage::kMail, "{auth_author}"}};
}

asio::awaitable<Decision> StressCondition::Evaluate(Stage stage,
                                                    const Facts& facts) const {
  if (stage != config::CONNECT) co_return Decision::Undecided();
  std::string reason = absl::StrCat(facts.active_sessions,
                                    " sessions (at most ", max_sessions_, ")");
  if (facts.active_sessions <= max_sessions_) co_return Decision::Holds(reason);
  co_return Decision::Fails(reason);
}

asio::awaitable<Decision> MessageSizeCondition::Evaluate(
    Stage stage, const Facts& facts) const {
  int order = EnvelopeOrder(stage);
  if (order < EnvelopeOrder(config::ENVELOPE_FROM)) {
    co_return Decision::Undecided();
  }
  if (facts.declared_size > 0) {
    std::string reason = absl::StrCat("SIZE=", facts.declared_size,
                                      " (at most ", max_bytes_, ")");
    if (facts.declared_size <= max_bytes_) co_return Decision::Holds(reason);
    co_return Decision::Fails(reason);
  }
  if (facts.body_bytes > max_bytes_) {
    co_return Decision::Fails(absl::StrCat(
        "body over ", facts.body_bytes, " bytes (at most ", max_bytes_, ")"));
  }
  if (stage == config::END_OF_MESSAGE) {
    co_return Decision::Holds(absl::StrCat(
        "body of ", facts.body_bytes, " bytes (at most ", max_bytes_, ")"));
  }
  co_return Decision::Undecided();
}

asio::awaitable<Decision> ChildResultCondition::Evaluate(
    Stage stage, const Facts& facts) const {
  bool at_stage = stage == config_.stage();
  bool after = config_.stage() != config::UNKNOWN &&
               EnvelopeOrder(stage) > EnvelopeOrder(config_.stage());
  if (!at_stage && !after) co_return Decision::Undecided();
  std::optional<codec::Status> got;
  if (facts.child_verdict)
    got = facts.child_verdict(config_.child(), config_.stage());
  std::string where = absl::StrCat("child ", config_.child(), " at ",
                                   std::string(StageName(config_.stage())));
  if (!got.has_value()) {
    co_return Decision::Fails(absl::StrCat(where, " gave no answer"));
  }
  std::string reason =
      absl::StrCat(where, " answered ", std::string(codec::StatusName(*got)));
  for (int v : config_.verdict()) {
    if (VerdictMatches(static_cast<CR::Verdict>(v), *got)) {
      co_return Decision::Holds(reason);
    }
  }
  co_return Decision::Fails(reason);
}

}  // namespace milter::manager::conditions
