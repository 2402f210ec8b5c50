// The messages between the manager and its launcher (launcher.h): one
// SOCK_SEQPACKET datagram each, a list of byte strings encoded as a 16-bit
// count and, per string, a 32-bit length and the bytes (lengths and counts
// little-endian). At most kMaxWireMessage bytes and kMaxWireFields strings;
// anything else is refused when decoding. Internal to manager/supervise.
//
// Requests:  "launch" ID COMMAND USER GROUP DIRECTORY ARGC ARG... ENV...
//            "stop" PID GRACE_MS
// Events:    "started" ID PID | "failed" ID DETAIL | "exited" PID DETAIL

#ifndef MANAGER_SUPERVISE_LAUNCHER_WIRE_H_
#define MANAGER_SUPERVISE_LAUNCHER_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace milter::manager::launcher_wire {

inline constexpr size_t kMaxWireMessage = 64 * 1024;
inline constexpr size_t kMaxWireFields = 1024;

// nullopt when the fields do not fit the limits.
std::optional<std::string> Encode(const std::vector<std::string>& fields);
// nullopt for anything malformed.
std::optional<std::vector<std::string>> Decode(std::string_view message);

// A decimal number of at most 18 digits; nullopt otherwise.
std::optional<int64_t> ParseNumber(const std::string& text);

}  // namespace milter::manager::launcher_wire

#endif  // MANAGER_SUPERVISE_LAUNCHER_WIRE_H_
