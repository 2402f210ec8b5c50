// libFuzzer target for the filter-side session engine (milter::client::
// Engine): arbitrary bytes from an MTA, split at points the input chooses,
// decoded with the codec's CommandDecoder and handed to the engine on an
// in-process asio::io_context (no sockets; worker pool null, so synchronous
// callbacks run inline). The filter (fuzz_filter.h) is scripted by the input:
// verdicts, replies, progress, modifications, negotiation requests.
// Built by tests/fuzz/run_fuzzer.sh; //milter/client/fuzz:engine_fuzzer_smoke
// runs it over seeds without libFuzzer.
//
// Input: see tests/fuzz/fuzz_util.h. Header (8 bytes):
//   [0] bit0 coroutine filter, bit1 symbol lists, bit2 restrict actions to
//       [7] (bit7 of [0] adds setsymlist), bits4-5 split mode
//   [1..2] callbacks NOT asked for (9 bits), [3..6] protocol flags requested
// Properties checked (abort on violation), per command:
//   - every emitted packet decodes at the negotiated maximum payload;
//   - before negotiation only 'O' (answered by exactly one 'O' reply that the
//     MTA side accepts) and 'Q'; everything else is refused, silently;
//   - 'D', 'A', 'K', 'Q' and stages negotiated no-reply emit nothing;
//   - an answered stage gets progress packets (as many as the filter asked),
//     then exactly one final answer matching the filter's verdict and reply;
//     modifications only at end of message, only negotiated ones, exactly
//     those the filter made; 's' only for a body chunk with SKIP negotiated;
//   - the filter sees each command's data unchanged (fuzz_filter.cc), every
//     filter object gets one close, and the output stays within what the
//     filter asked for plus a constant per command.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "milter/client/engine.h"
#include "milter/client/fuzz/fuzz_filter.h"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"
#include "milter/codec/negotiation.h"
#include "milter/codec/reply.h"
#include "tests/fuzz/fuzz_util.h"

namespace milter::client::fuzz {
namespace {

namespace action = codec::action;
namespace protocol = codec::protocol;
using milter::fuzz::Choices;
using milter::fuzz::FuzzInput;

constexpr size_t kHeaderSize = 8;
// Output allowed per command on top of what the filter asked for.
constexpr size_t kSlackPerCommand = 64;

// What the engine emitted for one command.
struct Wire {
  int progress = 0;
  std::vector<ModRecord> mods;
  int finals = 0;  // verdict packets (or the 'O' reply)
  char final_code = 0;
  std::string reply;                                         // 'y' text
  std::optional<codec::OptionNegotiationReply> negotiation;  // lists dropped
  bool symbol_lists = false;
};

uint32_t ActionFor(char code) {
  switch (code) {
    case 'h':
    case 'i':
      return action::kAddHeaders;
    case 'm':
      return action::kChangeHeaders;
    case 'e':
      return action::kChangeFrom;
    case '+':
      return action::kAddRecipient;
    case '2':
      return action::kAddRecipientWithArgs;
    case '-':
      return action::kDeleteRecipient;
    case 'b':
      return action::kChangeBody;
    case 'q':
      return action::kQuarantine;
    default:
      return 0;
  }
}

void AddResponse(const codec::Response& r, uint32_t actions, Wire* w) {
  FUZZ_CHECK(w->finals == 0);  // nothing after the final answer
  char c = static_cast<char>(codec::CodeOf(r));
  if (c == 'p') {
    FUZZ_CHECK(w->mods.empty());
    ++w->progress;
  } else if (const auto* o = std::get_if<codec::OptionNegotiationReply>(&r)) {
    FUZZ_CHECK(w->progress == 0 && w->mods.empty());
    w->negotiation = *o;
    for (auto& list : w->negotiation->symbol_lists) {
      w->symbol_lists |= list.has_value();
      list.reset();
    }
    ++w->finals;
    w->final_code = c;
  } else if (const auto* y = std::get_if<codec::ReplyCode>(&r)) {
    FUZZ_CHECK(codec::ParseReply(y->text).ok());
    w->reply.assign(y->text);
    ++w->finals;
    w->final_code = c;
  } else if (uint32_t needed = ActionFor(c)) {
    FUZZ_CHECK((actions & needed) == needed);
    size_t bytes = 0;
    if (const auto* b = std::get_if<codec::ReplaceBody>(&r)) {
      FUZZ_CHECK(b->data.size() <= codec::kBodyChunkSize);
      bytes = b->data.size();
      if (!w->mods.empty() && w->mods.back().code == 'b') {
        w->mods.back().body_bytes += bytes;
        return;
      }
    }
    w->mods.push_back(ModRecord{c, bytes});
  } else {
    ++w->finals;
    w->final_code = c;
  }
}

Wire ParseWire(const std::string& out, size_t max_payload, uint32_t actions) {
  Wire w;
  codec::ResponseDecoder decoder(max_payload);
  decoder.Feed(out);
  while (true) {
    absl::StatusOr<std::optional<codec::Response>> next = decoder.Next();
    if (!next.ok()) {
      std::fprintf(stderr,
                   "engine emitted a bad packet (max payload %zu): %s\n"
                   "after %zu good bytes; the packet's code: '%c'\n",
                   max_payload, next.status().ToString().c_str(),
                   out.size() - decoder.pending_bytes(),
                   decoder.pending_bytes() > 4
                       ? out[out.size() - decoder.pending_bytes() + 4]
                       : '?');
      FUZZ_CHECK(next.ok());
    }
    if (!next->has_value()) break;
    AddResponse(**next, actions, &w);
  }
  FUZZ_CHECK(decoder.pending_bytes() == 0);
  return w;
}

uint32_t NoReplyFlag(char code) {
  switch (code) {
    case 'C':
      return protocol::kNoReplyConnect;
    case 'H':
      return protocol::kNoReplyHelo;
    case 'M':
      return protocol::kNoReplyMail;
    case 'R':
      return protocol::kNoReplyRcpt;
    case 'T':
      return protocol::kNoReplyData;
    case 'U':
      return protocol::kNoReplyUnknown;
    case 'L':
      return protocol::kNoReplyHeader;
    case 'N':
      return protocol::kNoReplyEndOfHeaders;
    case 'B':
      return protocol::kNoReplyBody;
    default:
      return 0;
  }
}

// The verdict packet the engine owes for `seen`; 0 for a status this harness
// does not know (any final answer then).
char ExpectedFinal(const Observed& seen, char code, uint32_t protocol_flags) {
  const std::optional<std::string>& reply = seen.reply;
  switch (seen.last_status) {
    case Status::kContinue:
    case Status::kNoReply:
      return 'c';
    case Status::kAccept:
      return 'a';
    case Status::kDiscard:
      return 'd';
    case Status::kSkip:
      return code == 'B' && (protocol_flags & protocol::kSkip) ? 's' : 'c';
    case Status::kReject:
      return reply && reply->front() == '5' ? 'y' : 'r';
    case Status::kTempfail:
      return reply && reply->front() == '4' ? 'y' : 't';
    default:
      return 0;
  }
}

FilterConfig ConfigFrom(const std::string& h, size_t input_size) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(h[i]); };
  FilterConfig config;
  config.coroutine = byte(0) & 1;
  config.symbol_lists = byte(0) & 2;
  if (byte(0) & 4) config.actions = byte(7) | (byte(0) & 0x80 ? 0x100 : 0);
  config.callbacks = ~(byte(1) | byte(2) << 8) & callback::kAll;
  config.protocol =
      milter::fuzz::LoadLe32(h, 3) &
      (0x001FFFFF | protocol::kMaxDataSize256K | protocol::kMaxDataSize1M);
  config.budget = 8 * input_size + 300 * 1024;
  return config;
}

class Harness {
 public:
  Harness(const FuzzInput& in, size_t input_size)
      : choices_(in.choices),
        reversed_(in.choices.rbegin(), in.choices.rend()),
        splits_(reversed_),
        split_mode_(static_cast<uint8_t>(in.header[0]) >> 4 & 3),
        stream_(in.stream),
        brain_(&choices_, ConfigFrom(in.header, input_size)),
        factory_(MakeFuzzFilterFactory(&brain_)),
        diagnostics_([](std::string_view line) { FUZZ_CHECK(!line.empty()); }),
        engine_(std::make_unique<Engine>(&factory_, nullptr, &diagnostics_)) {
    // The engine writes progress into the stage's output itself; the
    // notification only says one was reported.
    engine_->SetProgressSink([this] {
      FUZZ_CHECK(out_ != nullptr);  // only while a command is handled
    });
  }

  void Run() {
    asio::co_spawn(io_, Drive(),
                   [](std::exception_ptr e) { FUZZ_CHECK(e == nullptr); });
    io_.run();
    FUZZ_CHECK(done_);  // the engine lost no coroutine
    engine_.reset();
    FUZZ_CHECK(brain_.live_filters() == 0);
  }

 private:
  size_t NextSplit() {
    switch (split_mode_) {
      case 0:
        return stream_.size();
      case 1:
        return 1 + splits_.Next();
      case 2:
        return 1;
      default:
        return 1 + splits_.Next() * size_t{257};
    }
  }

  asio::awaitable<void> Drive() {
    codec::CommandDecoder decoder;
    std::string_view rest = stream_;
    bool open = true;
    while (open && !rest.empty()) {
      // Each piece in its own allocation, freed once used: ASan catches a
      // view kept past the decoder's lifetime rule.
      size_t n = std::min(rest.size(), NextSplit());
      auto piece = std::make_unique<std::string>(rest.substr(0, n));
      rest.remove_prefix(n);
      decoder.Feed(*piece);
      while (open) {
        absl::StatusOr<std::optional<codec::Command>> next = decoder.Next();
        if (!next.ok() || !next->has_value()) {
          open = next.ok();  // garbage: the session drops the MTA
          break;
        }
        open = co_await HandleOne(**next);
        decoder.set_max_payload(engine_->max_payload());
      }
    }
    co_await engine_->Finish();
    co_await engine_->Finish();  // idempotent
    done_ = true;
  }

  asio::awaitable<bool> HandleOne(const codec::Command& command) {
    std::string out;
    out_ = &out;
    brain_.BeginCommand(command);
    absl::StatusOr<Engine::After> after =
        co_await engine_->Handle(command, &out);
    brain_.EndCommand();
    out_ = nullptr;
    ++commands_;
    total_out_ += out.size();
    if (verbose_) Print(command, after, out);
    Check(command, after, out);
    if (after.ok() && *after == Engine::After::kNewSession) negotiated_ = false;
    FUZZ_CHECK(engine_->negotiated() == negotiated_);
    FUZZ_CHECK(total_out_ <= brain_.requested_bytes() + extra_ +
                                 kSlackPerCommand * commands_);
    // What the filter asks for is bounded by the input (replies may double
    // in size: '%' is escaped), so the output is too.
    FUZZ_CHECK(brain_.requested_bytes() <=
               2 * brain_.config().budget + 1024 * commands_);
    co_return after.ok() && *after != Engine::After::kClose;
  }

  void Check(const codec::Command& command,
             const absl::StatusOr<Engine::After>& after,
             const std::string& out) {
    char code = static_cast<char>(codec::CodeOf(command));
    if (const auto* o = std::get_if<codec::OptionNegotiation>(&command)) {
      return CheckNegotiation(*o, after, out);
    }
    if (code == 'Q') {
      FUZZ_CHECK(after.ok() && *after == Engine::After::kClose);
      FUZZ_CHECK(out.empty());
      return;
    }
    const Observed& seen = brain_.observed();
    if (!negotiated_) {  // refused before negotiation, silently
      FUZZ_CHECK(!after.ok() && out.empty() && seen.callbacks == 0);
      return;
    }
    FUZZ_CHECK(after.ok());
    FUZZ_CHECK(*after == (code == 'K' ? Engine::After::kNewSession
                                      : Engine::After::kContinue));
    uint32_t flag = NoReplyFlag(code);
    if (code != 'E' && (flag == 0 || options_.NoReply(flag))) {
      if (!out.empty()) {
        std::fprintf(stderr,
                     "engine sent '%c' (%zu bytes) for '%c', which is not "
                     "answered\n",
                     out.size() > 4 ? out[4] : '?', out.size(), code);
      }
      FUZZ_CHECK(out.empty());
      return;
    }
    CheckAnswer(code, seen,
                ParseWire(out, options_.max_payload, options_.actions));
  }

  void CheckAnswer(char code, const Observed& seen, const Wire& w) {
    FUZZ_CHECK(w.finals == 1 && !w.negotiation);
    FUZZ_CHECK(w.progress == seen.progress);
    if (code != 'E') FUZZ_CHECK(w.mods.empty());
    FUZZ_CHECK(w.mods.size() == seen.mods.size());
    for (size_t i = 0; i < w.mods.size(); ++i) {
      FUZZ_CHECK(w.mods[i].code == seen.mods[i].code);
      FUZZ_CHECK(w.mods[i].body_bytes == seen.mods[i].body_bytes);
    }
    char expected = ExpectedFinal(seen, code, options_.protocol);
    if (expected != w.final_code && expected != 0) {
      std::fprintf(stderr, "'%c' answered '%c', expected '%c'\n", code,
                   w.final_code, expected);
      FUZZ_CHECK(expected == w.final_code);
    }
    if (w.final_code == 's') {
      FUZZ_CHECK(code == 'B' && (options_.protocol & protocol::kSkip));
    }
    if (w.final_code == 'y') FUZZ_CHECK(seen.reply && w.reply == *seen.reply);
  }

  void CheckNegotiation(const codec::OptionNegotiation& offer,
                        const absl::StatusOr<Engine::After>& after,
                        const std::string& out) {
    if (!after.ok() || negotiated_) {  // refused, or a second 'O'
      FUZZ_CHECK(!after.ok() && out.empty());
      return;
    }
    FUZZ_CHECK(*after == Engine::After::kContinue);
    Wire w = ParseWire(out, codec::kDefaultMaxPayload, 0);
    FUZZ_CHECK(w.negotiation && w.finals == 1 && w.progress == 0);
    extra_ += out.size();
    // What the MTA side makes of the reply (an offer of 0 means version 1's
    // defaults, as the engine reads it).
    codec::OptionNegotiation effective = offer;
    if (effective.actions == 0) effective.actions = action::kVersion1Default;
    if (effective.protocol == 0) {
      effective.protocol = protocol::kVersion1Default;
    }
    absl::StatusOr<codec::NegotiatedOptions> accepted =
        codec::AcceptFilterReply(effective, *w.negotiation);
    FUZZ_CHECK(accepted.ok());
    const codec::NegotiatedOptions& mine = engine_->context().negotiated();
    FUZZ_CHECK(mine.version == accepted->version &&
               mine.actions == accepted->actions &&
               mine.protocol == accepted->protocol &&
               mine.max_payload == accepted->max_payload);
    FUZZ_CHECK(engine_->max_payload() == accepted->max_payload);
    if (w.symbol_lists) {
      FUZZ_CHECK(accepted->actions & action::kSetSymbolList);
    }
    options_ = mine;
    negotiated_ = true;
  }

  void Print(const codec::Command& command,
             const absl::StatusOr<Engine::After>& after,
             const std::string& out) const {
    const Observed& seen = brain_.observed();
    std::fprintf(stderr, "'%c': %s, %d callbacks, last %s, reply %s; out:",
                 static_cast<char>(codec::CodeOf(command)),
                 after.status().ToString().c_str(), seen.callbacks,
                 StatusName(seen.last_status),
                 seen.reply ? seen.reply->substr(0, 40).c_str() : "-");
    for (size_t i = 4; i < out.size();) {
      std::fprintf(stderr, " %c", out[i]);
      i += 4 + milter::fuzz::LoadBe32(out, i - 4);
    }
    std::fprintf(stderr, "\n");
  }

  // FUZZ_VERBOSE=1: print each command and the answer (to read a finding).
  bool verbose_ = std::getenv("FUZZ_VERBOSE") != nullptr;
  Choices choices_;
  std::string reversed_;
  Choices splits_;
  uint8_t split_mode_;
  std::string_view stream_;
  Brain brain_;
  FilterFactory factory_;
  DiagnosticSink diagnostics_;
  asio::io_context io_;
  std::unique_ptr<Engine> engine_;
  std::string* out_ = nullptr;  // where progress goes while handling
  bool negotiated_ = false;
  codec::NegotiatedOptions options_;
  size_t commands_ = 0;
  size_t total_out_ = 0;
  size_t extra_ = 0;  // negotiation replies
  bool done_ = false;
};

}  // namespace
}  // namespace milter::client::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace milter::client::fuzz;
  milter::fuzz::FuzzInput in =
      milter::fuzz::SplitInput(data, size, kHeaderSize);
  Harness harness(in, size);
  harness.Run();
  return 0;
}
