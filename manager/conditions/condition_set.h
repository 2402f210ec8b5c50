// The configuration's applicable conditions, built once and shared by the
// sessions (ConditionSet, immutable and thread-safe), and what they decided
// within one MTA session (ConditionState, one per session, not
// thread-safe).
//
//   absl::StatusOr<std::shared_ptr<const ConditionSet>> set =
//       ConditionSet::Build(config);
//   ConditionState state(set.get());
//   ChildDecision d = co_await state.Evaluate(child_index, stage, facts);
//   if (d.verdict == Decision::kFails) ... stop the child for d.scope
//
// Build fails with the condition's name and the reason (a bad regular
// expression or network, an unreadable list file as "FILE:LINE: ...").

#ifndef MANAGER_CONDITIONS_CONDITION_SET_H_
#define MANAGER_CONDITIONS_CONDITION_SET_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "manager/conditions/condition.h"
#include "manager/config/config.pb.h"
#include "manager/script/runtime.h"

namespace milter::manager::conditions {

class ConditionSet {
 public:
  // `scripts` runs script conditions (may be null when there are none).
  static absl::StatusOr<std::shared_ptr<const ConditionSet>> Build(
      const config::ManagerConfig& config,
      std::shared_ptr<script::Runtime> scripts = nullptr);

  // The conditions child `index` (its position in config.child) applies
  // under, in its order; empty for a child without conditions.
  const std::vector<const Condition*>& ForChild(int index) const;
  // The children (positions) child `index` waits for at each envelope stage
  // (through child_result conditions).
  const std::vector<int>& DependenciesOf(int index) const;
  // The macros the children's conditions read.
  std::vector<std::pair<codec::MacroStage, std::string>> NeededMacros() const;
  // Position of `condition` among all (for per-session memory).
  int IndexOf(const Condition* condition) const;
  size_t size() const { return all_.size(); }

 private:
  ConditionSet() = default;
  absl::Status Add(const config::ApplicableCondition& c,
                   const config::ManagerConfig& config);

  std::vector<std::unique_ptr<Condition>> all_;
  absl::flat_hash_map<std::string, const Condition*> by_name_;
  absl::flat_hash_map<const Condition*, int> index_;
  std::vector<std::vector<const Condition*>> per_child_;
  std::vector<std::vector<int>> dependencies_;
  std::shared_ptr<script::Runtime> scripts_;
};

// What a child's conditions say at a stage, together.
struct ChildDecision {
  Decision::Verdict verdict = Decision::kUndecided;
  Scope scope = Scope::kSession;  // of a failure
  std::string condition;          // the failing (or last deciding) one
  std::string reason;
};

class ConditionState {
 public:
  explicit ConditionState(const ConditionSet* set);

  // All conditions of child `index` at `stage`: fails if one fails (the
  // scope of that decision), holds if all hold, else undecided. Decisions
  // are remembered for their scope: a condition decided for the session is
  // not asked again, one decided for the message until NewMessage.
  asio::awaitable<ChildDecision> Evaluate(int index, Stage stage,
                                          const Facts& facts);
  // Forgets the decisions for the message (MAIL FROM, RSET).
  void NewMessage();

 private:
  struct Memo {
    Decision decision;
    Scope scope;
  };
  const ConditionSet* set_;
  std::vector<std::optional<Memo>> memo_;
};

}  // namespace milter::manager::conditions

#endif  // MANAGER_CONDITIONS_CONDITION_SET_H_
