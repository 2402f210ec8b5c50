// Checking the scripts a configuration names before it is used: every
// script child's file and handler files and every script condition's file
// is compiled by a throwaway Engine (a method file's top-level code runs,
// as it will when the manager loads it). A missing file or a syntax error
// refuses the configuration with the child or condition, the file, line
// and column, and the compiler's message, so that `--check-config`, start
// and reload catch it. (An edit of a script while the manager runs is
// handled by the engine: the old code keeps serving.)

#ifndef MANAGER_CONFIG_SCRIPTS_CHECK_H_
#define MANAGER_CONFIG_SCRIPTS_CHECK_H_

#include "absl/status/status.h"
#include "manager/config/config.pb.h"

namespace milter::manager::config_internal {

absl::Status CheckScripts(const config::ManagerConfig& config);

}  // namespace milter::manager::config_internal

#endif  // MANAGER_CONFIG_SCRIPTS_CHECK_H_
