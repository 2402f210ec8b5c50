// Stage names and macro lookup of the script session (session.h).

#include "manager/script/session.h"

namespace milter::manager::script {

std::string_view StageName(Stage stage) {
  switch (stage) {
    case Stage::kConnect:
      return "connect";
    case Stage::kHelo:
      return "helo";
    case Stage::kEnvelopeFrom:
      return "envfrom";
    case Stage::kEnvelopeRecipient:
      return "envrcpt";
    case Stage::kData:
      return "data";
    case Stage::kUnknown:
      return "unknown";
    case Stage::kHeader:
      return "header";
    case Stage::kEndOfHeaders:
      return "eoh";
    case Stage::kBody:
      return "body";
    case Stage::kEndOfMessage:
      return "eom";
    case Stage::kAbort:
      return "abort";
    case Stage::kClose:
      return "close";
  }
  return "unknown";
}

std::string_view HandlerName(Stage stage) {
  switch (stage) {
    case Stage::kConnect:
      return "on_connect";
    case Stage::kHelo:
      return "on_helo";
    case Stage::kEnvelopeFrom:
      return "on_envfrom";
    case Stage::kEnvelopeRecipient:
      return "on_envrcpt";
    case Stage::kData:
      return "on_data";
    case Stage::kUnknown:
      return "on_unknown";
    case Stage::kHeader:
      return "on_header";
    case Stage::kEndOfHeaders:
      return "on_eoh";
    case Stage::kBody:
      return "on_body";
    case Stage::kEndOfMessage:
      return "on_eom";
    case Stage::kAbort:
      return "on_abort";
    case Stage::kClose:
      return "on_close";
  }
  return "on_unknown";
}

std::string_view Session::Macro(std::string_view name) const {
  if (macros == nullptr) return "";
  // MacroMap::Get finds either spelling ("i" / "{i}", "x" / "{x}").
  std::optional<std::string_view> value = macros->Get(name);
  return value ? *value : std::string_view();
}

}  // namespace milter::manager::script
