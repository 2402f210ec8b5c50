// A set of IPv4 and IPv6 networks (CIDR ranges), to test whether a client
// address lies in one of them.
//
// Entries: "10.0.0.0/8", "192.0.2.7" (one host, as /32), "2001:db8::/32",
// "::1" (one host, as /128). An entry with host bits set ("10.1.0.0/8") is
// an error, as it is usually a typo; so are bad addresses and prefix
// lengths. Each error names the entry. An IPv6 entry within the
// IPv4-mapped range ::ffff:0:0/96 stands for the IPv4 network it maps:
// "::ffff:10.0.0.0/104" is 10.0.0.0/8.
//
// Membership: an IPv4-mapped IPv6 address (::ffff:192.0.2.1) is contained
// when the IPv4 address it maps is, or when the IPv6 address itself is
// ("::/0" contains it). Addresses are taken in the textual forms MTAs give:
// "192.0.2.1", "2001:db8::1", "IPv6:2001:db8::1", each possibly in brackets
// ("[192.0.2.1]", "[IPv6:2001:db8::1]"); anything else ("unknown", a host
// name, "") is contained in no set.
//
// Lookup is a binary search over sorted, merged ranges: no allocation, a
// few tens of nanoseconds for the private ranges. A NetworkSet does not
// change after construction; its const methods may be called from any
// number of threads at once.

#ifndef MANAGER_CONDITIONS_NETWORK_SET_H_
#define MANAGER_CONDITIONS_NETWORK_SET_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"

namespace milter::manager::conditions {

// An IPv4 or IPv6 address.
struct IpAddress {
  enum class Family : uint8_t { kIpv4, kIpv6 };

  Family family = Family::kIpv4;
  // Network byte order. An IPv4 address uses bytes[0..3]; the rest are 0.
  std::array<uint8_t, 16> bytes{};

  // An IPv6 address in ::ffff:0:0/96.
  bool IsIpv4Mapped() const;
  // The usual text: "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1".
  std::string ToString() const;

  bool operator==(const IpAddress&) const = default;
};

class NetworkSet {
 public:
  // The empty set.
  NetworkSet() = default;

  // The networks `entries` name (surrounding whitespace ignored). Errors:
  // InvalidArgument naming the first bad entry and what is wrong with it.
  static absl::StatusOr<NetworkSet> Parse(
      const std::vector<std::string>& entries);

  // Loopback, private, link-local and shared address space:
  // 127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
  // 169.254.0.0/16, 100.64.0.0/10, ::1/128, fc00::/7, fe80::/10.
  static NetworkSet PrivateDefault();

  // The address in `text`, in any form Contains() takes (an IPv6 zone,
  // "%eth0", is ignored); nullopt when it is not an address. An
  // IPv4-mapped IPv6 address stays IPv6.
  static std::optional<IpAddress> ParseAddress(std::string_view text);

  // Whether the address in `address` lies in one of the networks; false
  // when it is not an address.
  bool Contains(std::string_view address) const;
  bool Contains(const IpAddress& address) const;

  bool empty() const { return v4_.empty() && v6_.empty(); }

 private:
  struct V4Range {
    uint32_t first;
    uint32_t last;
  };
  struct V6Range {
    absl::uint128 first;
    absl::uint128 last;
  };

  bool ContainsV4(uint32_t address) const;
  bool ContainsV6(absl::uint128 address) const;
  // Sorts and merges overlapping or adjacent ranges.
  void Normalize();

  std::vector<V4Range> v4_;
  std::vector<V6Range> v6_;
};

}  // namespace milter::manager::conditions

#endif  // MANAGER_CONDITIONS_NETWORK_SET_H_
