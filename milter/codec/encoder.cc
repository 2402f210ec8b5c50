// Encoders: typed commands and responses to byte-exact packets.

#include "milter/codec/encoder.h"

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "milter/codec/byte_order.h"

namespace milter::codec {
namespace {

// Writes one packet: reserves the length prefix, lets `body` append the
// payload, then patches the length in.
template <typename Body>
void WritePacket(char code, std::string* out, Body&& body) {
  size_t start = out->size();
  out->append(kLengthBytes, '\0');
  out->push_back(code);
  body();
  size_t total = out->size() - start - kLengthBytes;
  if (total > std::numeric_limits<uint32_t>::max()) {
    // The length prefix cannot say it: never send a truncated length.
    out->resize(start);
    throw std::length_error(absl::StrCat(
        "milter packet of ", total, " bytes does not fit a length prefix"));
  }
  uint32_t length = static_cast<uint32_t>(total);
  std::string prefix;
  AppendBigEndian32(length, &prefix);
  out->replace(start, kLengthBytes, prefix);
}

void AppendCString(std::string_view s, std::string* out) {
  out->append(s.data(), s.size());
  out->push_back('\0');
}

void AppendRaw(std::string_view s, std::string* out) {
  out->append(s.data(), s.size());
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

void EncodeRaw(char code, std::string_view payload, std::string* out) {
  WritePacket(code, out, [&] { AppendRaw(payload, out); });
}

void EncodeCommand(const Command& command, std::string* out) {
  char code = static_cast<char>(CodeOf(command));
  WritePacket(code, out, [&] {
    std::visit(Overloaded{
                   [&](const OptionNegotiation& o) {
                     AppendBigEndian32(o.version, out);
                     AppendBigEndian32(o.actions, out);
                     AppendBigEndian32(o.protocol, out);
                   },
                   [&](const DefineMacros& d) {
                     // An empty 'D' (no code, no pairs) stays empty.
                     if (d.command_code != 0 || !d.pairs.empty()) {
                       out->push_back(d.command_code);
                     }
                     AppendRaw(d.pairs.raw(), out);
                   },
                   [&](const Connect& c) {
                     AppendCString(c.hostname, out);
                     out->push_back(static_cast<char>(c.family));
                     if (c.family != Family::kUnknown) {
                       AppendBigEndian16(c.port, out);
                       AppendCString(c.address, out);
                     }
                   },
                   [&](const Helo& h) { AppendCString(h.name, out); },
                   [&](const Mail& m) { AppendRaw(m.args.raw(), out); },
                   [&](const Rcpt& r) { AppendRaw(r.args.raw(), out); },
                   [&](const Header& h) {
                     AppendCString(h.name, out);
                     AppendCString(h.value, out);
                   },
                   [&](const BodyChunk& b) { AppendRaw(b.data, out); },
                   [&](const EndOfMessage& e) { AppendRaw(e.data, out); },
                   [&](const Unknown& u) { AppendCString(u.command, out); },
                   [&](const auto&) {},  // Data, EndOfHeaders, Abort, Quit, K
               },
               command);
  });
}

void EncodeResponse(const Response& response, std::string* out) {
  char code = static_cast<char>(CodeOf(response));
  WritePacket(code, out, [&] {
    std::visit(
        Overloaded{
            [&](const OptionNegotiationReply& o) {
              AppendBigEndian32(o.version, out);
              AppendBigEndian32(o.actions, out);
              AppendBigEndian32(o.protocol, out);
              for (int stage = 0; stage < kNumMacroStages; ++stage) {
                if (!o.symbol_lists[stage]) continue;
                AppendBigEndian32(stage, out);
                AppendCString(*o.symbol_lists[stage], out);
              }
            },
            [&](const ReplyCode& y) { AppendCString(y.text, out); },
            [&](const Quarantine& q) { AppendCString(q.reason, out); },
            [&](const AddHeader& h) {
              AppendCString(h.name, out);
              AppendCString(h.value, out);
            },
            [&](const InsertHeader& h) {
              AppendBigEndian32(h.index, out);
              AppendCString(h.name, out);
              AppendCString(h.value, out);
            },
            [&](const ChangeHeader& h) {
              AppendBigEndian32(h.index, out);
              AppendCString(h.name, out);
              AppendCString(h.value, out);
            },
            [&](const ChangeFrom& e) {
              AppendCString(e.address, out);
              if (e.args) AppendCString(*e.args, out);
            },
            [&](const AddRecipient& a) { AppendCString(a.address, out); },
            [&](const AddRecipientWithArgs& a) {
              AppendCString(a.address, out);
              AppendCString(a.args, out);
            },
            [&](const DeleteRecipient& d) { AppendCString(d.address, out); },
            [&](const ReplaceBody& b) { AppendRaw(b.data, out); },
            [&](const auto&) {},  // the one-byte verdicts
        },
        response);
  });
}

namespace {

// Refuses (removing it again) the packet appended at `start` if its payload
// exceeds `max_payload`.
absl::Status CheckAppended(size_t start, size_t max_payload, std::string* out) {
  size_t payload = out->size() - start - kLengthBytes - 1;
  if (payload <= max_payload) return absl::OkStatus();
  char code = (*out)[start + kLengthBytes];
  out->resize(start);
  return absl::OutOfRangeError(absl::StrCat(
      "a '", std::string(1, code), "' packet with a payload of ", payload,
      " bytes exceeds the negotiated maximum of ", max_payload));
}

}  // namespace

absl::Status EncodeCommandWithin(const Command& command, size_t max_payload,
                                 std::string* out) {
  size_t start = out->size();
  EncodeCommand(command, out);
  return CheckAppended(start, max_payload, out);
}

absl::Status EncodeResponseWithin(const Response& response, size_t max_payload,
                                  std::string* out) {
  size_t start = out->size();
  EncodeResponse(response, out);
  return CheckAppended(start, max_payload, out);
}

std::string Encode(const Command& command) {
  std::string out;
  EncodeCommand(command, &out);
  return out;
}

std::string Encode(const Response& response) {
  std::string out;
  EncodeResponse(response, &out);
  return out;
}

void AppendMacroPair(std::string_view name, std::string_view value,
                     std::string* pairs) {
  AppendCString(name, pairs);
  AppendCString(value, pairs);
}

void AppendString(std::string_view s, std::string* list) {
  AppendCString(s, list);
}

}  // namespace milter::codec
