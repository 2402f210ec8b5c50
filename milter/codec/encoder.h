// Milter encoders: typed messages to byte-exact packets (length prefix, code
// byte, payload). Pure and I/O-free; appends to a caller-owned string so that
// one buffer can collect several packets for a single write.
//
// The plain encoders write any size the 32-bit length prefix can carry and
// throw std::length_error (appending nothing) beyond it, rather than send a
// truncated length. A session sending to a peer must keep to the negotiated
// maximum: use the *Within encoders, which refuse a larger packet.

#ifndef MILTER_CODEC_ENCODER_H_
#define MILTER_CODEC_ENCODER_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "milter/codec/message.h"

namespace milter::codec {

// Appends the packet for `command` (MTA -> filter) to `*out`.
void EncodeCommand(const Command& command, std::string* out);

// Appends the packet for `response` (filter -> MTA) to `*out`.
void EncodeResponse(const Response& response, std::string* out);

// Like the above, but a packet whose payload exceeds `max_payload` is not
// appended: OUT_OF_RANGE naming the packet and both sizes.
absl::Status EncodeCommandWithin(const Command& command, size_t max_payload,
                                 std::string* out);
absl::Status EncodeResponseWithin(const Response& response, size_t max_payload,
                                  std::string* out);

// Appends a packet with an arbitrary code and payload; for tests and tools
// that must produce what the typed encoders refuse to.
void EncodeRaw(char code, std::string_view payload, std::string* out);

// Convenience: one packet as a new string.
std::string Encode(const Command& command);
std::string Encode(const Response& response);

// Builds the `pairs` bytes of a DefineMacros ("name\0value\0..."), for
// callers that hold macros as separate strings.
void AppendMacroPair(std::string_view name, std::string_view value,
                     std::string* pairs);

// Builds the `args` bytes of Mail/Rcpt ("<a@b>\0SIZE=10\0").
void AppendString(std::string_view s, std::string* list);

}  // namespace milter::codec

#endif  // MILTER_CODEC_ENCODER_H_
