// CheckScripts: compile every configured script once.

#include "manager/config/scripts_check.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "manager/script/engine.h"
#include "manager/script/store.h"

namespace milter::manager::config_internal {
namespace {

bool HasScripts(const config::ManagerConfig& config) {
  for (const config::ChildConfig& c : config.child()) {
    if (c.has_script()) return true;
  }
  for (const config::ApplicableCondition& c : config.applicable_condition()) {
    if (c.has_script()) return true;
  }
  return false;
}

absl::Status Refused(const std::string& who, const absl::Status& error) {
  return absl::InvalidArgumentError(absl::StrCat(who, ": ", error.message()));
}

}  // namespace

absl::Status CheckScripts(const config::ManagerConfig& config) {
  if (!HasScripts(config)) return absl::OkStatus();
  script::Engine::Options options;
  options.log = [](std::string_view) {};  // the error is returned instead
  options.store = std::make_shared<script::SharedStore>();
  script::Engine engine(options);
  for (const config::ChildConfig& c : config.child()) {
    if (!c.has_script() || !c.enabled()) continue;
    std::string who = absl::StrCat("child \"", c.name(), "\"");
    if (!c.script().file().empty()) {
      if (absl::Status s = engine.Load(c.script().file()); !s.ok()) {
        return Refused(who, s);
      }
    }
    for (const config::ScriptHandler& h : c.script().handler()) {
      if (h.file().empty()) continue;  // settings for the method file's
      if (absl::Status s = engine.LoadWholeFile(h.file()); !s.ok()) {
        return Refused(absl::StrCat(who, " handler ", h.stage()), s);
      }
    }
  }
  for (const config::ApplicableCondition& c : config.applicable_condition()) {
    if (!c.has_script()) continue;
    if (absl::Status s = engine.Load(c.script().file()); !s.ok()) {
      return Refused(absl::StrCat("condition \"", c.name(), "\""), s);
    }
  }
  return absl::OkStatus();
}

}  // namespace milter::manager::config_internal
