// The SMTP client's connection in /proc/net/tcp{,6}.

#include "manager/core/client_connection.h"

#include <cstdio>
#include <fstream>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "manager/conditions/network_set.h"

namespace milter::manager {
namespace {

constexpr int kEstablished = 0x01;

// The kernel's form of an address and port: the address as 32-bit words in
// host (little-endian) byte order, then ":PORT", all in upper-case hex.
std::string KernelForm(const conditions::IpAddress& a, uint16_t port, bool v6) {
  std::string out;
  int words = v6 ? 4 : 1;
  for (int w = 0; w < words; ++w) {
    const uint8_t* b = a.bytes.data() + 4 * w;
    char word[9];
    std::snprintf(word, sizeof word, "%02X%02X%02X%02X", b[3], b[2], b[1],
                  b[0]);
    out += word;
  }
  char p[6];
  std::snprintf(p, sizeof p, "%04X", port);
  return absl::StrCat(out, ":", p);
}

// The state of the socket whose remote end is `remote` in `table`; -1 if
// there is none.
int StateOf(const std::string& table, const std::string& remote) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // the heading
  int found = -1;
  while (std::getline(in, line)) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 4 || f[2] != remote) continue;
    int state = 0;
    if (!absl::SimpleHexAtoi(f[3], &state)) continue;
    if (state == kEstablished) return state;
    found = state;
  }
  return found;
}

}  // namespace

ClientConnection CheckClientConnection(const codec::ConnectionInfo& client,
                                       const std::string& proc_net) {
  bool v6 = client.family == codec::Family::kInet6;
  if ((client.family != codec::Family::kInet && !v6) || client.port == 0) {
    return ClientConnection::kUnknown;
  }
  std::optional<conditions::IpAddress> address =
      conditions::NetworkSet::ParseAddress(client.address);
  if (!address.has_value()) return ClientConnection::kUnknown;
  // An IPv4 client of an IPv6 listener is in tcp6 as ::ffff:a.b.c.d.
  int state = -1;
  if (address->family == conditions::IpAddress::Family::kIpv4) {
    state =
        StateOf(proc_net + "/tcp", KernelForm(*address, client.port, false));
    if (state < 0) {
      conditions::IpAddress mapped;
      mapped.family = conditions::IpAddress::Family::kIpv6;
      mapped.bytes[10] = mapped.bytes[11] = 0xff;
      for (int i = 0; i < 4; ++i) mapped.bytes[12 + i] = address->bytes[i];
      state =
          StateOf(proc_net + "/tcp6", KernelForm(mapped, client.port, true));
    }
  } else {
    state =
        StateOf(proc_net + "/tcp6", KernelForm(*address, client.port, true));
  }
  if (state < 0) return ClientConnection::kUnknown;
  return state == kEstablished ? ClientConnection::kConnected
                               : ClientConnection::kGone;
}

}  // namespace milter::manager
