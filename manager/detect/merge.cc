// Merging detected children into a configuration (detect.h).

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "manager/detect/detect.h"

namespace milter::manager::detect {

namespace {

using config::ApplicableCondition;
using config::ChildConfig;
using config::ManagerConfig;

// The definitions of the default conditions, used only where the
// configuration does not define a condition of that name itself.
ApplicableCondition DefaultCondition(const std::string& name) {
  ApplicableCondition c;
  c.set_name(name);
  if (name == kUnauthenticated) {
    c.set_description("detected milters: the SMTP client did not authenticate");
    c.mutable_authentication()->set_authenticated(false);
  } else {
    c.set_description(
        "detected milters: the client is outside the private and loopback "
        "networks");
    c.mutable_remote_network();
  }
  return c;
}

void AddDefaultConditions(const std::vector<std::string>& used,
                          ManagerConfig* config) {
  absl::flat_hash_set<std::string> defined;
  for (const ApplicableCondition& c : config->applicable_condition()) {
    defined.insert(c.name());
  }
  for (const std::string& name : used) {
    if (defined.insert(name).second) {
      *config->add_applicable_condition() = DefaultCondition(name);
    }
  }
}

}  // namespace

void MergeDetected(const Findings& findings, ManagerConfig* config) {
  std::vector<std::string> used;
  for (const ChildConfig& found : findings.children) {
    ChildConfig* configured = nullptr;
    for (ChildConfig& c : *config->mutable_child()) {
      if (c.name() == found.name()) configured = &c;
    }
    ChildConfig merged = found;
    if (configured != nullptr) {
      // The configured fields win; a configured condition list replaces
      // the default one.
      if (configured->applicable_conditions_size() > 0) {
        merged.clear_applicable_conditions();
      }
      merged.MergeFrom(*configured);
      merged.set_origin(configured->has_origin()
                            ? absl::StrCat(found.origin(), ", overridden at ",
                                           configured->origin())
                            : absl::StrCat(found.origin(), ", overridden"));
      *configured = merged;
    } else {
      *config->add_child() = merged;
    }
    for (const std::string& name : merged.applicable_conditions()) {
      if (name == kUnauthenticated || name == kRemoteClient) {
        used.push_back(name);
      }
    }
  }
  AddDefaultConditions(used, config);
}

void AddDetectedChildren(ManagerConfig* config,
                         std::vector<std::string>* warnings) {
  if (config->has_detect_installed_milters() &&
      !config->detect_installed_milters()) {
    return;
  }
  std::string root =
      config->detection_root().empty() ? "/" : config->detection_root();
  Findings findings = DetectInstalledMilters(root);
  MergeDetected(findings, config);
  warnings->insert(warnings->end(), findings.warnings.begin(),
                   findings.warnings.end());
}

}  // namespace milter::manager::detect
