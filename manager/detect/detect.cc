// The detectors of manager/detect, one per package, and the merge into a
// configuration. The file syntaxes are in files.h, rspamd in rspamd.cc.

#include "manager/detect/detect.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "manager/detect/files.h"
#include "manager/detect/rspamd.h"

namespace milter::manager::detect {

namespace {

using config::ChildConfig;
using detect_internal::Root;
using detect_internal::Setting;

// A package whose daemon reads a "Key value" file and, maybe, an
// /etc/default file of shell assignments.
struct Package {
  const char* name;
  const char* description;
  const char* binary;        // absent: the package is not installed
  const char* service;       // systemd unit / init script name
  const char* conf;          // "Key value" file, or null
  const char* conf_key;      // the socket's key in `conf`
  const char* default_file;  // /etc/default/..., or null
  bool scanner;              // spam/virus/greylist: default conditions
};

// The socket word of a value: the first word, or a quoted string.
std::string SocketWord(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  if (!value.empty() && value[0] == '"') {
    return std::string(value.substr(1, value.find('"', 1) - 1));
  }
  return std::string(value.substr(0, value.find_first_of(" \t#")));
}

ChildConfig Base(const Package& p, const Root& root) {
  ChildConfig child;
  child.set_name(p.name);
  child.set_description(p.description);
  child.set_enabled(root.StartsAtBoot(p.service));
  if (p.scanner) {
    child.add_applicable_conditions(kUnauthenticated);
    child.add_applicable_conditions(kRemoteClient);
  }
  return child;
}

// Sets the spec and origin from `socket` written at file:line; false (and
// a warning) if it is not a socket we can connect to.
bool SetSocket(const Package& p, const std::string& file, const Setting& at,
               ChildConfig* child, std::vector<std::string>* warnings) {
  absl::StatusOr<std::string> spec =
      detect_internal::MilterSocketToSpec(SocketWord(at.value));
  if (!spec.ok()) {
    warnings->push_back(absl::StrCat(file, ":", at.line, ": ", p.name,
                                     " socket: ", spec.status().message(), "; ",
                                     p.name, " not used"));
    return false;
  }
  child->set_connection_spec(*spec);
  child->set_origin(absl::StrCat(file, ":", at.line, " (", p.name, ")"));
  return true;
}

// The /etc/default file's variables; empty (and maybe a warning) if it is
// missing or broken.
absl::flat_hash_map<std::string, Setting> Defaults(
    const Root& root, const char* path, const char* name,
    std::vector<std::string>* warnings) {
  if (path == nullptr || !root.Exists(path)) return {};
  absl::StatusOr<std::vector<std::string>> lines = root.ReadLines(path);
  if (lines.ok()) {
    auto vars =
        detect_internal::ParseShell(*lines, root.Path(path), {{"NAME", name}});
    if (vars.ok()) return *std::move(vars);
    lines = vars.status();
  }
  warnings->push_back(absl::StrCat(lines.status().message(), " (ignored)"));
  return {};
}

// An ENABLED=0 (or no/false) in the /etc/default file disables the child.
void ApplyEnabledSwitch(const absl::flat_hash_map<std::string, Setting>& vars,
                        ChildConfig* child) {
  if (auto it = vars.find("ENABLED"); it != vars.end()) {
    std::optional<bool> on = detect_internal::ParseBool(it->second.value);
    if (on.has_value() && !*on) child->set_enabled(false);
  }
}

std::optional<ChildConfig> DetectPackage(const Package& p, const Root& root,
                                         std::vector<std::string>* warnings) {
  if (!root.Exists(p.binary)) return std::nullopt;
  ChildConfig child = Base(p, root);
  auto vars = Defaults(root, p.default_file, p.name, warnings);
  ApplyEnabledSwitch(vars, &child);
  std::optional<Setting> socket;
  std::string file;
  if (p.conf != nullptr) {
    absl::StatusOr<std::vector<std::string>> lines = root.ReadLines(p.conf);
    if (lines.ok()) {
      socket = detect_internal::FindKeyValue(*lines, p.conf_key);
      file = root.Path(p.conf);
    } else {
      warnings->push_back(std::string(lines.status().message()));
    }
  }
  if (!socket.has_value()) {
    if (auto it = vars.find("SOCKET"); it != vars.end()) {
      socket = it->second;
      file = root.Path(p.default_file);
    }
  }
  if (!socket.has_value()) {
    warnings->push_back(
        absl::StrCat(root.Path(p.conf != nullptr ? p.conf : p.default_file),
                     ": no ", p.conf != nullptr ? p.conf_key : "SOCKET",
                     " setting; ", p.name, " not used"));
    return std::nullopt;
  }
  if (!SetSocket(p, file, *socket, &child, warnings)) return std::nullopt;
  return child;
}

// spamass-milter's init script: -p $SOCKET, then $OPTIONS (a later -p
// wins); SOCKET defaults to Postfix's spool when Postfix is installed.
std::optional<ChildConfig> DetectSpamass(const Root& root,
                                         std::vector<std::string>* warnings) {
  static const Package p = {"spamass-milter",
                            "SpamAssassin (spamass-milter)",
                            "/usr/sbin/spamass-milter",
                            "spamass-milter",
                            nullptr,
                            nullptr,
                            "/etc/default/spamass-milter",
                            true};
  if (!root.Exists(p.binary)) return std::nullopt;
  ChildConfig child = Base(p, root);
  auto vars = Defaults(root, p.default_file, p.name, warnings);
  ApplyEnabledSwitch(vars, &child);
  std::string file = root.Path(p.default_file);
  std::optional<Setting> socket;
  if (auto it = vars.find("SOCKET"); it != vars.end()) socket = it->second;
  if (auto it = vars.find("OPTIONS"); it != vars.end()) {
    std::vector<std::string> words = absl::StrSplit(
        it->second.value, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      if (words[i] == "-p") socket = Setting{words[i + 1], it->second.line};
    }
  }
  if (!socket.has_value()) {
    // The init script's own defaults, named as such in the origin.
    file = root.Path("/etc/init.d/spamass-milter");
    socket = Setting{root.Exists("/usr/sbin/postfix")
                         ? "/var/spool/postfix/spamass/spamass.sock"
                         : "/var/run/spamass/spamass.sock",
                     0};
  }
  if (!SetSocket(p, file, *socket, &child, warnings)) return std::nullopt;
  if (socket->line == 0) {
    child.set_origin(absl::StrCat(file, " default (", p.name, ")"));
  }
  return child;
}

std::optional<ChildConfig> DetectGreylist(const Root& root,
                                          std::vector<std::string>* warnings) {
  Package p = {"milter-greylist",
               "greylisting (milter-greylist)",
               "/usr/sbin/milter-greylist",
               "milter-greylist",
               "/etc/milter-greylist/greylist.conf",
               "socket",
               "/etc/default/milter-greylist",
               true};
  // Debian's packages used /etc/milter-greylist; upstream /etc/mail.
  if (!root.Exists(p.conf) && root.Exists("/etc/mail/greylist.conf")) {
    p.conf = "/etc/mail/greylist.conf";
  }
  return DetectPackage(p, root, warnings);
}

}  // namespace

Findings DetectInstalledMilters(const std::string& root_dir) {
  static const Package kClamav = {"clamav-milter",
                                  "ClamAV virus scanner (clamav-milter)",
                                  "/usr/sbin/clamav-milter",
                                  "clamav-milter",
                                  "/etc/clamav/clamav-milter.conf",
                                  "MilterSocket",
                                  nullptr,
                                  true};
  static const Package kOpendkim = {"opendkim",
                                    "DKIM signing and verification (OpenDKIM)",
                                    "/usr/sbin/opendkim",
                                    "opendkim",
                                    "/etc/opendkim.conf",
                                    "Socket",
                                    "/etc/default/opendkim",
                                    false};
  static const Package kOpendmarc = {"opendmarc",
                                     "DMARC verification (OpenDMARC)",
                                     "/usr/sbin/opendmarc",
                                     "opendmarc",
                                     "/etc/opendmarc.conf",
                                     "Socket",
                                     "/etc/default/opendmarc",
                                     false};
  Root root(root_dir);
  Findings out;
  for (std::optional<ChildConfig> child :
       {DetectGreylist(root, &out.warnings),
        DetectPackage(kClamav, root, &out.warnings),
        DetectSpamass(root, &out.warnings),
        detect_internal::DetectRspamd(root, &out.warnings),
        DetectPackage(kOpendkim, root, &out.warnings),
        DetectPackage(kOpendmarc, root, &out.warnings)}) {
    if (child.has_value()) out.children.push_back(*std::move(child));
  }
  return out;
}

}  // namespace milter::manager::detect
