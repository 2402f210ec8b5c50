// Reversed-label names for DNSBL queries and IPv4 answer ranges.

#include "manager/dns/address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace milter::manager::dns {

namespace {

absl::string_view View(std::string_view s) { return {s.data(), s.size()}; }

absl::Status BadAddress(std::string_view client_address) {
  return absl::InvalidArgumentError(absl::StrCat(
      "not an IPv4 or IPv6 address: \"", View(client_address), "\""));
}

// Strips "[...]" and a leading "IPv6:" (any case), as MTAs write addresses.
std::string_view StripMtaForm(std::string_view address) {
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  constexpr std::string_view kIPv6Tag = "ipv6:";
  if (address.size() > kIPv6Tag.size() &&
      absl::EqualsIgnoreCase(View(address.substr(0, kIPv6Tag.size())),
                             View(kIPv6Tag))) {
    address = address.substr(kIPv6Tag.size());
  }
  return address;
}

// Writes 0 to 255 in decimal, returns the end.
char* PutByte(uint8_t byte, char* p) {
  if (byte >= 100) *p++ = static_cast<char>('0' + byte / 100);
  if (byte >= 10) *p++ = static_cast<char>('0' + byte / 10 % 10);
  *p++ = static_cast<char>('0' + byte % 10);
  return p;
}

void AppendReversedIPv4(const uint8_t* bytes, std::string& out) {
  char buffer[16];
  char* p = buffer;
  for (int i = 3; i >= 0; --i) {
    p = PutByte(bytes[i], p);
    if (i > 0) *p++ = '.';
  }
  out.append(buffer, p - buffer);
}

void AppendReversedIPv6(const uint8_t* bytes, std::string& out) {
  constexpr char kHex[] = "0123456789abcdef";
  char buffer[64];
  char* p = buffer;
  for (int i = 15; i >= 0; --i) {
    *p++ = kHex[bytes[i] & 0xf];
    *p++ = '.';
    *p++ = kHex[bytes[i] >> 4];
    *p++ = '.';
  }
  out.append(buffer, p - buffer - 1);  // no trailing dot
}

// inet_pton wants a terminated string; addresses are short.
bool ParseAddress(int family, std::string_view text, void* out) {
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buffer)) return false;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  return inet_pton(family, buffer, out) == 1;
}

}  // namespace

absl::Status AppendReversedAddress(std::string_view client_address,
                                   std::string& out) {
  std::string_view address = StripMtaForm(client_address);
  uint8_t bytes[16];
  if (address.find(':') == std::string_view::npos) {
    if (!ParseAddress(AF_INET, address, bytes)) {
      return BadAddress(client_address);
    }
    AppendReversedIPv4(bytes, out);
    return absl::OkStatus();
  }
  if (!ParseAddress(AF_INET6, address, bytes)) {
    return BadAddress(client_address);
  }
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0,    0,
                                                0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes, kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
    AppendReversedIPv4(bytes + 12, out);
  } else {
    AppendReversedIPv6(bytes, out);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReversedAddress(std::string_view client_address) {
  std::string out;
  absl::Status status = AppendReversedAddress(client_address, out);
  if (!status.ok()) return status;
  return out;
}

std::string FormatIPv4(uint32_t address) {
  return absl::StrCat(address >> 24, ".", (address >> 16) & 0xff, ".",
                      (address >> 8) & 0xff, ".", address & 0xff);
}

absl::StatusOr<IPv4Range> ParseIPv4Range(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad IPv4 address or prefix \"", View(text), "\": ", View(why)));
  };
  std::string_view address = text;
  int length = 32;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 2 ||
        !absl::SimpleAtoi(View(digits), &length) || length < 0 || length > 32 ||
        !absl::ascii_isdigit(digits.front())) {
      return bad("the prefix length must be 0 to 32");
    }
  }
  in_addr parsed;
  if (!ParseAddress(AF_INET, address, &parsed)) {
    return bad("not an IPv4 address");
  }
  IPv4Range range;
  range.mask = length == 0 ? 0 : ~uint32_t{0} << (32 - length);
  uint32_t host_order = ntohl(parsed.s_addr);
  if ((host_order & ~range.mask) != 0) {
    return bad("bits are set past the prefix length");
  }
  range.network = host_order;
  return range;
}

}  // namespace milter::manager::dns
