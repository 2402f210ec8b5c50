// Incremental milter decoders: feed any split of the byte stream, get complete
// typed messages or a precise error. Pure and I/O-free.
//
//   CommandDecoder decoder;            // filter side: reads MTA commands
//   decoder.Feed(bytes_from_socket);
//   while (true) {
//     absl::StatusOr<std::optional<Command>> next = decoder.Next();
//     if (!next.ok()) { /* protocol error: close the session */ }
//     if (!next->has_value()) break;   // need more bytes
//     Handle(**next);
//   }
//
// Lifetimes: the bytes passed to Feed() must stay valid until Next() returns
// std::nullopt or an error (complete packets are parsed in place, without a
// copy; only an incomplete tail is copied). A returned message's views are
// valid until the next call to Feed() or Next().
//
// Limits: a length prefix of 0, or a payload above max_payload() (65535 by
// default; raise it only after negotiating a larger size), is an error. The
// decoder never allocates what a peer merely claims: it buffers at most the
// bytes it was actually given of one packet, which is at most
// max_payload() + 5. After an error the decoder stays failed.

#ifndef MILTER_CODEC_DECODER_H_
#define MILTER_CODEC_DECODER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "milter/codec/message.h"
#include "milter/codec/protocol.h"

namespace milter::codec {

// Why a packet was refused. Every decode error Status carries one; read it
// back with DecodeErrorOf().
enum class DecodeError {
  kNone = 0,
  // The length prefix was 0: a packet has at least its code byte.
  kZeroLength,
  // The payload is longer than the configured maximum.
  kTooLarge,
  // The code byte names no command (or response) of this direction.
  kUnknownCode,
  // The payload ends before a fixed-size field (a flag word, a port).
  kTruncated,
  // A string field is not NUL-terminated within the payload.
  kMissingNul,
  // The connect family byte is not one of 'U', 'L', '4', '6'.
  kBadFamily,
  // Bytes follow the last field of a packet with a fixed layout.
  kTrailingBytes,
  // A symbol list in the filter's 'O' reply names a macro stage outside
  // 0..6. ('D' packets may name any command: Postfix sends them before
  // headers and body chunks too.)
  kBadStage,
};

const char* DecodeErrorName(DecodeError error);

// The DecodeError carried by a Status from this codec (kNone for OK or for a
// status from elsewhere).
DecodeError DecodeErrorOf(const absl::Status& status);

// Parses one packet's payload (the bytes after the code byte). Exposed for
// tests and tools; the decoders below use these.
absl::StatusOr<Command> ParseCommand(char code, std::string_view payload);
absl::StatusOr<Response> ParseResponse(char code, std::string_view payload);

// Splits a byte stream into packets and parses them as `Message` (Command for
// the filter side, Response for the MTA side).
template <typename Message>
class Decoder {
 public:
  explicit Decoder(size_t max_payload = kDefaultMaxPayload)
      : max_payload_(max_payload) {}

  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  Decoder(Decoder&&) = default;
  Decoder& operator=(Decoder&&) = default;

  // Largest payload accepted; applies from the next packet header on.
  size_t max_payload() const { return max_payload_; }
  void set_max_payload(size_t max_payload) { max_payload_ = max_payload; }

  // Adds bytes to decode. See the lifetime rule at the top of this file.
  void Feed(std::string_view bytes);

  // The next complete message, std::nullopt if more bytes are needed, or the
  // error that makes the stream unusable.
  absl::StatusOr<std::optional<Message>> Next();

  // Bytes fed but not yet returned as messages (0 when idle between packets).
  size_t pending_bytes() const {
    return buffer_.size() - buffer_pos_ + input_.size();
  }

  // Frees the internal buffer if it holds nothing; for idle connections.
  void ReleaseMemoryIfIdle();

 private:
  // Validates a 4-byte length prefix; returns the payload size or an error.
  absl::StatusOr<size_t> ReadLength(const char* prefix);
  // Moves up to `want` bytes from input_ to buffer_; returns bytes moved.
  size_t Take(size_t want);
  absl::StatusOr<std::optional<Message>> Fail(absl::Status status);

  size_t max_payload_;
  std::string buffer_;      // owned bytes of an incomplete packet
  size_t buffer_pos_ = 0;   // consumed prefix of buffer_
  std::string_view input_;  // borrowed bytes from Feed()
  absl::Status error_;
};

using CommandDecoder = Decoder<Command>;
using ResponseDecoder = Decoder<Response>;

extern template class Decoder<Command>;
extern template class Decoder<Response>;

}  // namespace milter::codec

#endif  // MILTER_CODEC_DECODER_H_
