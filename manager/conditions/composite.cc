// not, any_of and all_of over named conditions.

#include "manager/conditions/composite.h"

#include "absl/strings/str_cat.h"

namespace milter::manager::conditions {

asio::awaitable<Decision> NotCondition::Evaluate(Stage stage,
                                                 const Facts& facts) const {
  Decision d = co_await operand_->Evaluate(stage, facts);
  std::string reason =
      absl::StrCat("not ", operand_->name(), " (", d.reason, ")");
  if (d.verdict == Decision::kHolds) co_return Decision::Fails(reason);
  if (d.verdict == Decision::kFails) co_return Decision::Holds(reason);
  co_return Decision::Undecided();
}

asio::awaitable<Decision> AnyOfCondition::Evaluate(Stage stage,
                                                   const Facts& facts) const {
  // all_of: the first failure decides; any_of: the first success.
  Decision::Verdict deciding = all_ ? Decision::kFails : Decision::kHolds;
  bool open = false;
  std::string reasons;
  for (const Condition* c : operands_) {
    Decision d = co_await c->Evaluate(stage, facts);
    if (d.verdict == deciding) {
      Decision out;
      out.verdict = deciding;
      out.reason = absl::StrCat(c->name(), ": ", d.reason);
      co_return out;
    }
    if (!d.decided()) open = true;
    absl::StrAppend(&reasons, reasons.empty() ? "" : "; ", c->name(), ": ",
                    d.reason);
  }
  if (open) co_return Decision::Undecided();
  Decision out;
  out.verdict = all_ ? Decision::kHolds : Decision::kFails;
  out.reason = reasons;
  co_return out;
}

bool AnyOfCondition::per_recipient() const {
  for (const Condition* c : operands_) {
    if (c->per_recipient()) return true;
  }
  return false;
}

std::vector<std::pair<codec::MacroStage, std::string>>
AnyOfCondition::NeededMacros() const {
  std::vector<std::pair<codec::MacroStage, std::string>> out;
  for (const Condition* c : operands_) {
    for (auto& m : c->NeededMacros()) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace milter::manager::conditions
