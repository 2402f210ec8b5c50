// One child milter within one MTA session: the link to it (a socket or a
// script, child_link.h), and
// what the manager knows of its part in the current session and message
// (whether it still takes part, why not, what it answered).
//
// A child stops taking part when it accepts (for the session at connect and
// helo, for the message from MAIL on), when its verdict ends the message,
// or when it fails (cannot connect, times out, breaks the protocol, dies):
// a failed child contributes its fallback status once and is not asked
// again in this MTA session.

#ifndef MANAGER_CORE_CHILD_H_
#define MANAGER_CORE_CHILD_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "asio/any_io_executor.hpp"
#include "manager/config/config.pb.h"
#include "manager/core/child_link.h"
#include "manager/core/merge.h"
#include "manager/script/session.h"
#include "manager/supervise/health.h"
#include "milter/codec/status.h"

namespace milter::manager {

class Child {
 public:
  enum class Part {
    kActive,          // asked at every stage it negotiated
    kDoneForMessage,  // accepted or ended the message; back at the next MAIL
    kDoneForSession,  // accepted at connect or helo
    kFailed,          // failed: never asked again in this session
  };

  // `index`: the child's position in the configuration.
  Child(const config::ChildConfig* config, int index,
        std::unique_ptr<ChildLink> link);

  const std::string& name() const { return config_->name(); }
  int index() const { return index_; }
  const config::ChildConfig& config() const { return *config_; }
  ChildLink& link() { return *link_; }
  bool is_script() const { return config_->has_script(); }
  bool evaluation_mode() const { return config_->evaluation_mode(); }

  Part part() const { return part_; }
  bool active() const { return part_ == Part::kActive; }
  // Whether the child takes the stage `no_send_flag` covers.
  bool takes(uint32_t no_send_flag) const {
    return active() && link_->negotiated().Sends(no_send_flag);
  }
  // What the child negotiated (valid after a successful Open).
  ChildNeeds needs() const;

  // Records a failure: the child is out of the session. Returns the status
  // it contributes (its fallback), once; later calls return continue. The
  // first failure is reported to the child's health record (the circuit
  // breaker) unless `report` is false (the child is not at fault).
  codec::Status Fail(const absl::Status& error, bool report = true);

  // The child's health across sessions (may be null: no circuit breaker).
  ChildHealth* health() const { return health_.get(); }
  void set_health(std::shared_ptr<ChildHealth> health) {
    health_ = std::move(health);
  }
  const absl::Status& error() const { return error_; }

  // After a verdict of the child at a stage: updates its part (accept ends
  // it for `message_scope` or the session; reject/tempfail/discard end it
  // for the message).
  void Answered(codec::Status status, bool message_scope);
  // An applicable condition no longer holds: the child is done for the
  // session or the message (as if it had accepted there).
  void Stop(bool message_scope) {
    if (part_ == Part::kActive) {
      part_ = message_scope ? Part::kDoneForMessage : Part::kDoneForSession;
    }
  }
  // A new message starts: a child done for the last message takes part
  // again.
  void NewMessage();
  // The body after a skip is not sent to this child.
  bool body_skipped = false;
  // A script's switch of the child: off (not asked) or on (asked whatever
  // its applicable conditions say), for a scope; nullopt: none.
  std::optional<script::SwitchScope> script_off, script_on;

 private:
  const config::ChildConfig* config_;
  int index_;
  std::unique_ptr<ChildLink> link_;
  Part part_ = Part::kActive;
  absl::Status error_;
  std::shared_ptr<ChildHealth> health_;
};

}  // namespace milter::manager

#endif  // MANAGER_CORE_CHILD_H_
