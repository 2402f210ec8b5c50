// Building the configured conditions and evaluating them per session.

#include "manager/conditions/condition_set.h"

#include "absl/strings/str_cat.h"
#include "manager/conditions/basic.h"
#include "manager/conditions/builtin.h"
#include "manager/conditions/composite.h"
#include "manager/conditions/script_condition.h"

namespace milter::manager::conditions {
namespace {

using config::ApplicableCondition;

const std::vector<const Condition*> kNone;
const std::vector<int> kNoDependencies;

// The children a condition of child `self` depends on, through composites
// (a script condition may read any child's answer: every earlier child).
void CollectDependencies(const config::ManagerConfig& config,
                         const std::string& name, int self,
                         std::vector<int>* out, int depth = 0) {
  if (depth > 64) return;
  for (const ApplicableCondition& c : config.applicable_condition()) {
    if (c.name() != name) continue;
    if (c.has_script()) {
      for (int i = 0; i < self; ++i) out->push_back(i);
    }
    if (c.has_child_result()) {
      for (int i = 0; i < config.child_size(); ++i) {
        if (config.child(i).name() == c.child_result().child()) {
          out->push_back(i);
        }
      }
    }
    std::vector<std::string> refs;
    if (c.kind_case() == ApplicableCondition::kNot) refs.push_back(c.not_());
    if (c.has_any_of())
      refs.assign(c.any_of().name().begin(), c.any_of().name().end());
    if (c.has_all_of())
      refs.assign(c.all_of().name().begin(), c.all_of().name().end());
    for (const std::string& r : refs) {
      CollectDependencies(config, r, self, out, depth + 1);
    }
  }
}

}  // namespace

absl::Status ConditionSet::Add(const ApplicableCondition& c,
                               const config::ManagerConfig& config) {
  if (by_name_.contains(c.name())) return absl::OkStatus();
  std::unique_ptr<Condition> built;
  auto operand =
      [&](const std::string& name) -> absl::StatusOr<const Condition*> {
    for (const ApplicableCondition& other : config.applicable_condition()) {
      if (other.name() != name) continue;
      if (absl::Status s = Add(other, config); !s.ok()) return s;
      return by_name_.at(name);
    }
    return absl::InvalidArgumentError(
        absl::StrCat("no condition named \"", name, "\""));
  };
  switch (c.kind_case()) {
    case ApplicableCondition::kAuthentication:
      built = std::make_unique<AuthenticationCondition>(c.name(),
                                                        c.authentication());
      break;
    case ApplicableCondition::kStress:
      built = std::make_unique<StressCondition>(c.name(), c.stress());
      break;
    case ApplicableCondition::kMessageSize:
      built =
          std::make_unique<MessageSizeCondition>(c.name(), c.message_size());
      break;
    case ApplicableCondition::kScript:
      if (scripts_ == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("condition \"", c.name(),
                         "\": script conditions need a script runtime"));
      }
      built = std::make_unique<ScriptCondition>(c.name(), c.script(), config,
                                                scripts_);
      break;
    case ApplicableCondition::kChildResult:
      built =
          std::make_unique<ChildResultCondition>(c.name(), c.child_result());
      break;
    case ApplicableCondition::kNot: {
      absl::StatusOr<const Condition*> o = operand(c.not_());
      if (!o.ok()) return o.status();
      built = std::make_unique<NotCondition>(c.name(), *o);
      break;
    }
    case ApplicableCondition::kAnyOf:
    case ApplicableCondition::kAllOf: {
      bool all = c.has_all_of();
      const auto& names = all ? c.all_of().name() : c.any_of().name();
      std::vector<const Condition*> operands;
      for (const std::string& n : names) {
        absl::StatusOr<const Condition*> o = operand(n);
        if (!o.ok()) return o.status();
        operands.push_back(*o);
      }
      built =
          std::make_unique<AnyOfCondition>(c.name(), std::move(operands), all);
      break;
    }
    default: {
      absl::StatusOr<std::unique_ptr<Condition>> b = BuildBuiltin(c);
      if (!b.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "applicable_condition \"", c.name(), "\": ", b.status().message()));
      }
      built = *std::move(b);
    }
  }
  const Condition* raw = built.get();
  index_[raw] = static_cast<int>(all_.size());
  by_name_[c.name()] = raw;
  all_.push_back(std::move(built));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const ConditionSet>> ConditionSet::Build(
    const config::ManagerConfig& config,
    std::shared_ptr<script::Runtime> scripts) {
  std::shared_ptr<ConditionSet> set(new ConditionSet());
  set->scripts_ = std::move(scripts);
  for (const ApplicableCondition& c : config.applicable_condition()) {
    if (absl::Status s = set->Add(c, config); !s.ok()) return s;
  }
  set->per_child_.resize(config.child_size());
  set->dependencies_.resize(config.child_size());
  for (int i = 0; i < config.child_size(); ++i) {
    for (const std::string& name : config.child(i).applicable_conditions()) {
      auto it = set->by_name_.find(name);
      if (it == set->by_name_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("child \"", config.child(i).name(),
                         "\": no applicable_condition named \"", name, "\""));
      }
      set->per_child_[i].push_back(it->second);
      CollectDependencies(config, name, i, &set->dependencies_[i]);
    }
  }
  return std::shared_ptr<const ConditionSet>(std::move(set));
}

const std::vector<const Condition*>& ConditionSet::ForChild(int index) const {
  if (index < 0 || index >= static_cast<int>(per_child_.size())) return kNone;
  return per_child_[index];
}

const std::vector<int>& ConditionSet::DependenciesOf(int index) const {
  if (index < 0 || index >= static_cast<int>(dependencies_.size())) {
    return kNoDependencies;
  }
  return dependencies_[index];
}

std::vector<std::pair<codec::MacroStage, std::string>>
ConditionSet::NeededMacros() const {
  std::vector<std::pair<codec::MacroStage, std::string>> out;
  for (const auto& conditions : per_child_) {
    for (const Condition* c : conditions) {
      for (auto& m : c->NeededMacros()) out.push_back(std::move(m));
    }
  }
  return out;
}

int ConditionSet::IndexOf(const Condition* condition) const {
  auto it = index_.find(condition);
  return it == index_.end() ? -1 : it->second;
}

ConditionState::ConditionState(const ConditionSet* set)
    : set_(set), memo_(set == nullptr ? 0 : set->size()) {}

void ConditionState::NewMessage() {
  for (auto& m : memo_) {
    if (m.has_value() && m->scope != Scope::kSession) m.reset();
  }
}

asio::awaitable<ChildDecision> ConditionState::Evaluate(int index, Stage stage,
                                                        const Facts& facts) {
  ChildDecision out;
  if (set_ == nullptr) co_return out;
  const std::vector<const Condition*>& conditions = set_->ForChild(index);
  if (conditions.empty()) {
    out.verdict = Decision::kHolds;
    co_return out;
  }
  bool all_hold = true;
  for (const Condition* c : conditions) {
    int at = set_->IndexOf(c);
    Decision d;
    Scope scope = ScopeOf(stage, c->per_recipient());
    if (at >= 0 && memo_[at].has_value()) {
      d = memo_[at]->decision;
      scope = memo_[at]->scope;
    } else {
      d = co_await c->Evaluate(stage, facts);
      if (d.decided() && scope != Scope::kRecipient && at >= 0) {
        memo_[at] = Memo{d, scope};
      }
    }
    if (d.verdict == Decision::kFails) {
      out.verdict = Decision::kFails;
      out.scope = scope;
      out.condition = c->name();
      out.reason = d.reason;
      co_return out;
    }
    if (d.verdict != Decision::kHolds) all_hold = false;
  }
  if (all_hold) out.verdict = Decision::kHolds;
  co_return out;
}

}  // namespace milter::manager::conditions
