// Conditions made of others, by name in the configuration:
//
//   NotCondition    holds where its operand fails, and the reverse
//   AnyOfCondition  holds where one operand holds; fails when all fail
//   AllOfCondition  holds where all hold; fails when one fails
//
// Undecided while the operands leave the answer open. The operands are
// owned by the ConditionSet and outlive these.

#ifndef MANAGER_CONDITIONS_COMPOSITE_H_
#define MANAGER_CONDITIONS_COMPOSITE_H_

#include <string>
#include <vector>

#include "manager/conditions/condition.h"

namespace milter::manager::conditions {

class NotCondition : public Condition {
 public:
  NotCondition(std::string name, const Condition* operand)
      : Condition(std::move(name)), operand_(operand) {}
  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override;
  bool per_recipient() const override { return operand_->per_recipient(); }
  std::vector<std::pair<codec::MacroStage, std::string>> NeededMacros()
      const override {
    return operand_->NeededMacros();
  }

 private:
  const Condition* operand_;
};

class AnyOfCondition : public Condition {
 public:
  // `all`: all of the operands must hold (all_of) instead of one.
  AnyOfCondition(std::string name, std::vector<const Condition*> operands,
                 bool all)
      : Condition(std::move(name)), operands_(std::move(operands)), all_(all) {}
  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override;
  bool per_recipient() const override;
  std::vector<std::pair<codec::MacroStage, std::string>> NeededMacros()
      const override;

 private:
  std::vector<const Condition*> operands_;
  bool all_;
};

}  // namespace milter::manager::conditions

#endif  // MANAGER_CONDITIONS_COMPOSITE_H_
