// A condition decided by a Ruby script (config ScriptCondition,
// docs/scripting.md): at each stage the file's method for that stage
// (on_connect, on_helo, on_envfrom, on_envrcpt, on_data, on_header, on_eoh,
// on_body, on_eom) is called with a session object carrying the facts so
// far and the children's answers, and returns true (holds), false (fails)
// or nil (undecided). A stage without a method is undecided. A call that
// raises, runs past the time limit or returns anything else decides as
// `holds_on_error` says (the engine logs FILE:LINE and why). What a
// condition script asks of the session (verdicts, switches) is ignored.
// At RCPT it decides for that recipient only (at DATA the child then takes
// the message when any recipient's decision held).
//
// A child with a script condition is asked after every child before it at
// each envelope stage, so that their answers are known.
//
// Thread-safe: each call runs on the calling thread's Engine.

#ifndef MANAGER_CONDITIONS_SCRIPT_CONDITION_H_
#define MANAGER_CONDITIONS_SCRIPT_CONDITION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "manager/conditions/condition.h"
#include "manager/config/config.pb.h"
#include "manager/script/runtime.h"
#include "manager/script/session.h"

namespace milter::manager::conditions {

// The script stage of a configuration stage (nullopt for STAGE_UNSET).
std::optional<script::Stage> ScriptStageOf(Stage stage);

class ScriptCondition : public Condition {
 public:
  ScriptCondition(std::string name, const config::ScriptCondition& config,
                  const config::ManagerConfig& manager,
                  std::shared_ptr<script::Runtime> runtime);

  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override;
  // At RCPT a script decides for that recipient.
  bool per_recipient() const override { return true; }

 private:
  config::ScriptCondition config_;
  std::vector<std::string> children_;  // names, in configuration order
  std::shared_ptr<script::Runtime> runtime_;
};

}  // namespace milter::manager::conditions

#endif  // MANAGER_CONDITIONS_SCRIPT_CONDITION_H_
