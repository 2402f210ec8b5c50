// Decoder tests on hand-written byte vectors (never produced by our encoder):
// every command and response code, every DecodeError, arbitrary splits,
// size limits, and the lifetime contract of decoded views.

#include "milter/codec/decoder.h"

#include <atomic>
#include <cstdlib>
#include <deque>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "milter/codec/encoder.h"
#include "milter/codec/test_util.h"

// Records the largest single allocation so that tests can prove the decoder
// never allocates what a peer merely claims.
static std::atomic<size_t> g_largest_allocation{0};

void* operator new(size_t size) {
  size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  while (size > seen &&
         !g_largest_allocation.compare_exchange_weak(seen, size)) {
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace milter::codec {
namespace {

using ::milter::codec::testing::Be32;
using ::milter::codec::testing::DecodeStream;
using ::milter::codec::testing::Packet;
using namespace std::string_literals;

// Input bytes of DecodeOne*(), kept for the test program's life so that the
// returned messages' views stay valid.
std::string_view Keep(const std::string& bytes) {
  static auto* kept = new std::deque<std::string>;
  kept->push_back(bytes);
  return kept->back();
}

// Decodes exactly one command from `bytes` fed whole.
Command DecodeOneCommand(const std::string& bytes) {
  CommandDecoder d;
  d.Feed(Keep(bytes));
  auto next = d.Next();
  EXPECT_TRUE(next.ok()) << next.status();
  if (!next.ok() || !next->has_value()) {
    ADD_FAILURE() << "no message decoded";
    return Abort{};
  }
  Command c = **next;
  auto after = d.Next();
  EXPECT_TRUE(after.ok() && !after->has_value()) << "extra data";
  return c;
}

Response DecodeOneResponse(const std::string& bytes) {
  ResponseDecoder d;
  d.Feed(Keep(bytes));
  auto next = d.Next();
  EXPECT_TRUE(next.ok()) << next.status();
  if (!next.ok() || !next->has_value()) {
    ADD_FAILURE() << "no message decoded";
    return Continue{};
  }
  Response r = **next;
  auto after = d.Next();
  EXPECT_TRUE(after.ok() && !after->has_value()) << "extra data";
  return r;
}

DecodeError CommandError(const std::string& bytes,
                         size_t max = kDefaultMaxPayload) {
  CommandDecoder d(max);
  d.Feed(bytes);
  while (true) {
    auto next = d.Next();
    if (!next.ok()) return DecodeErrorOf(next.status());
    if (!next->has_value()) return DecodeError::kNone;
  }
}

DecodeError ResponseError(const std::string& bytes) {
  ResponseDecoder d;
  d.Feed(bytes);
  while (true) {
    auto next = d.Next();
    if (!next.ok()) return DecodeErrorOf(next.status());
    if (!next->has_value()) return DecodeError::kNone;
  }
}

// ---------------------------------------------------------------------------
// Commands, one per code.

TEST(CommandDecode, OptionNegotiation) {
  Command c =
      DecodeOneCommand(Packet('O', Be32(6) + Be32(0x1FF) + Be32(0x1FFFFF)));
  auto o = std::get<OptionNegotiation>(c);
  EXPECT_EQ(o.version, 6u);
  EXPECT_EQ(o.actions, 0x1FFu);
  EXPECT_EQ(o.protocol, 0x1FFFFFu);
  EXPECT_EQ(CodeOf(c), CommandCode::kOptionNegotiation);
}

TEST(CommandDecode, DefineMacros) {
  Command c =
      DecodeOneCommand(Packet('D',
                              "C"
                              "j\0mx.example.com\0{daemon_name}\0smtpd\0"s));
  auto d = std::get<DefineMacros>(c);
  EXPECT_EQ(d.command_code, 'C');
  std::vector<std::string_view> pairs(d.pairs.begin(), d.pairs.end());
  EXPECT_EQ(pairs, (std::vector<std::string_view>{"j", "mx.example.com",
                                                  "{daemon_name}", "smtpd"}));
  EXPECT_EQ(d.pairs.size(), 4u);
}

TEST(CommandDecode, EmptyDefineMacrosIsAccepted) {
  // Postfix sends 'D' packets with nothing but a code, and fully empty ones.
  auto d1 = std::get<DefineMacros>(DecodeOneCommand(Packet('D', "")));
  EXPECT_EQ(d1.command_code, 0);
  EXPECT_TRUE(d1.pairs.empty());
  auto d2 = std::get<DefineMacros>(DecodeOneCommand(Packet('D', "L")));
  EXPECT_EQ(d2.command_code, 'L');
  EXPECT_TRUE(d2.pairs.empty());
  EXPECT_EQ(d2.pairs.size(), 0u);
}

TEST(CommandDecode, ConnectInet) {
  Command c = DecodeOneCommand(Packet('C',
                                      "client.example.org\0"
                                      "4\x01\x19"
                                      "192.0.2.7\0"s));
  auto con = std::get<Connect>(c);
  EXPECT_EQ(con.hostname, "client.example.org");
  EXPECT_EQ(con.family, Family::kInet);
  EXPECT_EQ(con.port, 0x0119);  // 281, network order on the wire
  EXPECT_EQ(con.address, "192.0.2.7");
}

TEST(CommandDecode, ConnectInet6Unix) {
  auto c6 = std::get<Connect>(DecodeOneCommand(Packet('C',
                                                      "h6\0"
                                                      "6\xC3\x50"
                                                      "IPv6:2001:db8::1\0"s)));
  EXPECT_EQ(c6.family, Family::kInet6);
  EXPECT_EQ(c6.port, 50000);
  EXPECT_EQ(c6.address, "IPv6:2001:db8::1");
  auto cl = std::get<Connect>(DecodeOneCommand(Packet('C',
                                                      "localhost\0"
                                                      "L\0\0"
                                                      "/var/run/sock\0"s)));
  EXPECT_EQ(cl.family, Family::kUnix);
  EXPECT_EQ(cl.port, 0);
  EXPECT_EQ(cl.address, "/var/run/sock");
}

TEST(CommandDecode, ConnectUnknownFamilyHasNoPortOrAddress) {
  auto c = std::get<Connect>(DecodeOneCommand(Packet('C', "unknown\0U"s)));
  EXPECT_EQ(c.hostname, "unknown");
  EXPECT_EQ(c.family, Family::kUnknown);
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.address, "");
}

TEST(CommandDecode, Helo) {
  auto h = std::get<Helo>(DecodeOneCommand(Packet('H', "mail.example\0"s)));
  EXPECT_EQ(h.name, "mail.example");
}

TEST(CommandDecode, MailWithArgs) {
  auto m = std::get<Mail>(DecodeOneCommand(
      Packet('M', "<a@example.com>\0SIZE=1024\0BODY=8BITMIME\0"s)));
  EXPECT_EQ(m.address(), "<a@example.com>");
  EXPECT_EQ(m.args.size(), 3u);
  std::vector<std::string_view> args(m.args.begin(), m.args.end());
  EXPECT_EQ(args[1], "SIZE=1024");
  EXPECT_EQ(args[2], "BODY=8BITMIME");
}

TEST(CommandDecode, NullSender) {
  auto m = std::get<Mail>(DecodeOneCommand(Packet('M', "<>\0"s)));
  EXPECT_EQ(m.address(), "<>");
  EXPECT_EQ(m.args.size(), 1u);
}

TEST(CommandDecode, Rcpt) {
  auto r = std::get<Rcpt>(DecodeOneCommand(Packet('R', "<b@example.net>\0"s)));
  EXPECT_EQ(r.address(), "<b@example.net>");
  EXPECT_EQ(r.args.size(), 1u);
}

TEST(CommandDecode, PayloadlessCommands) {
  EXPECT_TRUE(std::holds_alternative<Data>(DecodeOneCommand(Packet('T', ""))));
  EXPECT_TRUE(
      std::holds_alternative<EndOfHeaders>(DecodeOneCommand(Packet('N', ""))));
  EXPECT_TRUE(std::holds_alternative<Abort>(DecodeOneCommand(Packet('A', ""))));
  EXPECT_TRUE(std::holds_alternative<Quit>(DecodeOneCommand(Packet('Q', ""))));
  EXPECT_TRUE(std::holds_alternative<QuitNewConnection>(
      DecodeOneCommand(Packet('K', ""))));
}

TEST(CommandDecode, HeaderWithArbitraryBytes) {
  // "Subject: " in Shift_JIS (Nihongo) plus bytes above 0x7f and a folded
  // value with a bare LF.
  std::string value = "\x93\xfa\x96\x7b\x8c\xea\n\t\xff\x80 more";
  auto h = std::get<Header>(
      DecodeOneCommand(Packet('L', "Subject\0"s + value + "\0"s)));
  EXPECT_EQ(h.name, "Subject");
  EXPECT_EQ(h.value, value);
}

TEST(CommandDecode, BodyKeepsNulAndEverything) {
  std::string body = "line\r\n\0\x01\xff"s;
  auto b = std::get<BodyChunk>(DecodeOneCommand(Packet('B', body)));
  EXPECT_EQ(b.data, body);
  auto e = std::get<EndOfMessage>(DecodeOneCommand(Packet('E', "")));
  EXPECT_EQ(e.data, "");
  auto e2 = std::get<EndOfMessage>(DecodeOneCommand(Packet('E', "tail")));
  EXPECT_EQ(e2.data, "tail");
}

TEST(CommandDecode, Unknown) {
  auto u = std::get<Unknown>(DecodeOneCommand(Packet('U', "XYZZY arg\0"s)));
  EXPECT_EQ(u.command, "XYZZY arg");
}

// ---------------------------------------------------------------------------
// Responses, one per code.

TEST(ResponseDecode, OptionNegotiationWithSymbolLists) {
  std::string payload = Be32(6) + Be32(0x1FF) + Be32(0x00101000) + Be32(0) +
                        "j {daemon_name}\0"s + Be32(5) + "i\0"s + Be32(6) +
                        "\0"s;
  auto o =
      std::get<OptionNegotiationReply>(DecodeOneResponse(Packet('O', payload)));
  EXPECT_EQ(o.version, 6u);
  EXPECT_EQ(o.actions, 0x1FFu);
  EXPECT_EQ(o.protocol, 0x00101000u);
  EXPECT_EQ(o.symbol_lists[0], "j {daemon_name}");
  EXPECT_FALSE(o.symbol_lists[1].has_value());
  EXPECT_FALSE(o.symbol_lists[4].has_value());
  EXPECT_EQ(o.symbol_lists[5], "i");
  EXPECT_EQ(o.symbol_lists[6], "");
}

TEST(ResponseDecode, OneByteVerdicts) {
  auto is = [](char code, auto tag) {
    Response r = DecodeOneResponse(Packet(code, ""));
    EXPECT_TRUE(std::holds_alternative<decltype(tag)>(r)) << code;
    EXPECT_EQ(static_cast<char>(CodeOf(r)), code);
  };
  is('c', Continue{});
  is('a', Accept{});
  is('r', Reject{});
  is('t', Tempfail{});
  is('d', Discard{});
  is('s', Skip{});
  is('p', Progress{});
  is('4', Shutdown{});
  is('f', ConnectionFail{});
}

TEST(ResponseDecode, ReplyCodeAndQuarantine) {
  auto y = std::get<ReplyCode>(
      DecodeOneResponse(Packet('y', "550-5.7.1 a\r\n550 5.7.1 b\0"s)));
  EXPECT_EQ(y.text, "550-5.7.1 a\r\n550 5.7.1 b");
  auto q = std::get<Quarantine>(DecodeOneResponse(Packet('q', "looks bad\0"s)));
  EXPECT_EQ(q.reason, "looks bad");
}

TEST(ResponseDecode, HeaderEdits) {
  auto h =
      std::get<AddHeader>(DecodeOneResponse(Packet('h', "X-Sample\0yes\0"s)));
  EXPECT_EQ(h.name, "X-Sample");
  EXPECT_EQ(h.value, "yes");
  auto i = std::get<InsertHeader>(
      DecodeOneResponse(Packet('i', Be32(0) + "X-First\0\x82\xa0\0"s)));
  EXPECT_EQ(i.index, 0u);
  EXPECT_EQ(i.name, "X-First");
  EXPECT_EQ(i.value, "\x82\xa0");
  auto m = std::get<ChangeHeader>(
      DecodeOneResponse(Packet('m', Be32(2) + "Subject\0\0"s)));
  EXPECT_EQ(m.index, 2u);
  EXPECT_EQ(m.name, "Subject");
  EXPECT_EQ(m.value, "");  // deletes
}

TEST(ResponseDecode, ChangeFrom) {
  auto e1 = std::get<ChangeFrom>(DecodeOneResponse(Packet('e', "<n@x>\0"s)));
  EXPECT_EQ(e1.address, "<n@x>");
  EXPECT_FALSE(e1.args.has_value());
  auto e2 =
      std::get<ChangeFrom>(DecodeOneResponse(Packet('e', "<n@x>\0SIZE=10\0"s)));
  EXPECT_EQ(e2.args, "SIZE=10");
}

TEST(ResponseDecode, Recipients) {
  auto a = std::get<AddRecipient>(DecodeOneResponse(Packet('+', "<r@x>\0"s)));
  EXPECT_EQ(a.address, "<r@x>");
  auto a2 = std::get<AddRecipientWithArgs>(
      DecodeOneResponse(Packet('2', "<r@x>\0NOTIFY=NEVER\0"s)));
  EXPECT_EQ(a2.address, "<r@x>");
  EXPECT_EQ(a2.args, "NOTIFY=NEVER");
  auto d =
      std::get<DeleteRecipient>(DecodeOneResponse(Packet('-', "<r@x>\0"s)));
  EXPECT_EQ(d.address, "<r@x>");
}

TEST(ResponseDecode, ReplaceBody) {
  auto b =
      std::get<ReplaceBody>(DecodeOneResponse(Packet('b', "replaced\r\n\0"s)));
  EXPECT_EQ(b.data, "replaced\r\n\0"s);
}

// ---------------------------------------------------------------------------
// Errors.

TEST(DecodeErrors, ZeroLength) {
  EXPECT_EQ(CommandError("\0\0\0\0"s), DecodeError::kZeroLength);
  EXPECT_EQ(ResponseError("\0\0\0\0c"s), DecodeError::kZeroLength);
}

TEST(DecodeErrors, TooLarge) {
  // 65535 payload bytes are fine by default, 65536 are not: decided from the
  // length prefix alone, before any payload arrives.
  EXPECT_EQ(CommandError(Be32(65536) + "B"), DecodeError::kNone);
  EXPECT_EQ(CommandError(Be32(65537) + "B"), DecodeError::kTooLarge);
  EXPECT_EQ(CommandError(Be32(65537)), DecodeError::kTooLarge);
  EXPECT_EQ(CommandError("\xff\xff\xff\xff"s), DecodeError::kTooLarge);
}

TEST(DecodeErrors, UnknownCode) {
  EXPECT_EQ(CommandError(Packet('Z', "")), DecodeError::kUnknownCode);
  EXPECT_EQ(CommandError(Packet('c', "")), DecodeError::kUnknownCode);
  EXPECT_EQ(CommandError(Packet('\0', "")), DecodeError::kUnknownCode);
  EXPECT_EQ(ResponseError(Packet('A', "")), DecodeError::kUnknownCode);
  EXPECT_EQ(ResponseError(Packet('l', "")), DecodeError::kUnknownCode);
  EXPECT_EQ(ResponseError(Packet('\xff', "")), DecodeError::kUnknownCode);
}

TEST(DecodeErrors, Truncated) {
  EXPECT_EQ(CommandError(Packet('O', Be32(6) + Be32(0) + "\0\0\0"s)),
            DecodeError::kTruncated);
  EXPECT_EQ(CommandError(Packet('C',
                                "h\0"
                                "4\x01"s)),
            DecodeError::kTruncated);
  EXPECT_EQ(CommandError(Packet('C', "h\0"s)), DecodeError::kTruncated);
  EXPECT_EQ(CommandError(Packet('M', "")), DecodeError::kTruncated);
  EXPECT_EQ(CommandError(Packet('R', "")), DecodeError::kTruncated);
  EXPECT_EQ(ResponseError(Packet('O', Be32(6))), DecodeError::kTruncated);
  EXPECT_EQ(ResponseError(Packet('i', "\0\0\0"s)), DecodeError::kTruncated);
  EXPECT_EQ(ResponseError(Packet('m', "")), DecodeError::kTruncated);
  // A symbol-list stage cut short.
  EXPECT_EQ(ResponseError(Packet('O', Be32(6) + Be32(0) + Be32(0) + "\0\0"s)),
            DecodeError::kTruncated);
}

TEST(DecodeErrors, MissingNul) {
  EXPECT_EQ(CommandError(Packet('H', "abc")), DecodeError::kMissingNul);
  EXPECT_EQ(CommandError(Packet('L', "Subject\0value"s)),
            DecodeError::kMissingNul);
  EXPECT_EQ(CommandError(Packet('L', "Subject")), DecodeError::kMissingNul);
  EXPECT_EQ(CommandError(Packet('M', "<a@b>")), DecodeError::kMissingNul);
  EXPECT_EQ(CommandError(Packet('R', "<a@b>\0x"s)), DecodeError::kMissingNul);
  EXPECT_EQ(CommandError(Packet('D', "Cj\0v"s)), DecodeError::kMissingNul);
  EXPECT_EQ(CommandError(Packet('C', "host")), DecodeError::kMissingNul);
  EXPECT_EQ(CommandError(Packet('C',
                                "h\0"
                                "4\0\x19"
                                "1.2.3.4"s)),
            DecodeError::kMissingNul);
  EXPECT_EQ(CommandError(Packet('U', "")), DecodeError::kMissingNul);
  EXPECT_EQ(ResponseError(Packet('y', "550 x")), DecodeError::kMissingNul);
  EXPECT_EQ(ResponseError(Packet('h', "X\0y"s)), DecodeError::kMissingNul);
  EXPECT_EQ(ResponseError(Packet('2', "<a>\0"s)), DecodeError::kMissingNul);
  EXPECT_EQ(
      ResponseError(Packet('O', Be32(6) + Be32(0) + Be32(0) + Be32(1) + "j")),
      DecodeError::kMissingNul);
}

TEST(DecodeErrors, BadFamily) {
  EXPECT_EQ(CommandError(Packet('C', "host\0X"s)), DecodeError::kBadFamily);
  EXPECT_EQ(CommandError(Packet('C', "host\0\0"s)), DecodeError::kBadFamily);
}

TEST(DecodeErrors, TrailingBytes) {
  EXPECT_EQ(CommandError(Packet('T', "x")), DecodeError::kTrailingBytes);
  EXPECT_EQ(CommandError(Packet('Q', "\0"s)), DecodeError::kTrailingBytes);
  EXPECT_EQ(CommandError(Packet('O', Be32(6) + Be32(0) + Be32(0) + "x")),
            DecodeError::kTrailingBytes);
  EXPECT_EQ(CommandError(Packet('C', "h\0Ux"s)), DecodeError::kTrailingBytes);
  EXPECT_EQ(CommandError(Packet('H', "a\0b\0"s)), DecodeError::kTrailingBytes);
  EXPECT_EQ(ResponseError(Packet('c', "x")), DecodeError::kTrailingBytes);
  EXPECT_EQ(ResponseError(Packet('+', "<a>\0<b>\0"s)),
            DecodeError::kTrailingBytes);
  EXPECT_EQ(ResponseError(Packet('e', "<a>\0b\0c\0"s)),
            DecodeError::kTrailingBytes);
}

TEST(DecodeErrors, BadStage) {
  EXPECT_EQ(ResponseError(
                Packet('O', Be32(6) + Be32(0) + Be32(0) + Be32(7) + "j\0"s)),
            DecodeError::kBadStage);
  EXPECT_EQ(ResponseError(Packet(
                'O', Be32(6) + Be32(0) + Be32(0) + Be32(0xFFFFFFFF) + "j\0"s)),
            DecodeError::kBadStage);
}

TEST(DecodeErrors, NamesAndStatusPayload) {
  EXPECT_STREQ(DecodeErrorName(DecodeError::kNone), "none");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kZeroLength), "zero-length");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kTooLarge), "too-large");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kUnknownCode), "unknown-code");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kTruncated), "truncated");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kMissingNul), "missing-nul");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kBadFamily), "bad-family");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kTrailingBytes), "trailing-bytes");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kBadStage), "bad-stage");
  EXPECT_EQ(DecodeErrorOf(absl::OkStatus()), DecodeError::kNone);
  EXPECT_EQ(DecodeErrorOf(absl::InvalidArgumentError("x")), DecodeError::kNone);

  auto parsed = ParseCommand('C', "host\0X"s);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeErrorOf(parsed.status()), DecodeError::kBadFamily);
  EXPECT_NE(parsed.status().message().find("'C'"), std::string::npos)
      << parsed.status();
  auto unknown = ParseResponse('\x01', "");
  EXPECT_NE(unknown.status().message().find("\\x01"), std::string::npos)
      << unknown.status();
}

TEST(DecodeErrors, DecoderStaysFailed) {
  CommandDecoder d;
  std::string bad = Packet('Z', "") + Packet('T', "");
  d.Feed(bad);
  auto first = d.Next();
  ASSERT_FALSE(first.ok());
  std::string good = Packet('T', "");
  d.Feed(good);
  auto second = d.Next();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(DecodeErrorOf(second.status()), DecodeError::kUnknownCode);
  EXPECT_EQ(d.pending_bytes(), 0u);
}

TEST(DecodeErrors, ErrorAfterGoodPacketsInSameFeed) {
  CommandDecoder d;
  std::string bytes = Packet('T', "") + Packet('H', "x\0"s) + "\0\0\0\0"s;
  d.Feed(bytes);
  auto a = d.Next();
  ASSERT_TRUE(a.ok() && a->has_value());
  auto b = d.Next();
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ(std::get<Helo>(**b).name, "x");
  auto c = d.Next();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(DecodeErrorOf(c.status()), DecodeError::kZeroLength);
}

// ---------------------------------------------------------------------------
// Limits.

TEST(DecodeLimits, MaxPayloadBoundaries) {
  std::string body(65535, 'x');
  EXPECT_EQ(CommandError(Packet('B', body)), DecodeError::kNone);
  EXPECT_EQ(CommandError(Packet('B', body + "y")), DecodeError::kTooLarge);
  // Raised after negotiating 256K: now accepted, up to exactly 256K - 1.
  EXPECT_EQ(CommandError(Packet('B', body + "y"), kMaxPayload256K),
            DecodeError::kNone);
  EXPECT_EQ(CommandError(Packet('B', std::string(kMaxPayload256K, 'z')),
                         kMaxPayload256K),
            DecodeError::kNone);
  EXPECT_EQ(CommandError(Packet('B', std::string(kMaxPayload256K + 1, 'z')),
                         kMaxPayload256K),
            DecodeError::kTooLarge);
  EXPECT_EQ(
      CommandError(Packet('B', std::string(kMaxPayload1M, 'z')), kMaxPayload1M),
      DecodeError::kNone);
}

TEST(DecodeLimits, RaisingMaxPayloadMidStream) {
  CommandDecoder d;
  EXPECT_EQ(d.max_payload(), kDefaultMaxPayload);
  std::string optneg = Packet('O', Be32(6) + Be32(0) + Be32(0x20000000));
  std::string big = Packet('B', std::string(100000, 'b'));
  std::string stream = optneg + big;
  d.Feed(stream);
  auto o = d.Next();
  ASSERT_TRUE(o.ok() && o->has_value());
  d.set_max_payload(
      MaxPayloadForFlags(std::get<OptionNegotiation>(**o).protocol));
  EXPECT_EQ(d.max_payload(), kMaxPayload1M);
  auto b = d.Next();
  ASSERT_TRUE(b.ok() && b->has_value()) << b.status();
  EXPECT_EQ(std::get<BodyChunk>(**b).data.size(), 100000u);
}

TEST(DecodeLimits, LengthZeroFedByteByByte) {
  CommandDecoder d;
  std::string zeros = "\0\0\0\0"s;
  for (int i = 0; i < 3; ++i) {
    d.Feed(std::string_view(&zeros[i], 1));
    auto n = d.Next();
    ASSERT_TRUE(n.ok());
    EXPECT_FALSE(n->has_value());
  }
  d.Feed(std::string_view(&zeros[3], 1));
  auto n = d.Next();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(DecodeErrorOf(n.status()), DecodeError::kZeroLength);
}

TEST(DecodeLimits, FourGigabyteClaimNeverAllocates) {
  // Even with no limit at all, a peer claiming 4 GB gets only what it sends
  // buffered.
  CommandDecoder d(std::numeric_limits<size_t>::max());
  std::string head =
      "\xff\xff\xff\xff"
      "B"s +
      std::string(1000, 'x');
  g_largest_allocation = 0;
  for (char c : head) {
    d.Feed(std::string_view(&c, 1));
    auto n = d.Next();
    ASSERT_TRUE(n.ok());
    ASSERT_FALSE(n->has_value());
  }
  EXPECT_EQ(d.pending_bytes(), head.size());
  EXPECT_LT(g_largest_allocation.load(), 64u * 1024);

  // With the default limit it is refused from the 4 prefix bytes.
  CommandDecoder limited;
  g_largest_allocation = 0;
  std::string prefix = "\xff\xff\xff\xff"s;
  limited.Feed(prefix);
  auto n = limited.Next();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(DecodeErrorOf(n.status()), DecodeError::kTooLarge);
  EXPECT_LT(g_largest_allocation.load(), 4096u);
}

TEST(DecodeLimits, LargeClaimWithSmallInputBuffersOnlyInput) {
  CommandDecoder d;
  std::string head = Be32(65536) + "B" + "abc";
  g_largest_allocation = 0;
  d.Feed(head);
  auto n = d.Next();
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->has_value());
  EXPECT_EQ(d.pending_bytes(), 8u);
  EXPECT_LT(g_largest_allocation.load(), 1024u);
}

// ---------------------------------------------------------------------------
// Splits.

std::string AllCommandsStream() {
  return Packet('O', Be32(6) + Be32(0x1FF) + Be32(0x1FFFFF)) +
         Packet('D', "Cj\0mx\0{daemon_name}\0smtpd\0"s) +
         Packet('C',
                "client\0"
                "4\x30\x39"
                "192.0.2.1\0"s) +
         Packet('D', "H"s) + Packet('H', "helo.example\0"s) +
         Packet('M', "<a@example.com>\0SIZE=99\0"s) +
         Packet('R', "<b@example.com>\0"s) + Packet('T', "") + Packet('D', "") +
         Packet('L', "Subject\0\x93\xfa\x96\x7b\0"s) + Packet('N', "") +
         Packet('B', std::string(70000 / 2, '\r')) +
         Packet('B', "body\0\xff"s) + Packet('E', "") + Packet('A', "") +
         Packet('U', "HELP\0"s) + Packet('K', "") + Packet('Q', "");
}

std::string AllResponsesStream() {
  return Packet('O', Be32(6) + Be32(0x1FF) + Be32(0x1000) + Be32(2) +
                         "{mail_addr}\0"s) +
         Packet('c', "") + Packet('a', "") + Packet('r', "") + Packet('t', "") +
         Packet('d', "") + Packet('s', "") + Packet('p', "") + Packet('4', "") +
         Packet('f', "") + Packet('y', "451 4.3.0 later\0"s) +
         Packet('q', "why\0"s) + Packet('h', "X-A\0b\0"s) +
         Packet('i', Be32(1) + "X-B\0c\0"s) +
         Packet('m', Be32(1) + "Subject\0new\0"s) + Packet('e', "<s@x>\0"s) +
         Packet('+', "<r@x>\0"s) + Packet('2', "<r@x>\0A=B\0"s) +
         Packet('-', "<r@x>\0"s) + Packet('b', std::string(65535, 'q'));
}

TEST(DecodeSplits, CommandsWholeMatchesByteByByteAndRandom) {
  std::string stream = AllCommandsStream();
  auto whole = DecodeStream<Command>(stream, {});
  ASSERT_TRUE(whole.status.ok()) << whole.status;
  ASSERT_EQ(whole.packets.size(), 18u);
  EXPECT_EQ(whole.pending, 0u);
  // Every hand-built packet re-encodes to exactly its bytes.
  std::string joined;
  for (const auto& p : whole.packets) joined += p;
  EXPECT_EQ(joined, stream);

  auto bytewise = DecodeStream<Command>(stream, {1});
  ASSERT_TRUE(bytewise.status.ok()) << bytewise.status;
  EXPECT_EQ(bytewise.packets, whole.packets);

  std::mt19937 rng(12345);
  for (int round = 0; round < 50; ++round) {
    std::vector<size_t> sizes;
    for (int i = 0; i < 40; ++i) {
      sizes.push_back(1 + rng() % (round % 2 ? 7 : 9000));
    }
    auto split = DecodeStream<Command>(stream, sizes);
    ASSERT_TRUE(split.status.ok()) << split.status;
    EXPECT_EQ(split.packets, whole.packets) << "round " << round;
    EXPECT_EQ(split.pending, 0u);
  }
}

TEST(DecodeSplits, ResponsesWholeMatchesByteByByteAndRandom) {
  std::string stream = AllResponsesStream();
  auto whole = DecodeStream<Response>(stream, {});
  ASSERT_TRUE(whole.status.ok()) << whole.status;
  ASSERT_EQ(whole.packets.size(), 20u);
  std::string joined;
  for (const auto& p : whole.packets) joined += p;
  EXPECT_EQ(joined, stream);

  auto bytewise = DecodeStream<Response>(stream, {1});
  EXPECT_EQ(bytewise.packets, whole.packets);
  std::mt19937 rng(777);
  for (int round = 0; round < 50; ++round) {
    std::vector<size_t> sizes;
    for (int i = 0; i < 30; ++i) sizes.push_back(1 + rng() % 5000);
    auto split = DecodeStream<Response>(stream, sizes);
    ASSERT_TRUE(split.status.ok()) << split.status;
    EXPECT_EQ(split.packets, whole.packets) << "round " << round;
  }
}

TEST(DecodeSplits, SplitErrorIsTheSameError) {
  std::string stream = Packet('H', "ok\0"s) + Packet('C', "host\0Z"s);
  for (size_t step : {1, 2, 3, 100}) {
    auto r = DecodeStream<Command>(stream, {step});
    EXPECT_EQ(r.packets.size(), 1u);
    EXPECT_EQ(DecodeErrorOf(r.status), DecodeError::kBadFamily);
  }
}

TEST(DecodeSplits, FeedTwiceWithoutDraining) {
  // Feeding again before Next() has drained is allowed; nothing is lost.
  CommandDecoder d;
  std::string a = Packet('H', "one\0"s) + Packet('T', "").substr(0, 2);
  std::string b = Packet('T', "").substr(2) + Packet('H', "two\0"s);
  d.Feed(a);
  d.Feed(b);
  a.assign(a.size(), '\xAA');  // fully copied by the second Feed
  std::vector<std::string> got;
  while (true) {
    auto n = d.Next();
    ASSERT_TRUE(n.ok()) << n.status();
    if (!n->has_value()) break;
    got.push_back(Encode(**n));
  }
  EXPECT_EQ(got,
            (std::vector<std::string>{Packet('H', "one\0"s), Packet('T', ""),
                                      Packet('H', "two\0"s)}));
}

TEST(DecodeSplits, FeedAgainAfterPartialDrain) {
  CommandDecoder d;
  std::string a = Packet('H', "one\0"s) + Packet('H', "two\0"s);
  d.Feed(a);
  auto first = d.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  std::string b = Packet('H', "three\0"s);
  d.Feed(b);  // "two" not yet returned: it must survive
  a.assign(a.size(), '\0');
  std::vector<std::string> names;
  while (true) {
    auto n = d.Next();
    ASSERT_TRUE(n.ok()) << n.status();
    if (!n->has_value()) break;
    names.emplace_back(std::get<Helo>(**n).name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"two", "three"}));
}

// ---------------------------------------------------------------------------
// Lifetimes and memory.

TEST(DecodeViews, CompletePacketsAreParsedInPlace) {
  std::string bytes = Packet('B', "zero-copy body") + Packet('L', "A\0b\0"s);
  CommandDecoder d;
  d.Feed(bytes);
  auto n = d.Next();
  ASSERT_TRUE(n.ok() && n->has_value());
  std::string_view data = std::get<BodyChunk>(**n).data;
  EXPECT_EQ(data.data(), bytes.data() + 5);  // points into the input
  EXPECT_EQ(data, "zero-copy body");
  auto h = d.Next();
  ASSERT_TRUE(h.ok() && h->has_value());
  EXPECT_GE(std::get<Header>(**h).name.data(), bytes.data());
  EXPECT_LT(std::get<Header>(**h).name.data(), bytes.data() + bytes.size());
}

TEST(DecodeViews, SplitPacketOutlivesTheFedPieces) {
  std::string packet = Packet('L', "Subject\0hello world\0"s);
  CommandDecoder d;
  {
    std::string first = packet.substr(0, 9);
    d.Feed(first);
    auto n = d.Next();
    ASSERT_TRUE(n.ok());
    ASSERT_FALSE(n->has_value());
    first.assign(first.size(), 'X');
  }
  std::string second = packet.substr(9);
  d.Feed(second);
  auto n = d.Next();
  ASSERT_TRUE(n.ok() && n->has_value());
  const Header& h = std::get<Header>(**n);
  // Valid until the next Feed()/Next(), even if the piece is overwritten now.
  second.assign(second.size(), 'Y');
  EXPECT_EQ(h.name, "Subject");
  EXPECT_EQ(h.value, "hello world");
}

TEST(DecodeViews, PendingBytesAndRelease) {
  CommandDecoder d;
  EXPECT_EQ(d.pending_bytes(), 0u);
  std::string p = Packet('H', "name\0"s);
  d.Feed(std::string_view(p).substr(0, 6));
  ASSERT_TRUE(d.Next().ok());
  EXPECT_EQ(d.pending_bytes(), 6u);
  d.ReleaseMemoryIfIdle();  // not idle: must keep the bytes
  EXPECT_EQ(d.pending_bytes(), 6u);
  d.Feed(std::string_view(p).substr(6));
  auto n = d.Next();
  ASSERT_TRUE(n.ok() && n->has_value());
  EXPECT_EQ(std::get<Helo>(**n).name, "name");
  ASSERT_TRUE(d.Next().ok());
  EXPECT_EQ(d.pending_bytes(), 0u);
  d.ReleaseMemoryIfIdle();
  EXPECT_EQ(d.pending_bytes(), 0u);
  d.Feed(p);
  auto again = d.Next();
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ(std::get<Helo>(**again).name, "name");
}

TEST(DecodeViews, DecoderIsMovable) {
  CommandDecoder d;
  std::string p = Packet('H', "name\0"s);
  d.Feed(std::string_view(p).substr(0, 3));
  ASSERT_TRUE(d.Next().ok());
  CommandDecoder moved = std::move(d);
  moved.Feed(std::string_view(p).substr(3));
  auto n = moved.Next();
  ASSERT_TRUE(n.ok() && n->has_value());
  EXPECT_EQ(std::get<Helo>(**n).name, "name");
}

TEST(MessageNames, CommandAndResponseNames) {
  EXPECT_STREQ(CommandName(CommandCode::kConnect), "connect");
  EXPECT_STREQ(CommandName(CommandCode::kEndOfMessage), "end-of-message");
  EXPECT_STREQ(ResponseName(ResponseCode::kAddHeader), "add-header");
  EXPECT_STREQ(ResponseName(ResponseCode::kReplyCode), "reply-code");
  for (char c : std::string("ODCHMRTLNBEUAQK")) {
    EXPECT_STRNE(CommandName(static_cast<CommandCode>(c)), "?") << c;
  }
  for (char c : std::string("Ocartdsp4fyqhime+2-b")) {
    EXPECT_STRNE(ResponseName(static_cast<ResponseCode>(c)), "?") << c;
  }
}

}  // namespace
}  // namespace milter::codec
