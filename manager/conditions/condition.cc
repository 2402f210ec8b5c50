// Shared helpers of the condition interface.

#include "manager/conditions/condition.h"

namespace milter::manager::conditions {

std::string_view Facts::Macro(std::string_view name) const {
  if (macros == nullptr) return "";
  std::optional<std::string_view> v = macros->Get(name);
  return v.value_or("");
}

Scope ScopeOf(Stage stage, bool per_recipient) {
  switch (stage) {
    case config::CONNECT:
    case config::HELO:
      return Scope::kSession;
    case config::ENVELOPE_RECIPIENT:
      return per_recipient ? Scope::kRecipient : Scope::kMessage;
    default:
      return Scope::kMessage;
  }
}

std::string_view StageName(Stage stage) {
  switch (stage) {
    case config::CONNECT:
      return "connect";
    case config::HELO:
      return "helo";
    case config::ENVELOPE_FROM:
      return "envelope-from";
    case config::ENVELOPE_RECIPIENT:
      return "envelope-recipient";
    case config::DATA:
      return "data";
    case config::UNKNOWN:
      return "unknown";
    case config::HEADER:
      return "header";
    case config::END_OF_HEADER:
      return "end-of-header";
    case config::BODY:
      return "body";
    case config::END_OF_MESSAGE:
      return "end-of-message";
    default:
      return "?";
  }
}

}  // namespace milter::manager::conditions
