// Built-in conditions on what the MTA tells the manager directly:
//
//   AuthenticationCondition  SMTP AUTH ({auth_authen}/{auth_type} at MAIL)
//   StressCondition          concurrent MTA sessions, at connect
//   MessageSizeCondition     SIZE= at MAIL, else the body as it arrives
//   ChildResultCondition     another child's verdict at an envelope stage
//
// Each is decided at the first stage where its fact is known; see
// condition.h for the contract.

#ifndef MANAGER_CONDITIONS_BASIC_H_
#define MANAGER_CONDITIONS_BASIC_H_

#include <cstdint>
#include <string>

#include "manager/conditions/condition.h"

namespace milter::manager::conditions {

// Holds when the client authenticated == `authenticated`.
class AuthenticationCondition : public Condition {
 public:
  AuthenticationCondition(std::string name,
                          const config::AuthenticationCondition& config)
      : Condition(std::move(name)), authenticated_(config.authenticated()) {}
  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override;
  std::vector<std::pair<codec::MacroStage, std::string>> NeededMacros()
      const override;

 private:
  bool authenticated_;
};

// Holds while active sessions <= max_sessions (decided at connect).
class StressCondition : public Condition {
 public:
  StressCondition(std::string name, const config::StressCondition& config)
      : Condition(std::move(name)), max_sessions_(config.max_sessions()) {}
  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override;

 private:
  uint64_t max_sessions_;
};

// Holds for messages of at most max_bytes.
class MessageSizeCondition : public Condition {
 public:
  MessageSizeCondition(std::string name,
                       const config::MessageSizeCondition& config)
      : Condition(std::move(name)), max_bytes_(config.max_bytes()) {}
  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override;

 private:
  uint64_t max_bytes_;
};

// Holds when `child` answered one of the verdicts at the stage; fails when
// it answered something else or nothing (failed, stopped, not asked).
class ChildResultCondition : public Condition {
 public:
  ChildResultCondition(std::string name,
                       const config::ChildResultCondition& config)
      : Condition(std::move(name)), config_(config) {}
  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override;
  bool per_recipient() const override {
    return config_.stage() == config::ENVELOPE_RECIPIENT;
  }

 private:
  config::ChildResultCondition config_;
};

// The order of the envelope stages (UNKNOWN may come at any time: it is
// decided only at itself); 0 for the others.
int EnvelopeOrder(Stage stage);

}  // namespace milter::manager::conditions

#endif  // MANAGER_CONDITIONS_BASIC_H_
