// Finding the milters installed on this host from their Debian packages'
// own configuration files, so that installing a milter package is enough
// for the manager to use it (docs/milter-manager.md, "Detected milters").
//
// Detected, in this order: milter-greylist, clamav-milter, spamass-milter,
// rspamd (its proxy worker in milter mode), opendkim, opendmarc. Each
// detector reads only its package's files, under a root directory ("/" on
// a real host, a fixture tree in tests), and yields at most one child:
// name (the package's), connection_spec (its socket, translated into our
// notation), enabled (see IsEnabled in the manual), origin
// ("/etc/opendkim.conf:12 (opendkim)") and default applicable_conditions.
//
// Contract: detection never fails. A file that cannot be read or parsed,
// or a socket we cannot use, yields no child (or a disabled one) and a
// warning "file:line: reason"; a package that is not installed (its daemon
// binary absent) yields nothing and no warning.
//
// The merge rule (AddDetectedChildren): a configured child with the name
// of a detected one overrides the fields it sets, in its place in the
// file; the other detected children come after the configured ones.

#ifndef MANAGER_DETECT_DETECT_H_
#define MANAGER_DETECT_DETECT_H_

#include <string>
#include <vector>

#include "manager/config/config.pb.h"

namespace milter::manager::detect {

// The names of the default conditions detected children refer to; a
// configuration may define them itself (its definition is then used).
inline constexpr char kUnauthenticated[] = "detected-unauthenticated";
inline constexpr char kRemoteClient[] = "detected-remote-client";

struct Findings {
  std::vector<config::ChildConfig> children;  // in detection order
  std::vector<std::string> warnings;          // "file:line: reason"
};

// Runs every detector on the files under `root`.
Findings DetectInstalledMilters(const std::string& root);

// Merges `findings` into `config` (parsed, defaults not yet filled in):
// overrides by name, appends the rest, and adds the definitions of the
// default conditions the detected children use and `config` lacks.
void MergeDetected(const Findings& findings, config::ManagerConfig* config);

// When config->detect_installed_milters() is unset or true: detects under
// config->detection_root() (default "/") and merges. The warnings are
// appended to `warnings`.
void AddDetectedChildren(config::ManagerConfig* config,
                         std::vector<std::string>* warnings);

}  // namespace milter::manager::detect

#endif  // MANAGER_DETECT_DETECT_H_
