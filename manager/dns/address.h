// Client addresses as a DNSBL looks them up, and the IPv4 answers it gives.
//
// A DNSBL is asked for the client address with its parts reversed, under the
// list's zone: IPv4 192.0.2.1 becomes "1.2.0.192", IPv6 2001:db8::1 becomes
// its 32 hexadecimal nibbles, lowest first ("1.0.0.0. ... .8.b.d.0.1.0.0.2").
// The forms MTAs put in macros are accepted too: "[192.0.2.1]",
// "IPv6:2001:db8::1" and "[IPv6:2001:db8::1]". An IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is looked up as the IPv4 address it carries.
//
// Pure functions: no I/O, safe from any thread.

#ifndef MANAGER_DNS_ADDRESS_H_
#define MANAGER_DNS_ADDRESS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace milter::manager::dns {

// Appends the reversed labels of `client_address` to `out` (no zone, no
// trailing dot). InvalidArgument, and `out` unchanged, when the address is
// neither IPv4 nor IPv6 in one of the forms above.
absl::Status AppendReversedAddress(std::string_view client_address,
                                   std::string& out);

// The same, as a new string.
absl::StatusOr<std::string> ReversedAddress(std::string_view client_address);

// Dotted-quad text of an IPv4 address held in host byte order
// (0x7f000002 is "127.0.0.2").
std::string FormatIPv4(uint32_t address);

// An IPv4 address or prefix, as a DNSBL's expected answers are written:
// "127.0.0.2" (one address) or "127.0.0.0/24" (a prefix).
struct IPv4Range {
  uint32_t network = 0;  // host byte order, host bits zero
  uint32_t mask = 0;     // host byte order

  bool Contains(uint32_t address) const { return (address & mask) == network; }
};

// InvalidArgument for anything but an IPv4 address optionally followed by
// "/LENGTH" with LENGTH 0 to 32. Host bits set below the prefix are an error
// ("127.0.0.1/24"), as they usually mean a typing mistake.
absl::StatusOr<IPv4Range> ParseIPv4Range(std::string_view text);

}  // namespace milter::manager::dns

#endif  // MANAGER_DNS_ADDRESS_H_
