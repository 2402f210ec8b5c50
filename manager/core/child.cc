// Child: a child milter's part in one MTA session.

#include "manager/core/child.h"

namespace milter::manager {

server::SessionOptions ChildSessionOptions(
    const config::ChildConfig& config, const codec::OptionNegotiation& offer) {
  server::SessionOptions options;
  options.version = offer.version;
  options.actions = offer.actions;
  options.protocol = offer.protocol;
  options.connect_timeout = absl::Seconds(config.connect_timeout());
  options.write_timeout = absl::Seconds(config.write_timeout());
  options.read_timeout = absl::Seconds(config.reading_timeout());
  options.end_of_message_timeout =
      absl::Seconds(config.end_of_message_timeout());
  return options;
}

Child::Child(const config::ChildConfig* config, int index,
             asio::any_io_executor executor,
             const codec::OptionNegotiation& offer)
    : config_(config),
      index_(index),
      session_(std::move(executor), ChildSessionOptions(*config, offer)) {}

ChildNeeds Child::needs() const {
  ChildNeeds needs;
  needs.options = session_.negotiated();
  for (int i = 0; i < codec::kNumMacroStages; ++i) {
    needs.symbol_lists[i] =
        session_.symbol_list(static_cast<codec::MacroStage>(i));
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
  if (part_ == Part::kDoneForMessage) part_ = Part::kActive;
}

}  // namespace milter::manager
