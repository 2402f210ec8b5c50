// rspamd's detector for manager/detect: its proxy worker in milter mode.
//
// rspamd is a milter when its rspamd_proxy worker has `milter = yes`
// (Debian ships /etc/rspamd/worker-proxy.inc with it). The worker's
// settings are read as rspamd layers them: /etc/rspamd/rspamd.conf's
// `worker "rspamd_proxy" { bind_socket = ...; }`, then
// /etc/rspamd/worker-proxy.inc, then local.d/worker-proxy.inc, then
// override.d/worker-proxy.inc (a later layer's value wins). No
// `milter = yes` at all: no child, no warning. `enabled = false` in the
// worker: a disabled child. Internal to manager/detect.

#ifndef MANAGER_DETECT_RSPAMD_H_
#define MANAGER_DETECT_RSPAMD_H_

#include <optional>
#include <string>
#include <vector>

#include "manager/config/config.pb.h"
#include "manager/detect/files.h"

namespace milter::manager::detect_internal {

std::optional<config::ChildConfig> DetectRspamd(
    const Root& root, std::vector<std::string>* warnings);

}  // namespace milter::manager::detect_internal

#endif  // MANAGER_DETECT_RSPAMD_H_
