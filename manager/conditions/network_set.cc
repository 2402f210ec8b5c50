// CIDR parsing and range lookup; see network_set.h.

#include "manager/conditions/network_set.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "manager/conditions/text_util.h"

namespace milter::manager::conditions {
namespace {

// The first 12 bytes of an IPv4-mapped IPv6 address.
constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

using internal::StartsWithNoCase;
using internal::Trim;

// inet_pton on a string_view: the address of `family` in `text`, exactly.
std::optional<IpAddress> ParsePlain(std::string_view text, int family) {
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress address;
  if (inet_pton(family, buffer, address.bytes.data()) != 1) {
    return std::nullopt;
  }
  address.family =
      family == AF_INET ? IpAddress::Family::kIpv4 : IpAddress::Family::kIpv6;
  return address;
}

// Either family, by whether `text` has a colon.
std::optional<IpAddress> ParseEither(std::string_view text) {
  return ParsePlain(
      text, text.find(':') == std::string_view::npos ? AF_INET : AF_INET6);
}

uint32_t V4Value(const IpAddress& address) {
  return (uint32_t{address.bytes[0]} << 24) |
         (uint32_t{address.bytes[1]} << 16) |
         (uint32_t{address.bytes[2]} << 8) | uint32_t{address.bytes[3]};
}

// The IPv4 address in the last 4 bytes of an IPv6 address.
uint32_t MappedV4Value(const IpAddress& address) {
  return (uint32_t{address.bytes[12]} << 24) |
         (uint32_t{address.bytes[13]} << 16) |
         (uint32_t{address.bytes[14]} << 8) | uint32_t{address.bytes[15]};
}

absl::uint128 V6Value(const IpAddress& address) {
  uint64_t high = 0;
  uint64_t low = 0;
  for (int i = 0; i < 8; ++i) high = (high << 8) | address.bytes[i];
  for (int i = 8; i < 16; ++i) low = (low << 8) | address.bytes[i];
  return absl::MakeUint128(high, low);
}

// The bits below a prefix of `prefix` bits in a `width`-bit address.
uint32_t V4HostMask(int prefix) {
  return prefix == 0 ? ~uint32_t{0} : (uint32_t{1} << (32 - prefix)) - 1;
}
absl::uint128 V6HostMask(int prefix) {
  return prefix == 0 ? ~absl::uint128(0)
                     : (absl::uint128(1) << (128 - prefix)) - 1;
}

std::string V4Text(uint32_t value) {
  IpAddress address;
  for (int i = 0; i < 4; ++i)
    address.bytes[i] = static_cast<uint8_t>(value >> (24 - 8 * i));
  return address.ToString();
}
std::string V6Text(absl::uint128 value) {
  IpAddress address;
  address.family = IpAddress::Family::kIpv6;
  for (int i = 0; i < 16; ++i) {
    address.bytes[i] = static_cast<uint8_t>(value >> (120 - 8 * i));
  }
  return address.ToString();
}

// A prefix length of at most `max`, in decimal; -1 when it is not one.
int ParsePrefix(std::string_view text, int max) {
  if (text.empty() || text.size() > 3) return -1;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value <= max ? value : -1;
}

}  // namespace

bool IpAddress::IsIpv4Mapped() const {
  return family == Family::kIpv6 &&
         std::memcmp(bytes.data(), kMappedPrefix, sizeof kMappedPrefix) == 0;
}

std::string IpAddress::ToString() const {
  char buffer[INET6_ADDRSTRLEN];
  int af = family == Family::kIpv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buffer, sizeof buffer) == nullptr) {
    return "?";
  }
  return buffer;
}

std::optional<IpAddress> NetworkSet::ParseAddress(std::string_view text) {
  text = Trim(text);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = Trim(text.substr(1, text.size() - 2));
  }
  bool tagged = StartsWithNoCase(text, "IPv6:");
  if (tagged) text.remove_prefix(5);
  if (!tagged && text.find(':') == std::string_view::npos) {
    return ParsePlain(text, AF_INET);
  }
  return ParsePlain(text.substr(0, text.find('%')), AF_INET6);
}

absl::StatusOr<NetworkSet> NetworkSet::Parse(
    const std::vector<std::string>& entries) {
  NetworkSet set;
  for (const std::string& entry : entries) {
    auto fail = [&entry](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid network '", entry, "': ", std::string(why)));
    };
    std::string_view text = Trim(entry);
    if (text.empty()) return fail("empty entry");
    size_t slash = text.find('/');
    std::optional<IpAddress> base = ParseEither(text.substr(0, slash));
    if (!base) return fail("not an IPv4 or IPv6 address");
    bool v4 = base->family == IpAddress::Family::kIpv4;
    int max = v4 ? 32 : 128;
    int prefix = max;
    if (slash != std::string_view::npos) {
      prefix = ParsePrefix(text.substr(slash + 1), max);
      if (prefix < 0) {
        return fail(absl::StrCat("the prefix length must be 0 to ", max));
      }
    }
    if (v4) {
      uint32_t value = V4Value(*base);
      uint32_t host = V4HostMask(prefix);
      if ((value & host) != 0) {
        return fail(absl::StrCat("host bits set (the network is ",
                                 V4Text(value & ~host), "/", prefix, ")"));
      }
      set.v4_.push_back({value, value | host});
      continue;
    }
    absl::uint128 value = V6Value(*base);
    absl::uint128 host = V6HostMask(prefix);
    if ((value & host) != 0) {
      return fail(absl::StrCat("host bits set (the network is ",
                               V6Text(value & ~host), "/", prefix, ")"));
    }
    if (prefix >= 96 && base->IsIpv4Mapped()) {
      uint32_t v4_value = MappedV4Value(*base);
      set.v4_.push_back({v4_value, v4_value | V4HostMask(prefix - 96)});
    } else {
      set.v6_.push_back({value, value | host});
    }
  }
  set.Normalize();
  return set;
}

NetworkSet NetworkSet::PrivateDefault() {
  absl::StatusOr<NetworkSet> set = Parse({
      "127.0.0.0/8",
      "10.0.0.0/8",
      "172.16.0.0/12",
      "192.168.0.0/16",
      "169.254.0.0/16",
      "100.64.0.0/10",
      "::1/128",
      "fc00::/7",
      "fe80::/10",
  });
  // The entries are constants, checked by the tests.
  return set.ok() ? *std::move(set) : NetworkSet();
}

void NetworkSet::Normalize() {
  auto merge = [](auto& ranges) {
    std::sort(ranges.begin(), ranges.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t out = 0;
    for (size_t i = 0; i < ranges.size(); ++i) {
      if (out > 0) {
        auto& last = ranges[out - 1];
        // Overlapping or adjacent (careful at the top of the space).
        if (ranges[i].first <= last.last || ranges[i].first - 1 == last.last) {
          last.last = std::max(last.last, ranges[i].last);
          continue;
        }
      }
      ranges[out++] = ranges[i];
    }
    ranges.resize(out);
  };
  merge(v4_);
  merge(v6_);
}

bool NetworkSet::ContainsV4(uint32_t address) const {
  auto it = std::upper_bound(
      v4_.begin(), v4_.end(), address,
      [](uint32_t value, const V4Range& range) { return value < range.first; });
  return it != v4_.begin() && address <= std::prev(it)->last;
}

bool NetworkSet::ContainsV6(absl::uint128 address) const {
  auto it = std::upper_bound(v6_.begin(), v6_.end(), address,
                             [](absl::uint128 value, const V6Range& range) {
                               return value < range.first;
                             });
  return it != v6_.begin() && address <= std::prev(it)->last;
}

bool NetworkSet::Contains(const IpAddress& address) const {
  if (address.family == IpAddress::Family::kIpv4) {
    return ContainsV4(V4Value(address));
  }
  if (address.IsIpv4Mapped() && ContainsV4(MappedV4Value(address))) {
    return true;
  }
  return ContainsV6(V6Value(address));
}

bool NetworkSet::Contains(std::string_view address) const {
  std::optional<IpAddress> parsed = ParseAddress(address);
  return parsed && Contains(*parsed);
}

}  // namespace milter::manager::conditions
