// Milter socket specifications, shared by the filter side (listen) and the
// MTA side (connect):
//
//   unix:/path/to.sock   local:/path/to.sock   /path/to.sock (bare path)
//   inet:PORT            inet:PORT@HOST        inet:PORT@[ADDR]
//   inet6:PORT           inet6:PORT@HOST       inet6:PORT@[ADDR]
//   inet:HOST:PORT       inet:[ADDR]:PORT      inet6:[ADDR]:PORT
//                        (Postfix's order, accepted too)
//
// A missing host means "any address" for listening and loopback for
// connecting. Port 0 parses (a listener then gets a free port from the
// kernel) but ResolveTcp refuses it for connecting.
//
// ParseSocketSpec refuses, with a one-line reason, anything a socket call
// would refuse later or read differently: an empty spec, path, host or port;
// a Unix path longer than kMaxUnixPathLength or ending in '/'; a port out of
// 0..65535; an address of the wrong family (inet:PORT@[::1]); a malformed
// host name; anything after "[ADDR]"; NUL bytes and control characters.

#ifndef MILTER_NET_SOCKET_SPEC_H_
#define MILTER_NET_SOCKET_SPEC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "asio/ip/tcp.hpp"

namespace milter::net {

// The longest Unix socket path: sockaddr_un's sun_path less its NUL.
inline constexpr size_t kMaxUnixPathLength = 107;

struct SocketSpec {
  enum class Kind {
    kUnix,   // a Unix-domain stream socket at `path`
    kInet,   // IPv4 TCP at `host`:`port`
    kInet6,  // IPv6 TCP at `host`:`port`
  };
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix only
  std::string host;  // kInet/kInet6: name or literal address; may be empty
  uint16_t port = 0;

  // Canonical form: "unix:/p", "inet:25@127.0.0.1", "inet6:25@[::1]".
  std::string ToString() const;
};

// Parses `spec`; the error says what is wrong ("inet:abc: port is not a
// number in 0..65535").
absl::StatusOr<SocketSpec> ParseSocketSpec(std::string_view spec);

// Resolves an inet/inet6 spec to TCP endpoints (blocking DNS lookup if `host`
// is a name). With an empty host: the wildcard address if `for_listening`,
// else loopback. Port 0 is an error unless `for_listening`.
absl::StatusOr<std::vector<asio::ip::tcp::endpoint>> ResolveTcp(
    const SocketSpec& spec, bool for_listening);

}  // namespace milter::net

#endif  // MILTER_NET_SOCKET_SPEC_H_
