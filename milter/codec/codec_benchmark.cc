// Codec benchmarks (Google Benchmark). See bench/codec/README.md.
//   bazel run //milter/codec:codec_benchmark
// Body chunks are compared against a plain memcpy of the same size in the same
// binary; small commands report ns per decode or encode.

#include <cstring>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"

namespace milter::codec {
namespace {

std::string BodyPacket() {
  return Encode(BodyChunk{std::string(kBodyChunkSize, 'x')});
}

void BM_Memcpy65535(benchmark::State& state) {
  std::string src(kBodyChunkSize, 'x');
  std::string dst(kBodyChunkSize, '\0');
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kBodyChunkSize);
}
BENCHMARK(BM_Memcpy65535);

// The same copy to a destination 5 bytes into a buffer, where an encoded
// packet's payload lands (after the length prefix and code byte).
void BM_Memcpy65535Offset5(benchmark::State& state) {
  std::string src(kBodyChunkSize, 'x');
  std::string dst(kBodyChunkSize + 5, '\0');
  for (auto _ : state) {
    std::memcpy(dst.data() + 5, src.data(), src.size());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kBodyChunkSize);
}
BENCHMARK(BM_Memcpy65535Offset5);

// The whole packet in one Feed(): parsed in place, no copy.
void BM_DecodeBodyChunkWhole(benchmark::State& state) {
  std::string packet = BodyPacket();
  CommandDecoder decoder;
  for (auto _ : state) {
    decoder.Feed(packet);
    auto next = decoder.Next();
    benchmark::DoNotOptimize(std::get<BodyChunk>(**next).data.data());
    auto end = decoder.Next();
    benchmark::DoNotOptimize(end);
  }
  state.SetBytesProcessed(state.iterations() * kBodyChunkSize);
}
BENCHMARK(BM_DecodeBodyChunkWhole);

// The packet arrives in socket-sized reads (state.range(0) bytes): the
// decoder gathers it into its buffer, one copy per byte.
void BM_DecodeBodyChunkInReads(benchmark::State& state) {
  std::string packet = BodyPacket();
  size_t read_size = static_cast<size_t>(state.range(0));
  CommandDecoder decoder;
  for (auto _ : state) {
    for (size_t pos = 0; pos < packet.size(); pos += read_size) {
      decoder.Feed(std::string_view(packet).substr(pos, read_size));
      while (true) {
        auto next = decoder.Next();
        if (!next->has_value()) break;
        benchmark::DoNotOptimize(std::get<BodyChunk>(**next).data.data());
      }
    }
  }
  state.SetBytesProcessed(state.iterations() * kBodyChunkSize);
}
BENCHMARK(BM_DecodeBodyChunkInReads)->Arg(4096)->Arg(16384)->Arg(65536);

void BM_EncodeBodyChunk(benchmark::State& state) {
  std::string body(kBodyChunkSize, 'x');
  std::string out;
  for (auto _ : state) {
    out.clear();
    EncodeCommand(BodyChunk{body}, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * kBodyChunkSize);
}
BENCHMARK(BM_EncodeBodyChunk);

std::string MacroPairs() {
  std::string pairs;
  AppendMacroPair("i", "4ABC123DEF", &pairs);
  AppendMacroPair("{mail_addr}", "sender@example.com", &pairs);
  AppendMacroPair("{mail_host}", "example.com", &pairs);
  AppendMacroPair("{mail_mailer}", "smtp", &pairs);
  AppendMacroPair("{auth_type}", "", &pairs);
  return pairs;
}

// Small commands: one packet per iteration, fed whole, decoded until the
// decoder asks for more.
template <typename MakePacket>
void DecodeSmall(benchmark::State& state, MakePacket make) {
  std::string packet = make();
  CommandDecoder decoder;
  for (auto _ : state) {
    decoder.Feed(packet);
    auto next = decoder.Next();
    benchmark::DoNotOptimize(next);
    auto end = decoder.Next();
    benchmark::DoNotOptimize(end);
  }
}

void BM_DecodeHeader(benchmark::State& state) {
  DecodeSmall(state, [] {
    return Encode(Header{"Subject", "A perfectly ordinary subject line"});
  });
}
BENCHMARK(BM_DecodeHeader);

void BM_DecodeMacro5(benchmark::State& state) {
  std::string pairs = MacroPairs();
  DecodeSmall(state, [&] {
    return Encode(DefineMacros{'M', StringList(pairs)});
  });
}
BENCHMARK(BM_DecodeMacro5);

void BM_DecodeRcpt(benchmark::State& state) {
  std::string args;
  AppendString("<recipient@example.org>", &args);
  DecodeSmall(state, [&] { return Encode(Rcpt{StringList(args)}); });
}
BENCHMARK(BM_DecodeRcpt);

void BM_DecodeContinueResponse(benchmark::State& state) {
  std::string packet = Encode(Continue{});
  ResponseDecoder decoder;
  for (auto _ : state) {
    decoder.Feed(packet);
    auto next = decoder.Next();
    benchmark::DoNotOptimize(next);
    auto end = decoder.Next();
    benchmark::DoNotOptimize(end);
  }
}
BENCHMARK(BM_DecodeContinueResponse);

template <typename Message>
void EncodeSmall(benchmark::State& state, const Message& m) {
  std::string out;
  for (auto _ : state) {
    out.clear();
    if constexpr (std::is_same_v<Message, Response>) {
      EncodeResponse(m, &out);
    } else {
      EncodeCommand(m, &out);
    }
    benchmark::DoNotOptimize(out.data());
  }
}

void BM_EncodeHeader(benchmark::State& state) {
  EncodeSmall(state,
              Command{Header{"Subject", "A perfectly ordinary subject line"}});
}
BENCHMARK(BM_EncodeHeader);

void BM_EncodeMacro5(benchmark::State& state) {
  std::string pairs = MacroPairs();
  EncodeSmall(state, Command{DefineMacros{'M', StringList(pairs)}});
}
BENCHMARK(BM_EncodeMacro5);

void BM_EncodeRcpt(benchmark::State& state) {
  std::string args;
  AppendString("<recipient@example.org>", &args);
  EncodeSmall(state, Command{Rcpt{StringList(args)}});
}
BENCHMARK(BM_EncodeRcpt);

void BM_EncodeChangeHeaderResponse(benchmark::State& state) {
  EncodeSmall(state, Response{ChangeHeader{1, "Subject", "[sample] Hello"}});
}
BENCHMARK(BM_EncodeChangeHeaderResponse);

// A realistic session stream (negotiation, macros, envelope, 5 headers, a
// body chunk, end of message) fed one byte at a time.
std::string SessionStream() {
  std::string s, pairs = MacroPairs(), args;
  AppendString("<recipient@example.org>", &args);
  EncodeCommand(OptionNegotiation{6, 0x1FF, 0x1FFFFF}, &s);
  EncodeCommand(DefineMacros{'C', StringList(pairs)}, &s);
  EncodeCommand(Connect{"client.example", Family::kInet, 4242, "192.0.2.1"},
                &s);
  EncodeCommand(Helo{"client.example"}, &s);
  EncodeCommand(Mail{StringList(args)}, &s);
  EncodeCommand(Rcpt{StringList(args)}, &s);
  EncodeCommand(Data{}, &s);
  for (int i = 0; i < 5; ++i) {
    EncodeCommand(Header{"X-Header", "some header value of moderate length"},
                  &s);
  }
  EncodeCommand(EndOfHeaders{}, &s);
  EncodeCommand(BodyChunk{std::string(500, 'b')}, &s);
  EncodeCommand(EndOfMessage{}, &s);
  EncodeCommand(Quit{}, &s);
  return s;
}

void BM_DecodeSessionByteByByte(benchmark::State& state) {
  std::string stream = SessionStream();
  int64_t messages = 0;
  for (auto _ : state) {
    CommandDecoder decoder;
    for (size_t i = 0; i < stream.size(); ++i) {
      decoder.Feed(std::string_view(stream).substr(i, 1));
      while (true) {
        auto next = decoder.Next();
        if (!next->has_value()) break;
        ++messages;
        benchmark::DoNotOptimize(next);
      }
    }
  }
  state.SetBytesProcessed(state.iterations() * stream.size());
  state.counters["bytes"] = static_cast<double>(stream.size());
  state.counters["ns_per_byte"] = benchmark::Counter(
      static_cast<double>(state.iterations() * stream.size()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DecodeSessionByteByByte);

void BM_DecodeSessionWhole(benchmark::State& state) {
  std::string stream = SessionStream();
  for (auto _ : state) {
    CommandDecoder decoder;
    decoder.Feed(stream);
    while (true) {
      auto next = decoder.Next();
      if (!next->has_value()) break;
      benchmark::DoNotOptimize(next);
    }
  }
  state.SetBytesProcessed(state.iterations() * stream.size());
}
BENCHMARK(BM_DecodeSessionWhole);

}  // namespace
}  // namespace milter::codec
