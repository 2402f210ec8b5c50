// A StatusProvider from the configuration alone, for a manager without a
// supervisor: the configuration text, and one child state per configured
// child (health up, or disabled for `enabled: false`; nothing else known).
// Reload is left empty (unimplemented) unless `reload` is given.

#ifndef MANAGER_STATUS_CONFIG_PROVIDER_H_
#define MANAGER_STATUS_CONFIG_PROVIDER_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "manager/config/config.pb.h"
#include "manager/status/status_document.h"
#include "manager/supervise/child_state.h"

namespace milter::manager::status {

std::vector<ChildState> ChildrenOf(const config::ManagerConfig& config,
                                   absl::Time since);

StatusProvider ConfigProvider(
    std::shared_ptr<const config::ManagerConfig> config,
    std::function<absl::Status()> reload = nullptr);

}  // namespace milter::manager::status

#endif  // MANAGER_STATUS_CONFIG_PROVIDER_H_
