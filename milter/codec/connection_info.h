// The SMTP client's connection as the connect stage describes it, owned: what
// a filter reads in its connect callback and what an MTA-side session sends.
// codec::Connect is the same information as a borrowed wire form.
//
// ESMTP arguments of MAIL FROM and RCPT TO ("SIZE=100", "NOTIFY=NEVER"), as
// both sides pass them: EsmtpArgs, a view of the strings after the address.

#ifndef MILTER_CODEC_CONNECTION_INFO_H_
#define MILTER_CODEC_CONNECTION_INFO_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/types/span.h"
#include "milter/codec/message.h"
#include "milter/codec/protocol.h"

namespace milter::codec {

struct ConnectionInfo {
  std::string hostname;  // reverse DNS name, or "[192.0.2.1]" without one
  Family family = Family::kUnknown;
  uint16_t port = 0;    // host byte order; 0 for unix and unknown
  std::string address;  // "192.0.2.1", "IPv6:2001:db8::1" (Sendmail), a path

  // The wire form, borrowing this object's strings.
  Connect ToConnect() const { return Connect{hostname, family, port, address}; }
  // An owned copy of a decoded connect packet.
  static ConnectionInfo From(const Connect& c) {
    return ConnectionInfo{std::string(c.hostname), c.family, c.port,
                          std::string(c.address)};
  }
  friend bool operator==(const ConnectionInfo&,
                         const ConnectionInfo&) = default;
};

// Arguments after the address of MAIL FROM / RCPT TO ("SIZE=100").
using EsmtpArgs = absl::Span<const std::string_view>;

}  // namespace milter::codec

#endif  // MILTER_CODEC_CONNECTION_INFO_H_
