// Parses and resolves milter socket specs (see socket_spec.h). Every form is
// checked completely here, so that no caller meets a spec that a socket call
// would refuse later with an exception (a Unix path longer than sun_path) or
// that means something else than it says (trailing junk, a NUL byte).

#include "milter/net/socket_spec.h"

#include <sys/un.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "asio/ip/address.hpp"

namespace milter::net {
namespace {

static_assert(kMaxUnixPathLength + 1 == sizeof(sockaddr_un{}.sun_path));

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

// The spec, quoted and escaped so that the message stays on one line.
std::string Quoted(std::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(Absl(text)), "\"");
}

absl::Status Bad(std::string_view spec, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("socket spec ", Quoted(spec), ": ", Absl(why)));
}

bool ParsePort(std::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  uint32_t value;
  if (!absl::SimpleAtoi(Absl(text), &value) || value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

// A Unix socket path: not empty, fits sockaddr_un's sun_path with its
// terminating NUL, and names a file rather than a directory.
absl::Status CheckUnixPath(std::string_view spec, std::string_view path) {
  if (path.empty()) return Bad(spec, "missing socket path");
  if (path.size() > kMaxUnixPathLength) {
    return Bad(spec,
               absl::StrCat("socket path is ", path.size(),
                            " bytes long; the limit is ", kMaxUnixPathLength));
  }
  if (path.back() == '/') return Bad(spec, "socket path ends with '/'");
  return absl::OkStatus();
}

// A host name as DNS allows it: letters, digits, '-', '_' and dots between
// non-empty labels.
bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    if (c == '.') {
      if (label == 0 && i + 1 != host.size()) return false;
      label = 0;
      continue;
    }
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_') {
      return false;
    }
    if (++label > 63) return false;
  }
  return host.front() != '-' && host.front() != '.';
}

// Checks `host` (brackets already removed if `bracketed`) for `kind`.
absl::Status CheckHost(std::string_view spec, SocketSpec::Kind kind,
                       std::string_view host, bool bracketed) {
  bool v6 = kind == SocketSpec::Kind::kInet6;
  if (host.empty()) {
    return Bad(spec, bracketed ? "empty address in [ ]" : "empty host");
  }
  asio::error_code ec;
  asio::ip::address address = asio::ip::make_address(std::string(host), ec);
  if (ec) {
    if (bracketed || host.find(':') != std::string_view::npos) {
      return Bad(spec, absl::StrCat(Quoted(host), " is not an IP",
                                    v6 ? "v6" : "v4", " address"));
    }
    if (!IsHostName(host)) {
      return Bad(spec, absl::StrCat(Quoted(host),
                                    " is neither a host name nor an address"));
    }
    return absl::OkStatus();
  }
  if (address.is_v6() && !v6) {
    return Bad(spec, absl::StrCat(Quoted(host),
                                  " is an IPv6 address: use inet6:PORT@[",
                                  Absl(host), "]"));
  }
  if (address.is_v4() && v6) {
    return Bad(spec,
               absl::StrCat(Quoted(host), " is an IPv4 address: use inet:PORT@",
                            Absl(host)));
  }
  return absl::OkStatus();
}

// Splits HOST, "[ADDR]", "[ADDR]junk" into the host and what follows it.
absl::Status SplitBracketed(std::string_view spec, std::string_view text,
                            std::string_view* host, std::string_view* after,
                            bool* bracketed) {
  *bracketed = !text.empty() && text.front() == '[';
  if (!*bracketed) {
    *host = text;
    *after = {};
    return absl::OkStatus();
  }
  size_t close = text.find(']');
  if (close == std::string_view::npos) {
    return Bad(spec, "unterminated '[' in host");
  }
  *host = text.substr(1, close - 1);
  *after = text.substr(close + 1);
  return absl::OkStatus();
}

// The part after "inet:" or "inet6:": PORT, PORT@HOST, PORT@[ADDR], and
// Postfix's HOST:PORT and [ADDR]:PORT.
absl::Status ParseInetRest(std::string_view spec, std::string_view rest,
                           SocketSpec* out) {
  if (rest.empty()) return Bad(spec, "missing port");
  std::string_view port_text = rest;
  std::string_view host, after;
  bool bracketed = false, has_host = false;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    port_text = rest.substr(0, at);
    has_host = true;
    if (rest.size() == at + 1) return Bad(spec, "missing host after '@'");
    if (absl::Status s = SplitBracketed(spec, rest.substr(at + 1), &host,
                                        &after, &bracketed);
        !s.ok()) {
      return s;
    }
    if (!after.empty()) {
      return Bad(spec, absl::StrCat("unexpected ", Quoted(after),
                                    " after the address"));
    }
  } else if (rest.front() == '[') {
    has_host = true;
    if (absl::Status s = SplitBracketed(spec, rest, &host, &after, &bracketed);
        !s.ok()) {
      return s;
    }
    if (after.empty() || after.front() != ':') {
      return Bad(spec, "expected [ADDR]:PORT");
    }
    port_text = after.substr(1);
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    if (out->kind == SocketSpec::Kind::kInet6) {
      return Bad(spec, "an IPv6 address goes in brackets: inet6:PORT@[ADDR]");
    }
    has_host = true;
    host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
  }
  if (!ParsePort(port_text, &out->port)) {
    return Bad(spec, absl::StrCat("port ", Quoted(port_text),
                                  " is not a number in 0..65535"));
  }
  if (has_host) {
    if (absl::Status s = CheckHost(spec, out->kind, host, bracketed); !s.ok()) {
      return s;
    }
  }
  out->host = std::string(host);
  return absl::OkStatus();
}

}  // namespace

std::string SocketSpec::ToString() const {
  switch (kind) {
    case Kind::kUnix:
      return absl::StrCat("unix:", path);
    case Kind::kInet:
    case Kind::kInet6: {
      std::string out =
          absl::StrCat(kind == Kind::kInet ? "inet:" : "inet6:", port);
      if (host.empty()) return out;
      asio::error_code ec;
      asio::ip::make_address(host, ec);
      if (!ec) return absl::StrCat(out, "@[", host, "]");
      return absl::StrCat(out, "@", host);
    }
  }
  return "";
}

absl::StatusOr<SocketSpec> ParseSocketSpec(std::string_view spec) {
  SocketSpec out;
  if (spec.empty()) return Bad(spec, "empty");
  for (char c : spec) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return Bad(spec, c == '\0' ? "contains a NUL byte"
                                 : "contains a control character");
    }
  }
  if (spec.front() == '/') {
    if (absl::Status s = CheckUnixPath(spec, spec); !s.ok()) return s;
    out.path = std::string(spec);
    return out;
  }
  size_t colon = spec.find(':');
  if (colon == std::string_view::npos) {
    return Bad(spec,
               "expected /PATH, unix:PATH, inet:PORT[@HOST] or "
               "inet6:PORT[@HOST]");
  }
  std::string_view scheme = spec.substr(0, colon);
  std::string_view rest = spec.substr(colon + 1);
  if (scheme == "unix" || scheme == "local") {
    if (absl::Status s = CheckUnixPath(spec, rest); !s.ok()) return s;
    out.path = std::string(rest);
    return out;
  }
  if (scheme == "inet") {
    out.kind = SocketSpec::Kind::kInet;
  } else if (scheme == "inet6") {
    out.kind = SocketSpec::Kind::kInet6;
  } else {
    return Bad(spec, absl::StrCat("unknown type ", Quoted(scheme),
                                  " (unix, local, inet, inet6)"));
  }
  if (absl::Status s = ParseInetRest(spec, rest, &out); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<asio::ip::tcp::endpoint>> ResolveTcp(
    const SocketSpec& spec, bool for_listening) {
  if (spec.kind == SocketSpec::Kind::kUnix) {
    return absl::InvalidArgumentError("ResolveTcp on a unix socket spec");
  }
  if (spec.port == 0 && !for_listening) {
    return absl::InvalidArgumentError(absl::StrCat(
        "socket spec \"", spec.ToString(),
        "\": port 0 only means \"any free port\" for listening; connecting "
        "needs a port in 1..65535"));
  }
  bool v6 = spec.kind == SocketSpec::Kind::kInet6;
  std::vector<asio::ip::tcp::endpoint> out;
  if (spec.host.empty()) {
    asio::ip::address address;
    if (for_listening) {
      address = v6 ? asio::ip::address(asio::ip::address_v6::any())
                   : asio::ip::address(asio::ip::address_v4::any());
    } else {
      address = v6 ? asio::ip::address(asio::ip::address_v6::loopback())
                   : asio::ip::address(asio::ip::address_v4::loopback());
    }
    out.emplace_back(address, spec.port);
    return out;
  }
  asio::error_code ec;
  asio::ip::address literal = asio::ip::make_address(spec.host, ec);
  if (!ec) {
    out.emplace_back(literal, spec.port);
    return out;
  }
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  auto results =
      resolver.resolve(v6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(),
                       spec.host, std::to_string(spec.port), ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve \"", spec.host, "\": ", ec.message()));
  }
  for (const auto& entry : results) out.push_back(entry.endpoint());
  if (out.empty()) {
    return absl::UnavailableError(
        absl::StrCat("\"", spec.host, "\" has no address"));
  }
  return out;
}

}  // namespace milter::net
