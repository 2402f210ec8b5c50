// ConfigProvider: the status of a manager known from its configuration.

#include "manager/status/config_provider.h"

#include <utility>

#include "absl/time/clock.h"
#include "manager/config/config.h"

namespace milter::manager::status {

std::vector<ChildState> ChildrenOf(const config::ManagerConfig& config,
                                   absl::Time since) {
  std::vector<ChildState> out;
  out.reserve(config.child_size());
  for (const config::ChildConfig& c : config.child()) {
    ChildState s;
    s.name = c.name();
    s.health = c.has_enabled() && !c.enabled() ? ChildState::Health::kDisabled
                                               : ChildState::Health::kUp;
    s.since = since;
    out.push_back(std::move(s));
  }
  return out;
}

StatusProvider ConfigProvider(
    std::shared_ptr<const config::ManagerConfig> config,
    std::function<absl::Status()> reload) {
  StatusProvider p;
  absl::Time since = absl::Now();
  p.configuration = [config] { return ConfigToText(*config); };
  p.children = [config, since] { return ChildrenOf(*config, since); };
  p.reload = std::move(reload);
  return p;
}

}  // namespace milter::manager::status
