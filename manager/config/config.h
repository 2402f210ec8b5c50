// Loading the milter manager's configuration: protobuf text format
// (config.proto) from a file or a string, defaults filled in, validated.
//
//   absl::StatusOr<ManagerConfig> c =
//   LoadConfigFile("/etc/milter-manager.conf");
//
// Every error names the file, line and column and what is wrong:
//   "/etc/milter-manager.conf:7:5: child \"dkim\": connection_spec: ..."
// A configuration that loads is complete: every default is filled in, so
// what --show-config prints is what runs.

#ifndef MANAGER_CONFIG_CONFIG_H_
#define MANAGER_CONFIG_CONFIG_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "manager/config/config.pb.h"

namespace milter::manager {

using config::ChildConfig;
using config::ManagerConfig;

// The configuration with no file at all: listen on inet:10025@[127.0.0.1],
// no children, accept.
ManagerConfig EmbeddedDefault();

// Adds to a configuration just parsed, before its defaults are filled in
// and it is checked: the manager passes manager/detect's installed milters
// (detect::AddDetectedChildren). Children it adds go after the file's.
using ConfigAugmenter = std::function<void(ManagerConfig*)>;

// Parses `text`; `file_name` is used in error messages and in the
// children's origin. `augment`, if set, runs before the checks.
absl::StatusOr<ManagerConfig> ParseConfig(
    std::string_view text, std::string_view file_name,
    const ConfigAugmenter& augment = nullptr);

// The unix_socket_mode as permission bits; nullopt if it is not octal.
std::optional<uint32_t> SocketMode(const ManagerConfig& config);

// Reads and parses `path`.
absl::StatusOr<ManagerConfig> LoadConfigFile(
    const std::string& path, const ConfigAugmenter& augment = nullptr);

// The configuration as text, every field shown (what --show-config prints).
std::string ConfigToText(const ManagerConfig& config);

}  // namespace milter::manager

#endif  // MANAGER_CONFIG_CONFIG_H_
