// Helpers for the codec's tests (testonly): hand-built packets, whole-stream
// decoding with arbitrary splits, and owned snapshots of decoded messages.

#ifndef MILTER_CODEC_TEST_UTIL_H_
#define MILTER_CODEC_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"

namespace milter::codec::testing {

// A packet built by hand, independent of the encoder: 4-byte big-endian
// length (code + payload), code, payload.
inline std::string Packet(char code, std::string_view payload) {
  uint32_t length = static_cast<uint32_t>(payload.size() + 1);
  std::string out;
  out.push_back(static_cast<char>(length >> 24));
  out.push_back(static_cast<char>(length >> 16));
  out.push_back(static_cast<char>(length >> 8));
  out.push_back(static_cast<char>(length));
  out.push_back(code);
  out.append(payload);
  return out;
}

inline std::string Be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

// Result of decoding a whole stream: every message re-encoded right away (so
// the snapshot owns its bytes), plus the final status.
struct StreamResult {
  std::vector<std::string> packets;
  absl::Status status;
  size_t pending = 0;  // bytes left undecoded at the end
};

// Feeds `stream` to a fresh decoder in pieces whose sizes `sizes` gives
// (cycled; 0 means "everything left"), draining after each piece.
template <typename Message>
StreamResult DecodeStream(std::string_view stream,
                          const std::vector<size_t>& sizes,
                          size_t max_payload = kDefaultMaxPayload) {
  Decoder<Message> decoder(max_payload);
  StreamResult result;
  size_t pos = 0;
  size_t i = 0;
  // Each piece is copied into its own buffer, which is destroyed once the
  // decoder asked for more bytes: this checks the documented lifetime rule.
  while (pos < stream.size() || pos == 0) {
    size_t n = sizes.empty() ? 0 : sizes[i++ % sizes.size()];
    if (n == 0 || n > stream.size() - pos) n = stream.size() - pos;
    std::string piece(stream.substr(pos, n));
    pos += n;
    decoder.Feed(piece);
    while (true) {
      auto next = decoder.Next();
      if (!next.ok()) {
        result.status = next.status();
        return result;
      }
      if (!next->has_value()) break;
      std::string encoded = Encode(**next);  // Command or Response
      result.packets.push_back(std::move(encoded));
    }
    piece.assign(piece.size(), '\xAA');  // the decoder must not read it again
    if (stream.empty()) break;
  }
  result.pending = decoder.pending_bytes();
  return result;
}

}  // namespace milter::codec::testing

#endif  // MILTER_CODEC_TEST_UTIL_H_
