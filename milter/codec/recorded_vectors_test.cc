// Decodes every capture in testdata/recorded (real Postfix <-> real libmilter
// filter, see its README.md) completely, whole and byte by byte, and checks
// concrete content.

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"
#include "milter/codec/macros.h"
#include "milter/codec/negotiation.h"
#include "milter/codec/protocol.h"
#include "milter/codec/reply.h"

namespace milter::codec {
namespace {

std::string ReadCapture(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  std::string path = std::string(srcdir ? srcdir : ".") + "/" +
                     (workspace ? workspace : "libmilterpp") +
                     "/testdata/recorded/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// A decoded message together with the bytes it views (so it can be kept).
template <typename Message>
struct Owned {
  std::string packet;  // the re-encoded packet (== the captured bytes)
  Message message;
};

// Decodes a whole capture; fails the test on any error or leftover byte.
// Also decodes it byte by byte and checks that both agree.
template <typename Message>
std::vector<Owned<Message>> DecodeCapture(const std::string& name) {
  std::string bytes = ReadCapture(name);
  EXPECT_FALSE(bytes.empty()) << name;
  std::vector<Owned<Message>> out;
  {
    Decoder<Message> d;
    d.Feed(bytes);
    std::string joined;
    while (true) {
      auto next = d.Next();
      if (!next.ok()) {
        ADD_FAILURE() << name << ": " << next.status();
        return out;
      }
      if (!next->has_value()) break;
      Owned<Message> owned;
      owned.packet = Encode(**next);
      joined += owned.packet;
      out.push_back(std::move(owned));
    }
    EXPECT_EQ(d.pending_bytes(), 0u) << name;
    // The captured bytes re-encode byte for byte.
    EXPECT_EQ(joined, bytes) << name;
  }
  // Re-parse each owned packet so its views point into the owned bytes.
  for (auto& o : out) {
    Decoder<Message> one;
    one.Feed(o.packet);
    auto m = one.Next();
    EXPECT_TRUE(m.ok() && m->has_value());
    if (m.ok() && m->has_value()) o.message = **m;
  }
  // Byte by byte: the same sequence of packets.
  Decoder<Message> d;
  size_t i = 0;
  for (char c : bytes) {
    d.Feed(std::string_view(&c, 1));
    while (true) {
      auto next = d.Next();
      if (!next.ok()) {
        ADD_FAILURE() << name << " byte-wise: " << next.status();
        return out;
      }
      if (!next->has_value()) break;
      EXPECT_LT(i, out.size());
      if (i < out.size()) {
        EXPECT_EQ(Encode(**next), out[i].packet) << name;
      }
      ++i;
    }
  }
  EXPECT_EQ(i, out.size()) << name;
  return out;
}

std::string Codes(const std::vector<Owned<Command>>& v) {
  std::string s;
  for (const auto& o : v) s += static_cast<char>(CodeOf(o.message));
  return s;
}
std::string Codes(const std::vector<Owned<Response>>& v) {
  std::string s;
  for (const auto& o : v) s += static_cast<char>(CodeOf(o.message));
  return s;
}

template <typename T, typename Message>
std::vector<T> All(const std::vector<Owned<Message>>& v) {
  std::vector<T> out;
  for (const auto& o : v) {
    if (auto* t = std::get_if<T>(&o.message)) out.push_back(*t);
  }
  return out;
}

const char* const kSessions[] = {
    "plain",           "reject_sender",
    "multi_rcpt",      "nomod",
    "replace",         "shift_jis_header",
    "two_body_chunks", "unknown_rset_two_messages"};

// Checks common to every session.
TEST(RecordedVectors, EverySessionDecodesCompletely) {
  for (const char* name : kSessions) {
    SCOPED_TRACE(name);
    auto commands =
        DecodeCapture<Command>(std::string(name) + ".mta_to_filter");
    auto responses =
        DecodeCapture<Response>(std::string(name) + ".filter_to_mta");
    ASSERT_GE(commands.size(), 5u);
    ASSERT_GE(responses.size(), 2u);

    // Postfix 3.7's offer: version 6, every action, every v6 protocol flag.
    auto offer = std::get<OptionNegotiation>(commands[0].message);
    EXPECT_EQ(offer.version, 6u);
    EXPECT_EQ(offer.actions, action::kAll);
    EXPECT_EQ(offer.protocol, 0x001FFFFFu);
    EXPECT_EQ(ProtocolFlagsToString(offer.protocol).find("0x"),
              std::string::npos);

    // libmilter's answer for the sample filter's flags.
    auto reply = std::get<OptionNegotiationReply>(responses[0].message);
    EXPECT_EQ(reply.version, 6u);
    EXPECT_EQ(reply.actions, action::kAddHeaders | action::kChangeHeaders |
                                 action::kAddRecipient | action::kChangeBody);
    EXPECT_EQ(reply.protocol, 0u);
    for (const auto& list : reply.symbol_lists) EXPECT_FALSE(list.has_value());
    // ...which our MTA side accepts.
    auto accepted = AcceptFilterReply(offer, reply);
    ASSERT_TRUE(accepted.ok()) << accepted.status();
    EXPECT_EQ(accepted->max_payload, kDefaultMaxPayload);

    // Connection from the loopback test client.
    auto connect = All<Connect>(commands);
    ASSERT_EQ(connect.size(), 1u);
    EXPECT_EQ(connect[0].family, Family::kInet);
    EXPECT_EQ(connect[0].address, "127.0.0.1");
    EXPECT_EQ(connect[0].hostname, "[127.0.0.1]");
    EXPECT_NE(connect[0].port, 0);
    auto helo = All<Helo>(commands);
    ASSERT_EQ(helo.size(), 1u);
    EXPECT_EQ(helo[0].name, "client.pf-test.example");

    // Postfix ends every session with Quit, after (double) aborts.
    std::string codes = Codes(commands);
    EXPECT_EQ(codes.substr(codes.size() - 3), "AAQ") << codes;

    // One verdict per command that expects a reply (no no-reply flags were
    // negotiated), once the final verdict is discounted.
    size_t asked = 0;
    for (char c : codes)
      asked += std::string("CHMRTLNBEU").find(c) != std::string::npos;
    size_t verdicts = 0;
    for (char c : Codes(responses))
      verdicts += std::string("cartdy").find(c) != std::string::npos;
    EXPECT_EQ(asked, verdicts) << codes << " / " << Codes(responses);

    // Macros, gathered per stage as a filter library would.
    MacroMap macros;
    for (const auto& d : All<DefineMacros>(commands)) {
      int stage = MacroStageForCommand(d.command_code);
      if (stage >= 0) macros.SetStage(static_cast<MacroStage>(stage), d.pairs);
    }
    EXPECT_EQ(macros.Get("j"), "mx.pf-test.example");
    EXPECT_EQ(macros.Get("{j}"), "mx.pf-test.example");
    EXPECT_EQ(macros.GetInStage(MacroStage::kConnect, "{daemon_addr}"),
              "127.0.0.1");
    EXPECT_EQ(macros.Get("{client_addr}").value_or("127.0.0.1"), "127.0.0.1");
    EXPECT_TRUE(macros.Get("{mail_addr}").has_value());
  }
}

TEST(RecordedVectors, Plain) {
  auto commands = DecodeCapture<Command>("plain.mta_to_filter");
  auto responses = DecodeCapture<Response>("plain.filter_to_mta");
  // Every step, macros before C H M R T L N B E.
  std::string codes = Codes(commands);
  std::string without_macros;
  for (char c : codes)
    if (c != 'D') without_macros += c;
  EXPECT_EQ(without_macros, "OCHMRTLLLLLNBEAAQ");
  // Postfix also sends 'D' packets before headers, end of headers and body.
  std::string macro_codes;
  for (const auto& d : All<DefineMacros>(commands))
    macro_codes += d.command_code;
  EXPECT_EQ(macro_codes, "CHMRTLLLLLNBE");

  auto mail = All<Mail>(commands);
  ASSERT_EQ(mail.size(), 1u);
  EXPECT_EQ(mail[0].address(), "<sender@client.example>");
  auto rcpt = All<Rcpt>(commands);
  ASSERT_EQ(rcpt.size(), 1u);
  EXPECT_EQ(rcpt[0].address(), "<rcpt@dest.example>");

  auto headers = All<Header>(commands);
  ASSERT_EQ(headers.size(), 5u);
  EXPECT_EQ(headers[0].name, "From");
  EXPECT_EQ(headers[0].value, "sender@client.example");  // leading space gone
  EXPECT_EQ(headers[2].name, "Subject");
  EXPECT_EQ(headers[2].value, "Hello");
  auto body = All<BodyChunk>(commands);
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0].data, "Hello, world.\r\n");
  EXPECT_EQ(All<EndOfMessage>(commands)[0].data, "");

  // The queue ID macro from DATA on.
  MacroMap macros;
  for (const auto& d : All<DefineMacros>(commands)) {
    if (d.command_code == 'T') macros.SetStage(MacroStage::kData, d.pairs);
  }
  ASSERT_TRUE(macros.Get("i").has_value());
  EXPECT_EQ(macros.Get("i")->size(), 11u);  // e.g. "BD848A724D4"

  EXPECT_EQ(Codes(responses), "O" + std::string(12, 'c') + "hm+c");
  auto add = All<AddHeader>(responses);
  ASSERT_EQ(add.size(), 1u);
  EXPECT_EQ(add[0].name, "X-Sample");
  EXPECT_EQ(add[0].value, "yes");
  auto change = All<ChangeHeader>(responses);
  ASSERT_EQ(change.size(), 1u);
  EXPECT_EQ(change[0].index, 1u);
  EXPECT_EQ(change[0].name, "Subject");
  EXPECT_EQ(change[0].value, "[sample] Hello");
  auto added = All<AddRecipient>(responses);
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].address, "<added@dest.example>");
}

TEST(RecordedVectors, RejectSender) {
  auto commands = DecodeCapture<Command>("reject_sender.mta_to_filter");
  auto responses = DecodeCapture<Response>("reject_sender.filter_to_mta");
  auto mail = All<Mail>(commands);
  ASSERT_EQ(mail.size(), 1u);
  EXPECT_EQ(mail[0].address(), "<reject@example.com>");
  EXPECT_TRUE(All<Rcpt>(commands).empty());
  EXPECT_EQ(Codes(responses), "Occy");
  auto y = All<ReplyCode>(responses);
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].text, "550 5.7.1 Sender rejected by sample filter");
  auto parsed = ParseReply(y[0].text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->code, "550");
  EXPECT_EQ(parsed->enhanced, "5.7.1");
}

TEST(RecordedVectors, MultipleRecipients) {
  auto commands = DecodeCapture<Command>("multi_rcpt.mta_to_filter");
  auto responses = DecodeCapture<Response>("multi_rcpt.filter_to_mta");
  std::vector<std::string> rcpts;
  for (const auto& r : All<Rcpt>(commands)) rcpts.emplace_back(r.address());
  EXPECT_EQ(rcpts, (std::vector<std::string>{"<first@dest.example>",
                                             "<second@other.example>",
                                             "<third@third.example>"}));
  // {rcpt_addr} in each 'D' before an 'R' names that recipient.
  std::vector<std::string> macro_rcpts;
  for (const auto& d : All<DefineMacros>(commands)) {
    if (d.command_code != 'R') continue;
    MacroMap m;
    m.SetStage(MacroStage::kRcpt, d.pairs);
    macro_rcpts.emplace_back(m.Get("rcpt_addr").value_or("?"));
  }
  EXPECT_EQ(macro_rcpts, (std::vector<std::string>{"first@dest.example",
                                                   "second@other.example",
                                                   "third@third.example"}));
  auto added = All<AddRecipient>(responses);
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].address, "<added@dest.example>");
}

TEST(RecordedVectors, NoModification) {
  auto responses = DecodeCapture<Response>("nomod.filter_to_mta");
  std::string codes = Codes(responses);
  EXPECT_EQ(codes.back(), 'a') << codes;
  EXPECT_EQ(codes.find_first_of("hm+b"), std::string::npos) << codes;
  auto commands = DecodeCapture<Command>("nomod.mta_to_filter");
  bool saw = false;
  for (const auto& h : All<Header>(commands)) {
    if (h.name == "Subject") saw = h.value == "NOMOD please";
  }
  EXPECT_TRUE(saw);
}

TEST(RecordedVectors, ReplaceBody) {
  auto responses = DecodeCapture<Response>("replace.filter_to_mta");
  auto b = All<ReplaceBody>(responses);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].data, "replaced\r\n");
  auto change = All<ChangeHeader>(responses);
  ASSERT_EQ(change.size(), 1u);
  EXPECT_EQ(change[0].value, "[sample] please REPLACE it");
  std::string codes = Codes(responses);
  EXPECT_EQ(codes.substr(codes.size() - 5), "hm+bc");
}

TEST(RecordedVectors, ShiftJisHeaderBytes) {
  const std::string sjis_subject = "\x93\xfa\x96\x7b\x8c\xea";
  const std::string sjis_test = "\x83\x65\x83\x58\x83\x67";
  auto commands = DecodeCapture<Command>("shift_jis_header.mta_to_filter");
  std::map<std::string, std::string> headers;
  for (const auto& h : All<Header>(commands)) {
    headers[std::string(h.name)] = std::string(h.value);
  }
  EXPECT_EQ(headers["Subject"], sjis_subject);
  EXPECT_EQ(headers["X-Japanese"], sjis_test);
  auto responses = DecodeCapture<Response>("shift_jis_header.filter_to_mta");
  auto change = All<ChangeHeader>(responses);
  ASSERT_EQ(change.size(), 1u);
  EXPECT_EQ(change[0].value, "[sample] " + sjis_subject);
}

TEST(RecordedVectors, TwoBodyChunks) {
  auto commands = DecodeCapture<Command>("two_body_chunks.mta_to_filter");
  auto body = All<BodyChunk>(commands);
  ASSERT_EQ(body.size(), 2u);
  EXPECT_EQ(body[0].data.size(), kBodyChunkSize);
  std::string all = std::string(body[0].data) + std::string(body[1].data);
  EXPECT_EQ(all.size(), 1100u * 60);
  EXPECT_EQ(all.substr(0, 9), "line 0001");
  EXPECT_EQ(all.substr(all.size() - 60, 9), "line 1100");
  EXPECT_EQ(all.substr(all.size() - 2), "\r\n");
}

TEST(RecordedVectors, UnknownCommandRsetAndTwoMessages) {
  auto commands =
      DecodeCapture<Command>("unknown_rset_two_messages.mta_to_filter");
  auto responses =
      DecodeCapture<Response>("unknown_rset_two_messages.filter_to_mta");
  std::string codes;
  for (char c : Codes(commands))
    if (c != 'D') codes += c;
  // RSET after RCPT gives one abort; each message ends with an abort, the
  // last one (before QUIT) with two.
  EXPECT_EQ(codes, "OCHUMRAMRTLLLLNBEAMRTLLLLNBEAAQ");
  auto unknown = All<Unknown>(commands);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].command, "XYZZY");  // Postfix sends the verb only
  std::vector<std::string> from;
  for (const auto& m : All<Mail>(commands)) from.emplace_back(m.address());
  EXPECT_EQ(from, (std::vector<std::string>{"<first@client.example>",
                                            "<second@client.example>",
                                            "<third@client.example>"}));
  // The first delivered message is modified, the NOMOD one accepted as is.
  std::string rcodes = Codes(responses);
  EXPECT_EQ(rcodes,
            "O" + std::string(14, 'c') + "hm+c" + std::string(9, 'c') + "a");
  auto change = All<ChangeHeader>(responses);
  ASSERT_EQ(change.size(), 1u);
  EXPECT_EQ(change[0].value, "[sample] after rset");
}

}  // namespace
}  // namespace milter::codec
