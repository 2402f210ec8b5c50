// The built-in conditions on names, networks and DNS:
//
//   s25r                    the client's host name looks dynamic (S25R)
//   remote_network          the client is outside (or inside) local networks
//   trusted_sender_domains  the envelope sender's domain is not trusted
//   restrict_accounts       the recipient is listed (per recipient)
//   dnsbl                   the client's address is listed in a DNSBL
//
// BuildBuiltin makes one of them from its configuration; errors say what is
// wrong (a bad regular expression, network or list file as FILE:LINE).

#ifndef MANAGER_CONDITIONS_BUILTIN_H_
#define MANAGER_CONDITIONS_BUILTIN_H_

#include <memory>

#include "absl/status/statusor.h"
#include "manager/conditions/condition.h"
#include "manager/config/config.pb.h"

namespace milter::manager::conditions {

absl::StatusOr<std::unique_ptr<Condition>> BuildBuiltin(
    const config::ApplicableCondition& config);

}  // namespace milter::manager::conditions

#endif  // MANAGER_CONDITIONS_BUILTIN_H_
