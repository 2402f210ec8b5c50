// ManagerSession, what script children share with the session: the
// children's answers, the switches of children and the macros scripts set.

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "manager/conditions/script_condition.h"
#include "manager/core/manager_session.h"

namespace milter::manager {
namespace {

const char* SwitchScopeName(script::SwitchScope scope) {
  switch (scope) {
    case script::SwitchScope::kSession:
      return "the session";
    case script::SwitchScope::kMessage:
      return "the message";
    case script::SwitchScope::kRecipient:
      return "this recipient";
  }
  return "?";
}

// "{name}" for a long macro name given bare, as the MTA sends it.
std::string MacroWireName(const std::string& name) {
  if (name.size() <= 1 || name.front() == '{') return name;
  return absl::StrCat("{", name, "}");
}

}  // namespace

const server::Macros& ManagerSession::MacrosFor(Context& ctx,
                                                codec::MacroStage stage) {
  const server::Macros& mta = ctx.macros().stage(stage);
  if (macro_overrides_.empty()) return mta;
  auto merged = std::make_unique<server::Macros>(mta);
  for (const auto& [name, value] : macro_overrides_) {
    auto it = std::find_if(merged->begin(), merged->end(),
                           [&](const auto& p) { return p.first == name; });
    if (it != merged->end()) {
      it->second = value;
    } else {
      merged->emplace_back(name, value);
    }
  }
  merged_macros_.push_back(std::move(merged));
  return *merged_macros_.back();
}

void ManagerSession::RecordAnswer(const Child& child, config::Stage stage,
                                  const server::Verdict& verdict) {
  std::optional<script::Stage> at = conditions::ScriptStageOf(stage);
  if (!at.has_value() || !verdict.answered) return;
  // At RCPT, the last recipient's answer.
  for (script::ChildAnswer& a : answers_) {
    if (a.child == child.name() && a.stage == *at) {
      a.status = verdict.decision;
      a.reply = verdict.reply;
      return;
    }
  }
  answers_.push_back({child.name(), *at, verdict.decision, verdict.reply});
}

void ManagerSession::ScriptRequests(const std::string& script_name,
                                    const script::Session& requests) {
  for (const script::ChildSwitch& sw : requests.switches) {
    for (auto& child : children_) {
      if (child->name() != sw.child) continue;
      Log(config::INFO, absl::StrCat("script ", script_name, " switched child ",
                                     sw.child, sw.enabled ? " on" : " off",
                                     " for ", SwitchScopeName(sw.scope)));
      // A switch off wins while it lasts; a switch on lasts for its own
      // scope (a child switched off for one recipient is on again for the
      // next if a script switched it on for the session).
      if (sw.enabled) {
        child->script_off.reset();
        child->script_on = sw.scope;
      } else {
        child->script_off = sw.scope;
      }
    }
  }
  for (const auto& [name, value] : requests.macro_sets) {
    std::string wire = MacroWireName(name);
    auto it = std::find_if(macro_overrides_.begin(), macro_overrides_.end(),
                           [&](const auto& p) { return p.first == wire; });
    if (it != macro_overrides_.end()) {
      it->second = value;
    } else {
      macro_overrides_.emplace_back(wire, value);
    }
  }
}

asio::awaitable<bool> ManagerSession::ScriptSwitch(Child& child,
                                                   config::Stage stage) {
  if (!child.script_off) co_return true;  // switched on
  script::SwitchScope scope = *child.script_off;
  if (scope == script::SwitchScope::kRecipient) co_return false;
  child.script_off.reset();
  child.script_on.reset();
  bool message_scope = scope == script::SwitchScope::kMessage;
  lines_.Stopped(child.name(), "script", !message_scope);
  child.Stop(message_scope);
  // A child switched off within a message it has been told of forgets it.
  if (stage != config::ENVELOPE_FROM && stage != config::CONNECT &&
      stage != config::HELO && child.link().negotiated_ok()) {
    absl::Status s = co_await child.link().Abort();
    if (!s.ok()) child.Fail(s);
  }
  co_return false;
}

}  // namespace milter::manager
