// Per MTA session: whether each child applies (its applicable conditions)
// and what the shared allow and deny lists say, from the facts of the
// session so far and what the children answered at the envelope stages.
//
// ManagerSession feeds it the facts as the MTA sends them and asks it
// before each stage. Not thread-safe: lives on the session's executor.

#ifndef MANAGER_CORE_APPLICABILITY_H_
#define MANAGER_CORE_APPLICABILITY_H_

#include <array>
#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "manager/conditions/access_lists.h"
#include "manager/conditions/condition_set.h"
#include "milter/codec/connection_info.h"
#include "milter/codec/macros.h"
#include "milter/codec/status.h"

namespace milter::manager {

class Applicability {
 public:
  using Stage = conditions::Stage;

  // Any pointer may be null (no conditions, no lists). `active_sessions`
  // counts the manager's MTA sessions.
  Applicability(const conditions::ConditionSet* conditions,
                const conditions::AccessLists* access,
                const std::atomic<size_t>* active_sessions);

  // The facts, as the MTA sends them.
  void SetMacros(const codec::MacroMap* macros) { facts_.macros = macros; }
  void SetConnection(const codec::ConnectionInfo& info);
  void SetHelo(std::string_view name);
  // A new message: forgets its facts, verdicts and decisions.
  void StartMessage(std::string_view from, codec::EsmtpArgs args);
  void SetRecipient(std::string_view address);
  void SetBodyBytes(uint64_t bytes) { facts_.body_bytes = bytes; }

  // What child `name` answered at an envelope stage or end of message.
  void Record(const std::string& name, Stage stage, codec::Status status);

  // Whether child `index` (its position in the configuration) has
  // conditions at all; Evaluate is then needed.
  bool HasConditions(int index) const;
  // Its conditions at `stage`.
  asio::awaitable<conditions::ChildDecision> Evaluate(int index, Stage stage);
  // The children (positions) it waits for at envelope stages.
  const std::vector<int>& DependenciesOf(int index) const;

  // The allow and deny lists at `stage` (connect, helo, MAIL, RCPT).
  conditions::AccessLists::Match CheckAccess(Stage stage) const;
  std::string deny_reply() const;

  const conditions::Facts& facts() const { return facts_; }

 private:
  static constexpr int kStages = 11;
  const conditions::ConditionSet* conditions_;
  const conditions::AccessLists* access_;
  const std::atomic<size_t>* active_sessions_;
  conditions::ConditionState state_;
  conditions::Facts facts_;
  std::string host_, address_, helo_, from_, recipient_;
  std::vector<std::string> recipients_;
  absl::flat_hash_map<std::string,
                      std::array<std::optional<codec::Status>, kStages>>
      verdicts_;
};

}  // namespace milter::manager

#endif  // MANAGER_CORE_APPLICABILITY_H_
