// libFuzzer target for the milter decoders. Built outside Bazel by
// tests/fuzz/run_fuzzer.sh (clang, -fsanitize=fuzzer,address,undefined).
//
// Input layout: byte 0 picks the maximum payload, byte 1 the feed pattern
// (0: whole; otherwise pieces of varying sizes derived from it), the rest is
// the byte stream. The stream is decoded as MTA commands and as filter
// responses. Properties checked (abort on violation):
//   - decoding whole and decoding in pieces give the same messages and the
//     same final error kind;
//   - every decoded message survives encode -> decode unchanged, and
//     re-encoding is stable;
//   - the decoder never buffers more than it was given, nor more than one
//     maximal packet plus the current piece;
//   - helpers fed decoded data (macros, reply parsing) do not crash.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"
#include "milter/codec/macros.h"
#include "milter/codec/negotiation.h"
#include "milter/codec/reply.h"

namespace milter::codec {
namespace {

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                  \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

struct Outcome {
  std::vector<std::string> packets;  // each message re-encoded
  DecodeError error = DecodeError::kNone;
  bool failed = false;
};

template <typename Message>
void CheckRoundTrip(const Message& m, const std::string& encoded) {
  Decoder<Message> again(kMaxPayload1M);
  again.Feed(encoded);
  auto next = again.Next();
  CHECK(next.ok());
  CHECK(next->has_value());
  CHECK(**next == m);
  std::string encoded_again;
  if constexpr (std::is_same_v<Message, Command>) {
    EncodeCommand(**next, &encoded_again);
  } else {
    EncodeResponse(**next, &encoded_again);
  }
  CHECK(encoded_again == encoded);
  auto end = again.Next();
  CHECK(end.ok() && !end->has_value());
  CHECK(again.pending_bytes() == 0);
}

void Exercise(const Command& c) {
  if (auto* d = std::get_if<DefineMacros>(&c)) {
    MacroMap macros;
    int stage = MacroStageForCommand(d->command_code);
    if (stage >= 0) {
      macros.SetStage(static_cast<MacroStage>(stage), d->pairs);
      for (const auto& [name, value] :
           macros.stage(static_cast<MacroStage>(stage))) {
        CHECK(macros.Get(name).has_value());
      }
      macros.ClearAbove(static_cast<MacroStage>(stage));
    }
  } else if (auto* o = std::get_if<OptionNegotiation>(&c)) {
    auto n = NegotiateAsFilter(
        *o, FilterRequest{6, action::kAddHeaders, protocol::kNoUnknown});
    if (n.ok())
      CHECK(AcceptFilterReply(*o, MakeReply(*n)).ok() ||
            o->version < kMinVersion || o->actions == 0 || o->protocol == 0);
    (void)ProtocolFlagsToString(o->protocol);
    (void)ActionFlagsToString(o->actions);
  }
}

void Exercise(const Response& r) {
  if (auto* y = std::get_if<ReplyCode>(&r)) {
    auto parsed = ParseReply(y->text);
    if (parsed.ok()) {
      CHECK(parsed->code.size() == 3);
      CHECK(!parsed->lines.empty());
    }
  }
}

template <typename Message>
Outcome Decode(std::string_view stream, size_t max_payload, uint8_t pattern) {
  Outcome out;
  Decoder<Message> decoder(max_payload);
  size_t pos = 0;
  size_t piece_index = 0;
  size_t fed = 0;
  while (true) {
    size_t n = stream.size() - pos;
    if (pattern != 0) {
      // Sizes cycle through 1, pattern, pattern*7, ... bounded by the rest.
      size_t sizes[4] = {1, pattern, size_t{pattern} * 7 % 4099 + 1,
                         size_t{pattern} * 131 % 70001 + 1};
      n = std::min(n, sizes[piece_index++ % 4]);
    }
    // Each piece lives in its own allocation, freed once the decoder has
    // asked for more: ASan catches any view kept past the documented rule.
    auto piece = std::make_unique<std::string>(stream.substr(pos, n));
    pos += n;
    fed += n;
    decoder.Feed(*piece);
    while (true) {
      auto next = decoder.Next();
      if (!next.ok()) {
        out.failed = true;
        out.error = DecodeErrorOf(next.status());
        CHECK(out.error != DecodeError::kNone);
        // Stays failed, also when fed again (the pieces are freed in
        // between: a failed decoder must keep no view of them).
        auto again = decoder.Next();
        CHECK(!again.ok());
        piece.reset();
        auto more = std::make_unique<std::string>(stream.substr(pos));
        decoder.Feed(*more);
        more.reset();
        std::string last = "\0\0\0\x01T";
        decoder.Feed(last);
        auto still = decoder.Next();
        CHECK(!still.ok());
        CHECK(DecodeErrorOf(still.status()) == out.error);
        return out;
      }
      if (!next->has_value()) break;
      std::string encoded = Encode(**next);  // Command or Response
      CHECK(encoded.size() >= 5);
      CheckRoundTrip<Message>(**next, encoded);
      Exercise(**next);
      out.packets.push_back(std::move(encoded));
    }
    CHECK(decoder.pending_bytes() <= fed);
    CHECK(decoder.pending_bytes() <= max_payload + 5 + n);
    if (pos >= stream.size()) break;
  }
  decoder.ReleaseMemoryIfIdle();
  return out;
}

template <typename Message>
void Differential(std::string_view stream, size_t max_payload,
                  uint8_t pattern) {
  Outcome whole = Decode<Message>(stream, max_payload, 0);
  Outcome split = Decode<Message>(stream, max_payload, pattern);
  CHECK(whole.failed == split.failed);
  CHECK(whole.error == split.error);
  CHECK(whole.packets == split.packets);
}

}  // namespace
}  // namespace milter::codec

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace milter::codec;
  if (size < 2) return 0;
  static constexpr size_t kMaxPayloads[] = {kDefaultMaxPayload, kMaxPayload256K,
                                            kMaxPayload1M, 64, 0};
  size_t max_payload = kMaxPayloads[data[0] % 5];
  uint8_t pattern = data[1];
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  Differential<Command>(stream, max_payload, pattern == 0 ? 1 : pattern);
  Differential<Response>(stream, max_payload, pattern == 0 ? 1 : pattern);
  return 0;
}
