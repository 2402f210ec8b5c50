// ManagerSession, applicable conditions and the shared allow and deny lists:
// whether a child is asked at a stage, and the manager's own answer for an
// entry of the lists.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "manager/core/manager_session.h"
#include "milter/codec/protocol.h"

namespace milter::manager {
namespace {

namespace protocol = codec::protocol;

const char* ScopeName(conditions::Scope scope) {
  switch (scope) {
    case conditions::Scope::kSession:
      return "the session";
    case conditions::Scope::kMessage:
      return "the message";
    case conditions::Scope::kRecipient:
      return "this recipient";
  }
  return "?";
}

}  // namespace

asio::awaitable<void> ManagerSession::Ask(
    Child& child, config::Stage stage, const StageCall* call,
    absl::StatusOr<server::Verdict>* out) {
  // (Not `if (!co_await ...)`: GCC 12 miscompiles it.)
  bool applies = co_await Applies(child, stage);
  if (!applies) {
    *out = server::Verdict::NotSent();
    co_return;
  }
  absl::Time start = absl::Now();
  *out = co_await (*call)(child);
  if (!out->ok()) {
    lines_.ChildResult(child.name(), conditions::StageName(stage), "failed",
                       absl::Now() - start, out->status());
  } else if ((*out)->answered) {
    lines_.ChildResult(child.name(), conditions::StageName(stage),
                       codec::StatusName((*out)->decision),
                       absl::Now() - start);
    if (child.health() != nullptr)
      child.health()->Answered(absl::Now() - start);
  }
}

asio::awaitable<bool> ManagerSession::Applies(Child& child,
                                              config::Stage stage) {
  if (child.script_off || child.script_on) {
    bool asked = co_await ScriptSwitch(child, stage);
    co_return asked;
  }
  if (!applicability_.HasConditions(child.index())) co_return true;
  conditions::ChildDecision d =
      co_await applicability_.Evaluate(child.index(), stage);
  if (d.verdict != conditions::Decision::kFails) co_return true;
  const conditions::Facts& f = applicability_.facts();
  std::string what = d.scope == conditions::Scope::kRecipient
                         ? absl::StrCat("recipient ", std::string(f.recipient))
                         : std::string(ScopeName(d.scope));
  Log(config::INFO,
      absl::StrCat("child ", child.name(), " not applied to ", what, " at ",
                   std::string(conditions::StageName(stage)), ": condition ",
                   d.condition, ": ", d.reason, " (client ",
                   std::string(f.client_host), " [",
                   std::string(f.client_address), "])"));
  if (d.scope == conditions::Scope::kRecipient) co_return false;
  lines_.Stopped(child.name(), d.condition,
                 d.scope == conditions::Scope::kSession);
  bool message_scope = d.scope == conditions::Scope::kMessage;
  child.Stop(message_scope);
  // A child stopped within a message it has been told of forgets it.
  if (message_scope && stage != config::ENVELOPE_FROM &&
      child.link().negotiated_ok()) {
    absl::Status s = co_await child.link().Abort();
    if (!s.ok()) child.Fail(s);
  }
  co_return false;
}

std::optional<client::Status> ManagerSession::CheckAccess(Context& ctx,
                                                          config::Stage stage) {
  conditions::AccessLists::Match m = applicability_.CheckAccess(stage);
  if (m.kind == conditions::AccessLists::Match::kNone) return std::nullopt;
  const conditions::Facts& f = applicability_.facts();
  bool allow = m.kind == conditions::AccessLists::Match::kAllow;
  Log(config::INFO,
      absl::StrCat(allow ? "allowed" : "denied", " at ",
                   std::string(conditions::StageName(stage)), " by ", m.entry,
                   " (client ", std::string(f.client_host), " [",
                   std::string(f.client_address), "])"));
  if (!allow) {
    absl::Status set = ctx.SetReplyText(applicability_.deny_reply());
    if (!set.ok()) Log(config::WARNING, std::string(set.message()));
    return Status::kReject;
  }
  if (stage == config::ENVELOPE_RECIPIENT) return Status::kContinue;
  bool message_scope = stage != config::CONNECT && stage != config::HELO;
  for (auto& child : children_) child->Stop(message_scope);
  return Status::kAccept;
}

void ManagerSession::AskForFacts(MtaRequest* request) const {
  const ManagerShared& s = *shared_;
  bool lists = s.access != nullptr;
  bool conditions = s.conditions != nullptr && s.conditions->size() > 0;
  if (!lists && !conditions) return;
  uint32_t& p = request->request.protocol;
  p &= ~(protocol::kNoConnect | protocol::kNoHelo | protocol::kNoMail |
         protocol::kNoRcpt);
  if (lists) {
    p &= ~(protocol::kNoReplyConnect | protocol::kNoReplyHelo |
           protocol::kNoReplyMail | protocol::kNoReplyRcpt);
  }
  if (!conditions) return;
  for (const auto& [stage, name] : s.conditions->NeededMacros()) {
    std::optional<std::string>& list =
        request->symbol_lists[static_cast<int>(stage)];
    if (!list.has_value()) continue;  // the MTA's default list: all of them
    bool present = false;
    for (absl::string_view have : absl::StrSplit(*list, ' ')) {
      present |= have == name;
    }
    if (!present) absl::StrAppend(&*list, list->empty() ? "" : " ", name);
  }
}

}  // namespace milter::manager
