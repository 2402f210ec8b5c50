// Child: a child milter's part in one MTA session.

#include "manager/core/child.h"

namespace milter::manager {

Child::Child(const config::ChildConfig* config, int index,
             std::unique_ptr<ChildLink> link)
    : config_(config), index_(index), link_(std::move(link)) {}

ChildNeeds Child::needs() const {
  ChildNeeds needs;
  needs.options = link_->negotiated();
  for (int i = 0; i < codec::kNumMacroStages; ++i) {
    needs.symbol_lists[i] =
        link_->symbol_list(static_cast<codec::MacroStage>(i));
  }
  return needs;
}

codec::Status Child::Fail(const absl::Status& error, bool report) {
  if (part_ == Part::kFailed) return codec::Status::kContinue;
  part_ = Part::kFailed;
  error_ = error;
  if (report && health_ != nullptr) health_->Failed(error);
  return FallbackStatusOf(config_->fallback_status());
}

void Child::Answered(codec::Status status, bool message_scope) {
  if (part_ != Part::kActive) return;
  switch (status) {
    case codec::Status::kAccept:
      part_ = message_scope ? Part::kDoneForMessage : Part::kDoneForSession;
      break;
    case codec::Status::kReject:
    case codec::Status::kTempfail:
    case codec::Status::kDiscard:
      // At connect and helo these end the SMTP session for the MTA anyway.
      part_ = message_scope ? Part::kDoneForMessage : Part::kDoneForSession;
      break;
    case codec::Status::kShutdown:
    case codec::Status::kConnectionFail:
      part_ = Part::kDoneForSession;
      break;
    default:
      break;
  }
}

void Child::NewMessage() {
  body_skipped = false;
  if (script_off && *script_off != script::SwitchScope::kSession) {
    script_off.reset();
  }
  if (script_on && *script_on != script::SwitchScope::kSession) {
    script_on.reset();
  }
  if (part_ == Part::kDoneForMessage) part_ = Part::kActive;
}

}  // namespace milter::manager
