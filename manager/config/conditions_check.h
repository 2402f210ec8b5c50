// Checks and defaults for the applicable conditions and access lists of a
// parsed configuration (config.proto): names, references between
// conditions and to children, required parameters. What needs the
// matchers themselves (regular expressions, networks, list files) is
// checked when the conditions are built (manager/conditions).
// Internal to manager/config.

#ifndef MANAGER_CONFIG_CONDITIONS_CHECK_H_
#define MANAGER_CONFIG_CONDITIONS_CHECK_H_

#include "absl/status/status.h"
#include "manager/config/config.pb.h"
#include "manager/config/locator.h"

namespace milter::manager::config_internal {

// Fills the defaults of every condition and of the access lists.
void FillConditionDefaults(config::ManagerConfig* c);

// Errors name the field's position: unknown or duplicate names, a child
// referring to an unknown condition, cycles through not/any_of/all_of, a
// child_result naming an unknown child, a child not listed before the one
// depending on it, or a stage that is not an envelope stage.
absl::Status CheckConditions(const config::ManagerConfig& c, const Locator& at);

}  // namespace milter::manager::config_internal

#endif  // MANAGER_CONFIG_CONDITIONS_CHECK_H_
