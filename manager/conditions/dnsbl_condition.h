// The dnsbl condition: holds for clients whose address a DNS block list
// lists (see builtin.h, docs/dnsbl.md). Lookups run on the session's event
// loop with c-ares (manager/dns); each event loop has its own resolver and
// answer cache, owned by the loop (an asio service).

#ifndef MANAGER_CONDITIONS_DNSBL_CONDITION_H_
#define MANAGER_CONDITIONS_DNSBL_CONDITION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "manager/conditions/condition.h"
#include "manager/config/config.pb.h"

namespace milter::manager::conditions {

// Errors: a malformed expected answer.
absl::StatusOr<std::unique_ptr<Condition>> BuildDnsbl(
    const std::string& name, const config::DnsblCondition& config);

}  // namespace milter::manager::conditions

#endif  // MANAGER_CONDITIONS_DNSBL_CONDITION_H_
