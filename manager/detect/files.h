// Reading other packages' configuration files for manager/detect: every
// absolute path is read under a root directory (so tests use fixture
// trees), and the few file syntaxes the detected packages use are parsed
// here: "Key value" files (opendkim.conf, clamav-milter.conf), shell
// assignments (/etc/default/*), rspamd's UCL, and the socket notations of
// milters and of rspamd, translated into milter/net socket specs.
//
// Nothing here throws or aborts on bad input: a file that cannot be read or
// parsed comes back as an error status whose message starts with
// "file:line: " (or "file: ") and says why. Internal to manager/detect.

#ifndef MANAGER_DETECT_FILES_H_
#define MANAGER_DETECT_FILES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace milter::manager::detect_internal {

// The files of one host, seen under `root` ("/" for the real one).
class Root {
 public:
  explicit Root(std::string root);

  // `path` (absolute) under the root, as read and as named in messages.
  std::string Path(absl::string_view path) const;
  bool Exists(absl::string_view path) const;
  // The file's lines (without '\n'). Refuses, with "file: reason", a
  // missing or unreadable file, a directory, one over 1 MiB or with NULs.
  absl::StatusOr<std::vector<std::string>> ReadLines(
      absl::string_view path) const;
  // Whether `service` is set to start at boot: a link
  // /etc/systemd/system/*.wants/SERVICE.service, or an S??SERVICE link in
  // /etc/rc2.d .. /etc/rc5.d; never when SERVICE.service is masked (a link
  // to /dev/null in /etc/systemd/system).
  bool StartsAtBoot(absl::string_view service) const;

 private:
  std::string root_;
};

// A value and the 1-based line it was written on.
struct Setting {
  std::string value;
  int line = 0;
};

// The last "Key value" line for `key` (case-insensitive) in a file where
// '#' starts a comment line: opendkim.conf, opendmarc.conf,
// clamav-milter.conf.
std::optional<Setting> FindKeyValue(const std::vector<std::string>& lines,
                                    absl::string_view key);

// The simple assignments (NAME=value, export NAME=value) of a shell file
// such as /etc/default/opendkim, with $NAME and ${NAME} expanded from
// `preset` and earlier assignments, quotes removed. Other shell lines are
// ignored. An unterminated quote is an error "file:line: reason".
absl::StatusOr<absl::flat_hash_map<std::string, Setting>> ParseShell(
    const std::vector<std::string>& lines, absl::string_view file,
    const absl::flat_hash_map<std::string, std::string>& preset);

// One `key = value` of rspamd's UCL, with the sections it is in
// ("worker rspamd_proxy" for `worker "rspamd_proxy" { ... }`).
struct UclEntry {
  std::string section;  // section names joined by '/'; "" at the top
  std::string key;
  std::string value;  // quotes removed
  int line = 0;
};

// The entries of a UCL file (rspamd.conf, worker-proxy.inc): '#' and /* */
// comments, "key = value;", "key value;", "key: value", sections. Includes
// (.include ...) are skipped. Unbalanced braces and unterminated strings
// or comments are errors "file:line: reason".
absl::StatusOr<std::vector<UclEntry>> ParseUcl(
    const std::vector<std::string>& lines, absl::string_view file);

// A milter socket as opendkim, opendmarc, clamav-milter, spamass-milter
// and milter-greylist write it (libmilter's smfi_setconn notation:
// local:/path, unix:/path, /path, inet:PORT@HOST, inet6:PORT@HOST,
// inet:PORT), as the spec to connect to it. A wildcard host (0.0.0.0, ::,
// *) becomes loopback. Relative paths are refused.
absl::StatusOr<std::string> MilterSocketToSpec(absl::string_view socket);

// An rspamd bind_socket ("localhost:11332", "*:11332", "*v4:11332",
// "[::1]:11332", "127.0.0.1:11332", "/run/rspamd/milter.sock mode=0666")
// as the spec to connect to it.
absl::StatusOr<std::string> RspamdSocketToSpec(absl::string_view bind);

// "yes", "true", "on", "1" and "no", "false", "off", "0" (any case).
std::optional<bool> ParseBool(absl::string_view text);

}  // namespace milter::manager::detect_internal

#endif  // MANAGER_DETECT_FILES_H_
