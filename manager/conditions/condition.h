// Applicable conditions: whether a child milter takes part in a session, a
// message or one recipient (docs/conditions.md).
//
// A Condition is built once from the configuration and shared by every
// session (its Evaluate is const and thread-safe; what it decided for a
// session is kept by the caller, see ConditionState). It is asked at each
// stage with the facts known so far, and answers:
//
//   kHolds      the child applies (as far as this condition goes),
//   kFails      the child does not: it is stopped for the decision's scope
//               and counts as having accepted there,
//   kUndecided  not known yet; asked again at the next stage (the child
//               takes the stages before a decision).
//
// A decision's scope follows from its stage: connect and helo decide for
// the session, MAIL and later for the message, a per-recipient condition
// at RCPT for that recipient only. Evaluate never throws; a condition that
// looks something up (DNSBL) suspends without blocking the event loop and
// decides on its own when the lookup fails.

#ifndef MANAGER_CONDITIONS_CONDITION_H_
#define MANAGER_CONDITIONS_CONDITION_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asio/awaitable.hpp"
#include "manager/config/config.pb.h"
#include "milter/codec/macros.h"
#include "milter/codec/status.h"

namespace milter::manager::conditions {

using Stage = config::Stage;

// What the manager knows of the MTA session at a stage. Views stay valid
// for the duration of one Evaluate.
struct Facts {
  std::string_view client_host;     // reverse name, "[192.0.2.1]" if none
  std::string_view client_address;  // "192.0.2.1", "IPv6:2001:db8::1", ""
  std::string_view helo;
  std::string_view envelope_from;  // as given: "<user@example.com>"
  std::string_view recipient;      // the current one, at RCPT
  uint64_t declared_size = 0;      // SIZE= of MAIL FROM; 0: not given
  uint64_t body_bytes = 0;         // body received so far
  size_t active_sessions = 0;      // MTA sessions of this manager now
  // The recipients of the message so far (those the MTA sent).
  const std::vector<std::string>* recipients = nullptr;
  const codec::MacroMap* macros = nullptr;
  // What a child answered at an envelope stage of this session or message
  // (RCPT: the last recipient); nullopt if it did not (yet).
  std::function<std::optional<codec::Status>(std::string_view child,
                                             Stage stage)>
      child_verdict;

  // A macro of any stage so far, "" if unknown.
  std::string_view Macro(std::string_view name) const;
};

struct Decision {
  enum Verdict { kUndecided, kHolds, kFails };
  Verdict verdict = kUndecided;
  std::string reason;  // for the log: why it holds or fails

  static Decision Undecided() { return {}; }
  static Decision Holds(std::string reason) {
    return {kHolds, std::move(reason)};
  }
  static Decision Fails(std::string reason) {
    return {kFails, std::move(reason)};
  }
  bool decided() const { return verdict != kUndecided; }
};

class Condition {
 public:
  explicit Condition(std::string name) : name_(std::move(name)) {}
  virtual ~Condition() = default;
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  const std::string& name() const { return name_; }

  // Decides at `stage` (see the file comment).
  virtual asio::awaitable<Decision> Evaluate(Stage stage,
                                             const Facts& facts) const = 0;

  // True for conditions decided per recipient at RCPT (and for the
  // message at DATA: whether any recipient matched).
  virtual bool per_recipient() const { return false; }

  // Macros the condition reads, by stage, that the MTA must be asked for.
  virtual std::vector<std::pair<codec::MacroStage, std::string>> NeededMacros()
      const {
    return {};
  }

 private:
  std::string name_;
};

// The scope a decision at `stage` covers.
enum class Scope { kSession, kMessage, kRecipient };
Scope ScopeOf(Stage stage, bool per_recipient);

// "connect", "helo", "envelope-from", ...
std::string_view StageName(Stage stage);

}  // namespace milter::manager::conditions

#endif  // MANAGER_CONDITIONS_CONDITION_H_
