// Encoder tests: byte-exact packets for fixed inputs, and round-trip property
// tests (encode -> decode -> equal) over every message type with randomized
// field contents, including header values that are not UTF-8.

#include "milter/codec/encoder.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "milter/codec/byte_order.h"
#include "milter/codec/decoder.h"
#include "milter/codec/test_util.h"

namespace milter::codec {
namespace {

using ::milter::codec::testing::Be32;
using ::milter::codec::testing::Packet;
using namespace std::string_literals;

TEST(EncodeExact, Commands) {
  EXPECT_EQ(Encode(OptionNegotiation{6, 0x1FF, 0x1FFFFF}),
            "\0\0\0\x0dO"s + Be32(6) + Be32(0x1FF) + Be32(0x1FFFFF));
  EXPECT_EQ(Encode(Connect{"host", Family::kInet, 25, "127.0.0.1"}),
            Packet('C',
                   "host\0"
                   "4\0\x19"
                   "127.0.0.1\0"s));
  EXPECT_EQ(Encode(Connect{"host", Family::kUnknown, 25, "ignored"}),
            Packet('C', "host\0U"s));
  EXPECT_EQ(Encode(Helo{"h"}), "\0\0\0\x03Hh\0"s);
  EXPECT_EQ(Encode(Data{}), "\0\0\0\x01T"s);
  EXPECT_EQ(Encode(EndOfHeaders{}), "\0\0\0\x01N"s);
  EXPECT_EQ(Encode(Abort{}),
            "\0\0\0\x01"
            "A"s);
  EXPECT_EQ(Encode(Quit{}), "\0\0\0\x01Q"s);
  EXPECT_EQ(Encode(QuitNewConnection{}), "\0\0\0\x01K"s);
  EXPECT_EQ(Encode(Header{"Subject", "hi"}), Packet('L', "Subject\0hi\0"s));
  EXPECT_EQ(Encode(BodyChunk{"abc"}), Packet('B', "abc"));
  EXPECT_EQ(Encode(EndOfMessage{""}), Packet('E', ""));
  EXPECT_EQ(Encode(Unknown{"HELP"}), Packet('U', "HELP\0"s));

  std::string args;
  AppendString("<a@b>", &args);
  AppendString("SIZE=1", &args);
  EXPECT_EQ(args, "<a@b>\0SIZE=1\0"s);
  EXPECT_EQ(Encode(Mail{StringList(args)}), Packet('M', args));
  EXPECT_EQ(Encode(Rcpt{StringList(args)}), Packet('R', args));

  std::string pairs;
  AppendMacroPair("i", "4ABC", &pairs);
  AppendMacroPair("{auth_type}", "", &pairs);
  EXPECT_EQ(pairs,
            "i\0"
            "4ABC\0{auth_type}\0\0"s);
  EXPECT_EQ(Encode(DefineMacros{'M', StringList(pairs)}),
            Packet('D', "M"s + pairs));
}

TEST(EncodeExact, EmptyMacroPacketStaysEmpty) {
  // Postfix may send a 'D' packet with no payload at all; it must re-encode
  // byte for byte.
  EXPECT_EQ(Encode(DefineMacros{}), Packet('D', ""));
  EXPECT_EQ(Encode(DefineMacros{'C', StringList()}), Packet('D', "C"));
}

TEST(EncodeExact, Responses) {
  OptionNegotiationReply o{6, 0x1FF, 0x1000, {}};
  o.symbol_lists[5] = "i";
  o.symbol_lists[0] = "j {daemon_name}";
  EXPECT_EQ(Encode(o),
            Packet('O', Be32(6) + Be32(0x1FF) + Be32(0x1000) + Be32(0) +
                            "j {daemon_name}\0"s + Be32(5) + "i\0"s));
  EXPECT_EQ(Encode(Continue{}),
            "\0\0\0\x01"
            "c"s);
  EXPECT_EQ(Encode(Accept{}),
            "\0\0\0\x01"
            "a"s);
  EXPECT_EQ(Encode(Reject{}), "\0\0\0\x01r"s);
  EXPECT_EQ(Encode(Tempfail{}), "\0\0\0\x01t"s);
  EXPECT_EQ(Encode(Discard{}),
            "\0\0\0\x01"
            "d"s);
  EXPECT_EQ(Encode(Skip{}), "\0\0\0\x01s"s);
  EXPECT_EQ(Encode(Progress{}), "\0\0\0\x01p"s);
  EXPECT_EQ(Encode(Shutdown{}),
            "\0\0\0\x01"
            "4"s);
  EXPECT_EQ(Encode(ConnectionFail{}),
            "\0\0\0\x01"
            "f"s);
  EXPECT_EQ(Encode(ReplyCode{"550 5.7.1 no"}), Packet('y', "550 5.7.1 no\0"s));
  EXPECT_EQ(Encode(Quarantine{"q"}), Packet('q', "q\0"s));
  EXPECT_EQ(Encode(AddHeader{"X-Sample", "yes"}),
            Packet('h', "X-Sample\0yes\0"s));
  EXPECT_EQ(Encode(InsertHeader{3, "X", "v"}),
            Packet('i', Be32(3) + "X\0v\0"s));
  EXPECT_EQ(Encode(ChangeHeader{1, "Subject", "[sample] hi"}),
            Packet('m', Be32(1) + "Subject\0[sample] hi\0"s));
  EXPECT_EQ(Encode(ChangeFrom{"<a@b>", std::nullopt}), Packet('e', "<a@b>\0"s));
  EXPECT_EQ(Encode(ChangeFrom{"<a@b>", "X=Y"}), Packet('e', "<a@b>\0X=Y\0"s));
  EXPECT_EQ(Encode(AddRecipient{"<c@d>"}), Packet('+', "<c@d>\0"s));
  EXPECT_EQ(Encode(AddRecipientWithArgs{"<c@d>", "N=1"}),
            Packet('2', "<c@d>\0N=1\0"s));
  EXPECT_EQ(Encode(DeleteRecipient{"<c@d>"}), Packet('-', "<c@d>\0"s));
  EXPECT_EQ(Encode(ReplaceBody{"replaced\r\n"}), Packet('b', "replaced\r\n"));
}

TEST(EncodeExact, AppendsToExistingBuffer) {
  std::string out = "prefix";
  EncodeCommand(Data{}, &out);
  EncodeResponse(Continue{}, &out);
  EncodeRaw('Z', "raw", &out);
  EXPECT_EQ(out,
            "prefix\0\0\0\x01T\0\0\0\x01"
            "c"s +
                Packet('Z', "raw"));
}

TEST(EncodeExact, LargeBodyLength) {
  std::string body(65535, 'x');
  std::string packet = Encode(BodyChunk{body});
  EXPECT_EQ(packet.substr(0, 5),
            "\0\x01\0\0"
            "B"s);
  EXPECT_EQ(packet.size(), 65540u);
}

// ---------------------------------------------------------------------------
// Random round trips.

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}

  uint32_t U32() { return static_cast<uint32_t>(rng_()); }
  size_t Size(size_t max) { return rng_() % (max + 1); }
  bool Coin() { return rng_() % 2; }

  // Bytes without NUL (for C-string fields), drawn from mixed alphabets:
  // ASCII, high bytes, Shift_JIS double-byte sequences, CR/LF/TAB.
  std::string CString(size_t max) {
    std::string s;
    size_t n = Size(max);
    while (s.size() < n) {
      switch (rng_() % 4) {
        case 0:
          s.push_back(static_cast<char>(0x20 + rng_() % 0x5f));
          break;
        case 1:
          s.push_back(static_cast<char>(1 + rng_() % 255));
          break;
        case 2: {  // Shift_JIS: lead 0x81-0x9F or 0xE0-0xEF, trail 0x40-0xFC
          unsigned lead =
              rng_() % 2 ? 0x81 + rng_() % 0x1f : 0xe0 + rng_() % 0x10;
          s.push_back(static_cast<char>(lead));
          s.push_back(static_cast<char>(0x40 + rng_() % 0xbd));
          break;
        }
        default: {
          static const char kWs[] = "\r\n\t ";
          s.push_back(kWs[rng_() % 4]);
        }
      }
    }
    return s;
  }

  // Arbitrary bytes, NUL included.
  std::string Bytes(size_t max) {
    std::string s(Size(max), '\0');
    for (char& c : s) c = static_cast<char>(rng_());
    return s;
  }

  std::string List(size_t max_items, bool at_least_one) {
    std::string out;
    size_t n = Size(max_items) + (at_least_one ? 1 : 0);
    for (size_t i = 0; i < n; ++i) AppendString(CString(40), &out);
    return out;
  }

 private:
  std::mt19937 rng_;
};

// Storage for the strings the generated messages view.
struct Arena {
  std::vector<std::unique_ptr<std::string>> strings;
  std::string_view Keep(std::string s) {
    strings.push_back(std::make_unique<std::string>(std::move(s)));
    return *strings.back();
  }
};

Command RandomCommand(Gen& g, Arena& a, int kind) {
  switch (kind) {
    case 0:
      return OptionNegotiation{g.U32(), g.U32(), g.U32()};
    case 1: {
      static const char kCodes[] = "CHMRTENLBU";
      return DefineMacros{kCodes[g.Size(9)],
                          StringList(a.Keep(g.List(6, false)))};
    }
    case 2: {
      static const Family kFamilies[] = {Family::kUnknown, Family::kUnix,
                                         Family::kInet, Family::kInet6};
      Family f = kFamilies[g.Size(3)];
      if (f == Family::kUnknown)
        return Connect{a.Keep(g.CString(60)), f, 0, ""};
      return Connect{a.Keep(g.CString(60)), f, static_cast<uint16_t>(g.U32()),
                     a.Keep(g.CString(60))};
    }
    case 3:
      return Helo{a.Keep(g.CString(80))};
    case 4:
      return Mail{StringList(a.Keep(g.List(4, true)))};
    case 5:
      return Rcpt{StringList(a.Keep(g.List(4, true)))};
    case 6:
      return Data{};
    case 7:
      return Header{a.Keep(g.CString(30)), a.Keep(g.CString(300))};
    case 8:
      return EndOfHeaders{};
    case 9:
      return BodyChunk{a.Keep(g.Bytes(g.Coin() ? 65535 : 100))};
    case 10:
      return EndOfMessage{a.Keep(g.Bytes(g.Coin() ? 0 : 2000))};
    case 11:
      return Unknown{a.Keep(g.CString(100))};
    case 12:
      return Abort{};
    case 13:
      return Quit{};
    default:
      return QuitNewConnection{};
  }
}
constexpr int kCommandKinds = 15;

Response RandomResponse(Gen& g, Arena& a, int kind) {
  switch (kind) {
    case 0: {
      OptionNegotiationReply o{g.U32(), g.U32(), g.U32(), {}};
      for (auto& list : o.symbol_lists) {
        if (g.Coin()) list = a.Keep(g.CString(50));
      }
      return o;
    }
    case 1:
      return Continue{};
    case 2:
      return Accept{};
    case 3:
      return Reject{};
    case 4:
      return Tempfail{};
    case 5:
      return Discard{};
    case 6:
      return Skip{};
    case 7:
      return Progress{};
    case 8:
      return Shutdown{};
    case 9:
      return ConnectionFail{};
    case 10:
      return ReplyCode{a.Keep(g.CString(200))};
    case 11:
      return Quarantine{a.Keep(g.CString(100))};
    case 12:
      return AddHeader{a.Keep(g.CString(30)), a.Keep(g.CString(300))};
    case 13:
      return InsertHeader{g.U32(), a.Keep(g.CString(30)),
                          a.Keep(g.CString(300))};
    case 14:
      return ChangeHeader{g.U32(), a.Keep(g.CString(30)),
                          a.Keep(g.CString(300))};
    case 15: {
      ChangeFrom e{a.Keep(g.CString(60)), std::nullopt};
      if (g.Coin()) e.args = a.Keep(g.CString(60));
      return e;
    }
    case 16:
      return AddRecipient{a.Keep(g.CString(60))};
    case 17:
      return AddRecipientWithArgs{a.Keep(g.CString(60)), a.Keep(g.CString(60))};
    case 18:
      return DeleteRecipient{a.Keep(g.CString(60))};
    default:
      return ReplaceBody{a.Keep(g.Bytes(g.Coin() ? 65535 : 300))};
  }
}
constexpr int kResponseKinds = 20;

TEST(RoundTrip, EveryCommandTypeRandomized) {
  Gen g(20240611);
  for (int iteration = 0; iteration < 40; ++iteration) {
    for (int kind = 0; kind < kCommandKinds; ++kind) {
      Arena arena;
      Command original = RandomCommand(g, arena, kind);
      std::string bytes = Encode(original);
      ASSERT_EQ(size_t{LoadBigEndian32(bytes.data())} + 4, bytes.size());
      CommandDecoder d;
      d.Feed(bytes);
      auto next = d.Next();
      ASSERT_TRUE(next.ok()) << next.status() << " kind " << kind;
      ASSERT_TRUE(next->has_value());
      EXPECT_EQ(**next, original) << "kind " << kind;
      EXPECT_EQ(CodeOf(**next), CodeOf(original));
      EXPECT_EQ(Encode(**next), bytes);
    }
  }
}

TEST(RoundTrip, EveryResponseTypeRandomized) {
  Gen g(4242);
  for (int iteration = 0; iteration < 40; ++iteration) {
    for (int kind = 0; kind < kResponseKinds; ++kind) {
      Arena arena;
      Response original = RandomResponse(g, arena, kind);
      std::string bytes = Encode(original);
      ResponseDecoder d;
      d.Feed(bytes);
      auto next = d.Next();
      ASSERT_TRUE(next.ok()) << next.status() << " kind " << kind;
      ASSERT_TRUE(next->has_value());
      EXPECT_EQ(**next, original) << "kind " << kind;
      EXPECT_EQ(Encode(**next), bytes);
    }
  }
}

TEST(RoundTrip, RandomSequencesInRandomSplits) {
  Gen g(99);
  std::mt19937 split_rng(5);
  for (int round = 0; round < 20; ++round) {
    Arena arena;
    std::vector<Command> commands;
    std::vector<Response> responses;
    std::string command_stream, response_stream;
    for (int i = 0; i < 30; ++i) {
      commands.push_back(
          RandomCommand(g, arena, static_cast<int>(g.Size(kCommandKinds - 1))));
      EncodeCommand(commands.back(), &command_stream);
      responses.push_back(RandomResponse(
          g, arena, static_cast<int>(g.Size(kResponseKinds - 1))));
      EncodeResponse(responses.back(), &response_stream);
    }
    // Decode with random feed sizes; compare each message as it comes out.
    CommandDecoder cd;
    size_t ci = 0;
    for (size_t pos = 0; pos < command_stream.size();) {
      size_t n =
          std::min<size_t>(1 + split_rng() % 3000, command_stream.size() - pos);
      std::string piece = command_stream.substr(pos, n);
      pos += n;
      cd.Feed(piece);
      while (true) {
        auto next = cd.Next();
        ASSERT_TRUE(next.ok()) << next.status();
        if (!next->has_value()) break;
        ASSERT_LT(ci, commands.size());
        EXPECT_EQ(**next, commands[ci]) << "command " << ci;
        ++ci;
      }
    }
    EXPECT_EQ(ci, commands.size());
    ResponseDecoder rd;
    size_t ri = 0;
    for (size_t pos = 0; pos < response_stream.size();) {
      size_t n = std::min<size_t>(1 + split_rng() % 3000,
                                  response_stream.size() - pos);
      std::string piece = response_stream.substr(pos, n);
      pos += n;
      rd.Feed(piece);
      while (true) {
        auto next = rd.Next();
        ASSERT_TRUE(next.ok()) << next.status();
        if (!next->has_value()) break;
        ASSERT_LT(ri, responses.size());
        EXPECT_EQ(**next, responses[ri]) << "response " << ri;
        ++ri;
      }
    }
    EXPECT_EQ(ri, responses.size());
  }
}

TEST(RoundTrip, ShiftJisHeaderValue) {
  // "Subject: 日本語のテスト" encoded as Shift_JIS, including 0x5C ("\") and
  // 0x7C trail bytes that trip naive parsers.
  std::string value =
      "\x93\xfa\x96\x7b\x8c\xea\x82\xcc\x83\x65\x83\x58"
      "\x83\x67 \x95\x5c\x8e\xa6\x83\x7c";
  std::string bytes = Encode(Header{"Subject", value});
  CommandDecoder d;
  d.Feed(bytes);
  auto next = d.Next();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ(std::get<Header>(**next).value, value);
  std::string reply = Encode(ChangeHeader{1, "Subject", value});
  ResponseDecoder rd;
  rd.Feed(reply);
  auto r = rd.Next();
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(std::get<ChangeHeader>(**r).value, value);
}

TEST(StringListTest, IterationAndSize) {
  StringList empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.begin(), empty.end());
  EXPECT_EQ(empty.front(), "");
  std::string raw = "a\0\0bc\0"s;  // "a", "", "bc"
  StringList list(raw);
  EXPECT_EQ(list.size(), 3u);
  std::vector<std::string_view> items(list.begin(), list.end());
  EXPECT_EQ(items, (std::vector<std::string_view>{"a", "", "bc"}));
  EXPECT_EQ(list.front(), "a");
  EXPECT_EQ(list.raw(), raw);
  std::string same = raw;
  EXPECT_EQ(list, StringList(same));
  EXPECT_FALSE(list == StringList(std::string_view(raw).substr(0, 2)));
}

}  // namespace
}  // namespace milter::codec
