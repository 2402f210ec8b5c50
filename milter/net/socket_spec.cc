#include "milter/net/socket_spec.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "asio/ip/address.hpp"

namespace milter::net {
namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

absl::Status Bad(std::string_view spec, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("socket spec \"", Absl(spec), "\": ", Absl(why)));
}

bool ParsePort(std::string_view text, uint16_t* port) {
  uint32_t value;
  if (text.empty() || !absl::SimpleAtoi(Absl(text), &value) || value > 65535) {
    return false;
  }
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  *port = static_cast<uint16_t>(value);
  return true;
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
      bool literal =
          host.find(':') != std::string::npos ||
          (kind == Kind::kInet && !host.empty() &&
           host.find_first_not_of("0123456789.") == std::string::npos);
      if (literal) return absl::StrCat(out, "@[", host, "]");
      return absl::StrCat(out, "@", host);
    }
  }
  return "";
}

absl::StatusOr<SocketSpec> ParseSocketSpec(std::string_view spec) {
  SocketSpec out;
  if (spec.empty()) return Bad(spec, "empty");
  if (spec.front() == '/') {
    out.path = std::string(spec);
    return out;
  }
  size_t colon = spec.find(':');
  if (colon == std::string_view::npos) {
    return Bad(spec, "expected unix:PATH, inet:PORT[@HOST] or inet6:...");
  }
  std::string_view scheme = spec.substr(0, colon);
  std::string_view rest = spec.substr(colon + 1);
  if (scheme == "unix" || scheme == "local") {
    if (rest.empty()) return Bad(spec, "missing socket path");
    if (rest.size() >= 108) return Bad(spec, "socket path is too long");
    out.path = std::string(rest);
    return out;
  }
  if (scheme == "inet") {
    out.kind = SocketSpec::Kind::kInet;
  } else if (scheme == "inet6") {
    out.kind = SocketSpec::Kind::kInet6;
  } else {
    return Bad(spec, absl::StrCat("unknown type \"", Absl(scheme),
                                  "\" (unix, local, inet, inet6)"));
  }
  std::string_view port_text = rest;
  std::string_view host;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    port_text = rest.substr(0, at);
    host = rest.substr(at + 1);
    if (host.empty()) return Bad(spec, "missing host after '@'");
  } else if (size_t last = rest.rfind(':');
             last != std::string_view::npos &&
             out.kind == SocketSpec::Kind::kInet) {
    // Postfix's inet:HOST:PORT.
    host = rest.substr(0, last);
    port_text = rest.substr(last + 1);
  }
  if (!ParsePort(port_text, &out.port)) {
    return Bad(spec, absl::StrCat("port \"", Absl(port_text),
                                  "\" is not a number in 0..65535"));
  }
  if (!host.empty() && host.front() == '[') {
    if (host.back() != ']') return Bad(spec, "unterminated '[' in host");
    host = host.substr(1, host.size() - 2);
    asio::error_code ec;
    asio::ip::make_address(std::string(host), ec);
    if (ec)
      return Bad(spec,
                 absl::StrCat("\"", Absl(host), "\" is not an IP address"));
  }
  out.host = std::string(host);
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
