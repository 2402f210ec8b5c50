// Session tests against scripted filters: every stage, macros and symbol
// lists, negotiation, deferred writes, several sessions at once.

#include "milter/server/session.h"

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/write.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "milter/codec/encoder.h"
#include "milter/codec/protocol.h"
#include "milter/server/blocking_session.h"
#include "milter/server/fake_filter.h"

namespace milter::server {
namespace {

using ::testing::ElementsAre;
using testing::FakeFilter;
using testing::FilterConnection;
using testing::Packet;
using ::testing::Pair;
namespace action = codec::action;
namespace protocol = codec::protocol;

ConnectionInfo Client() {
  ConnectionInfo info;
  info.hostname = "mx.example.net";
  info.family = codec::Family::kInet;
  info.port = 50000;
  info.address = "192.168.123.123";
  return info;
}

// Reads the next non-macro command and answers `response`.
void Answer(FilterConnection& c, char code, const codec::Response& response) {
  std::optional<Packet> p = c.ReadUntil(code);
  if (p) c.Send(response);
}

TEST(SessionTest, FullTransactionWithModifications) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, action::kAll, 0);
    Answer(c, 'C', codec::Continue{});
    Answer(c, 'H', codec::Continue{});
    Answer(c, 'M', codec::Continue{});
    Answer(c, 'R', codec::Continue{});
    Answer(c, 'T', codec::Continue{});
    Answer(c, 'L', codec::Continue{});
    Answer(c, 'N', codec::Continue{});
    Answer(c, 'B', codec::Continue{});
    c.ReadUntil('E');
    c.Send(codec::Progress{});
    c.Send(codec::AddHeader{"X-Test", "yes"});
    c.Send(codec::ChangeHeader{1, "Subject", "[tag] hi"});
    c.Send(codec::InsertHeader{0, "X-First", "1"});
    c.Send(codec::ChangeFrom{"<new@example.com>", "SIZE=1"});
    c.Send(codec::AddRecipient{"<added@example.com>"});
    c.Send(codec::AddRecipientWithArgs{"<args@example.com>", "NOTIFY=NEVER"});
    c.Send(codec::DeleteRecipient{"<b@example.com>"});
    c.Send(codec::ReplaceBody{"new "});
    c.Send(codec::ReplaceBody{"body\r\n"});
    c.Send(codec::Quarantine{"suspicious"});
    c.Send(codec::Accept{});
    c.ReadUntil('A');
    // Second message on the same connection.
    Answer(c, 'M', codec::ReplyCode{"550 5.7.1 no thanks"});
    c.ReadUntil('Q');
  });

  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  EXPECT_EQ(s.session().negotiated().version, 6u);
  EXPECT_EQ(s.session().negotiated().actions, action::kAll);

  Macros connect_macros = {{"j", "mx.example.net"}, {"{daemon_name}", "test"}};
  auto v = s.Connect(Client(), connect_macros);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->decision, Decision::kContinue);
  ASSERT_TRUE(s.Helo("delian").ok());
  ASSERT_TRUE(s.Mail("<a@example.com>", {"SIZE=100"},
                     {{"{mail_addr}", "a@example.com"}})
                  .ok());
  ASSERT_TRUE(s.Rcpt("<b@example.com>").ok());
  ASSERT_TRUE(s.Data({{"i", "QID1"}}).ok());
  ASSERT_TRUE(s.Header("Subject", "hi").ok());
  ASSERT_TRUE(s.EndOfHeaders().ok());
  v = s.Body("hello\r\n");
  ASSERT_TRUE(v.ok()) << v.status();
  auto eom = s.EndOfMessage({{"i", "QID1"}});
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_EQ(eom->verdict.decision, Decision::kAccept);
  EXPECT_EQ(eom->verdict.progress, 1);
  EXPECT_EQ(eom->quarantine(), "suspicious");
  EXPECT_THAT(
      eom->modifications,
      ElementsAre(
          Modification{mod::AddHeader{"X-Test", "yes"}},
          Modification{mod::ChangeHeader{1, "Subject", "[tag] hi"}},
          Modification{mod::InsertHeader{0, "X-First", "1"}},
          Modification{mod::ChangeFrom{"<new@example.com>", "SIZE=1"}},
          Modification{mod::AddRecipient{"<added@example.com>", std::nullopt}},
          Modification{mod::AddRecipient{"<args@example.com>", "NOTIFY=NEVER"}},
          Modification{mod::DeleteRecipient{"<b@example.com>"}},
          Modification{mod::ReplaceBody{"new body\r\n"}},
          Modification{mod::Quarantine{"suspicious"}}));
  ASSERT_TRUE(s.Abort().ok());
  v = s.Mail("<c@example.com>");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->decision, Decision::kReject);
  EXPECT_EQ(v->reply, "550 5.7.1 no thanks");
  EXPECT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "ODCHDMRDTLNBDEAMQ");
}

TEST(SessionTest, SendsConnectAndMacrosOnTheWire) {
  std::vector<Packet> seen;
  FakeFilter filter([&](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    Answer(c, 'C', codec::Continue{});
    Answer(c, 'M', codec::Continue{});
    c.ReadUntil('Q');
    seen = c.received();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  ASSERT_TRUE(s.Connect(Client(), {{"j", "host"}}).ok());
  ASSERT_TRUE(s.Mail("<a@b>", {"SIZE=5", "BODY=8BITMIME"}).ok());
  ASSERT_TRUE(s.Quit().ok());
  filter.Join();
  ASSERT_EQ(seen.size(), 5u);
  auto macros = std::get<codec::DefineMacros>(seen[1].Parse());
  EXPECT_EQ(macros.command_code, 'C');
  EXPECT_EQ(macros.pairs.raw(), std::string_view("j\0host\0", 7));
  auto connect = std::get<codec::Connect>(seen[2].Parse());
  EXPECT_EQ(connect.hostname, "mx.example.net");
  EXPECT_EQ(connect.family, codec::Family::kInet);
  EXPECT_EQ(connect.port, 50000);
  EXPECT_EQ(connect.address, "192.168.123.123");
  auto mail = std::get<codec::Mail>(seen[3].Parse());
  std::vector<std::string> args(mail.args.begin(), mail.args.end());
  EXPECT_THAT(args, ElementsAre("<a@b>", "SIZE=5", "BODY=8BITMIME"));
}

TEST(SessionTest, HonoursNoSendFlags) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0,
                protocol::kNoConnect | protocol::kNoHelo |
                    protocol::kNoHeaders | protocol::kNoBody |
                    protocol::kNoData | protocol::kNoUnknown);
    Answer(c, 'M', codec::Continue{});
    Answer(c, 'R', codec::Continue{});
    Answer(c, 'N', codec::Continue{});
    Answer(c, 'E', codec::Continue{});
    c.ReadUntil('Q');
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto connect = s.Connect(Client(), {{"j", "x"}});
  ASSERT_TRUE(connect.ok());
  EXPECT_FALSE(connect->sent);
  EXPECT_FALSE(connect->answered);
  ASSERT_TRUE(s.Helo("delian", {{"{tls_version}", "x"}}).ok());
  ASSERT_TRUE(s.Unknown("FOO").ok());
  ASSERT_TRUE(s.Mail("<a@b>").ok());
  ASSERT_TRUE(s.Rcpt("<c@d>").ok());
  ASSERT_TRUE(s.Data().ok());
  ASSERT_TRUE(s.Header("Subject", "x").ok());
  ASSERT_TRUE(s.EndOfHeaders().ok());
  ASSERT_TRUE(s.Body("body").ok());
  auto eom = s.EndOfMessage();
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_EQ(eom->verdict.decision, Decision::kContinue);
  ASSERT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OMRNEQ");
}

TEST(SessionTest, HonoursNoReplyFlags) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0,
                protocol::kNoReplyConnect | protocol::kNoReplyHeader |
                    protocol::kNoReplyBody | protocol::kNoReplyEndOfHeaders);
    c.ReadUntil('C');  // no answer
    c.ReadUntil('L');
    c.ReadUntil('L');
    c.ReadUntil('N');
    c.ReadUntil('B');
    Answer(c, 'E', codec::Continue{});
    c.ReadUntil('Q');
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto connect = s.Connect(Client());
  ASSERT_TRUE(connect.ok());
  EXPECT_TRUE(connect->sent);
  EXPECT_FALSE(connect->answered);
  ASSERT_TRUE(s.Header("A", "1").ok());
  ASSERT_TRUE(s.Header("B", "2").ok());
  ASSERT_TRUE(s.EndOfHeaders().ok());
  ASSERT_TRUE(s.Body("x").ok());
  auto eom = s.EndOfMessage();
  ASSERT_TRUE(eom.ok()) << eom.status();
  ASSERT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OCLLNBEQ");
}

TEST(SessionTest, SymbolListsDecideWhichMacrosAreSent) {
  std::vector<Packet> seen;
  FakeFilter filter([&](FilterConnection& c) {
    c.Negotiate(6, action::kSetSymbolList, 0,
                {{0, "{daemon_name} j"}, {2, "{auth_authen}"}});
    Answer(c, 'C', codec::Continue{});
    Answer(c, 'M', codec::Continue{});
    Answer(c, 'R', codec::Continue{});
    c.ReadUntil('Q');
    seen = c.received();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  EXPECT_EQ(*s.session().symbol_list(codec::MacroStage::kConnect),
            "{daemon_name} j");
  ASSERT_TRUE(s.Connect(Client(), {{"daemon_name", "d"},
                                   {"{j}", "host"},
                                   {"{if_addr}", "1.2.3.4"}})
                  .ok());
  // Nothing of the mail stage's macros is in its list: no 'D' at all.
  ASSERT_TRUE(s.Mail("<a@b>", {}, {{"{mail_addr}", "a@b"}}).ok());
  // No list for rcpt: everything is sent.
  ASSERT_TRUE(s.Rcpt("<c@d>", {}, {{"{rcpt_addr}", "c@d"}}).ok());
  ASSERT_TRUE(s.Quit().ok());
  filter.Join();
  std::string codes;
  for (const Packet& p : seen) codes += p.code;
  EXPECT_EQ(codes, "ODCMDRQ");
  auto macros = std::get<codec::DefineMacros>(seen[1].Parse());
  EXPECT_EQ(macros.pairs.raw(),
            std::string_view("daemon_name\0d\0{j}\0host\0", 23));
}

TEST(SessionTest, ReplyCodesAndVerdicts) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    Answer(c, 'H', codec::ReplyCode{"421 4.7.0 busy"});
    Answer(c, 'M', codec::Tempfail{});
    Answer(c, 'R', codec::Reject{});
    Answer(c, 'R', codec::Discard{});
    Answer(c, 'U', codec::Shutdown{});
    c.ReadUntil('Q');
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto v = s.Helo("x");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->decision, Decision::kTempfail);
  EXPECT_EQ(v->reply, "421 4.7.0 busy");
  EXPECT_EQ(s.Mail("<a@b>")->decision, Decision::kTempfail);
  EXPECT_EQ(s.Rcpt("<a@b>")->decision, Decision::kReject);
  EXPECT_EQ(s.Rcpt("<a@b>")->decision, Decision::kDiscard);
  EXPECT_EQ(s.Unknown("XYZZY")->decision, Decision::kShutdown);
  EXPECT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OHMRRUQ");
}

TEST(SessionTest, SkipStopsTheBody) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, protocol::kSkip);
    Answer(c, 'B', codec::Skip{});
    Answer(c, 'E', codec::Continue{});
    c.ReadUntil('Q');
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  std::string body(3 * codec::kBodyChunkSize, 'x');
  auto v = s.Body(body);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->decision, Decision::kSkip);
  EXPECT_EQ(s.Body("more")->decision, Decision::kSkip);
  ASSERT_TRUE(s.EndOfMessage().ok());
  ASSERT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OBEQ");
}

TEST(SessionTest, LargeBodyIsChunked) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    for (int i = 0; i < 3; ++i) Answer(c, 'B', codec::Continue{});
    Answer(c, 'E', codec::Continue{});
    c.ReadUntil('Q');
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  std::string body(2 * codec::kBodyChunkSize + 10, 'x');
  ASSERT_TRUE(s.Body(body).ok());
  ASSERT_TRUE(s.EndOfMessage().ok());
  ASSERT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OBBBEQ");
}

TEST(SessionTest, QuitNewConnectionRenegotiates) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    Answer(c, 'H', codec::Continue{});
    c.ReadUntil('K');
    c.Negotiate(6, 0, protocol::kNoHelo);
    Answer(c, 'M', codec::Accept{});
    c.ReadUntil('Q');
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  ASSERT_TRUE(s.Helo("a").ok());
  ASSERT_TRUE(s.QuitNewConnection().ok());
  EXPECT_FALSE(s.Helo("b").ok());  // not negotiated yet
  ASSERT_TRUE(s.Negotiate().ok());
  ASSERT_TRUE(s.Helo("b").ok());  // negotiated away: not sent
  EXPECT_EQ(s.Mail("<a@b>")->decision, Decision::kAccept);
  ASSERT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OHKOMQ");
}

TEST(SessionTest, OlderVersionOffer) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(2, 0x3F, 0);  // libmilter answers min(its own, the offer)
    Answer(c, 'H', codec::Continue{});
    c.ReadUntil('Q');
  });
  BlockingSession s(SessionOptions::ForVersion(2));
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  EXPECT_EQ(s.session().negotiated().version, 2u);
  EXPECT_TRUE(s.Unknown("X").ok());  // not in version 2: not sent
  EXPECT_TRUE(s.Data().ok());        // likewise
  ASSERT_TRUE(s.Helo("a").ok());
  ASSERT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OHQ");
}

TEST(SessionTest, ProgressAtAStage) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('H');
    c.Send(codec::Progress{});
    c.Send(codec::Progress{});
    c.Send(codec::Continue{});
    c.ReadUntil('Q');
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto v = s.Helo("a");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->progress, 2);
  ASSERT_TRUE(s.Quit().ok());
  filter.Join();
}

SessionOptions Deferring() {
  SessionOptions options;
  options.defer_unanswered_writes = true;
  return options;
}

TEST(SessionTest, DeferredNoReplyStagesGoWithTheNextCommand) {
  std::atomic<bool> end_of_message_called{false};
  bool held = false;
  FakeFilter filter([&](FilterConnection& c) {
    c.Negotiate(6, 0, protocol::kNoReplyConnect | protocol::kNoReplyHeader);
    std::optional<Packet> first = c.ReadUntil('C');
    // Written only once the session sent end of message.
    held = first && end_of_message_called.load();
    c.ReadUntil('L');
    c.ReadUntil('L');
    Answer(c, 'E', codec::Continue{});
    c.ReadUntil('Q');
  });
  BlockingSession s(Deferring());
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto connect = s.Connect(Client(), {{"j", "mx"}});
  ASSERT_TRUE(connect.ok()) << connect.status();
  EXPECT_TRUE(connect->sent);
  EXPECT_FALSE(connect->answered);
  ASSERT_TRUE(s.Header("A", "1").ok());
  ASSERT_TRUE(s.Header("B", "2").ok());
  end_of_message_called = true;
  auto eom = s.EndOfMessage();
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_EQ(eom->verdict.decision, Decision::kContinue);
  ASSERT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "ODCLLEQ");
  EXPECT_TRUE(held);
}

TEST(SessionTest, DeferredAbortGoesWithTheNextMail) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    Answer(c, 'M', codec::Continue{});
    c.ReadUntil('A');
    Answer(c, 'M', codec::Accept{});
    c.ReadUntil('Q');
  });
  BlockingSession s(Deferring());
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  ASSERT_TRUE(s.Mail("<a@example.com>").ok());
  ASSERT_TRUE(s.Abort().ok());
  auto mail = s.Mail("<b@example.com>");
  ASSERT_TRUE(mail.ok()) << mail.status();
  EXPECT_EQ(mail->decision, Decision::kAccept);
  ASSERT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OMAMQ");
}

TEST(SessionTest, DeferredWritesAreBoundedInSize) {
  // A no-reply body of 200 KiB: held packets are written once they reach
  // 64 KiB, and the filter gets every chunk in order.
  std::string body(200 * 1024, 'x');
  size_t received = 0;
  FakeFilter filter([&](FilterConnection& c) {
    c.Negotiate(6, 0, protocol::kNoReplyBody);
    while (std::optional<Packet> p = c.Read()) {
      if (p->code == 'B') received += p->payload.size();
      if (p->code == 'E') {
        c.Send(codec::Continue{});
        break;
      }
    }
    c.ReadUntil('Q');
  });
  BlockingSession s(Deferring());
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto v = s.Body(body);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->answered);
  auto eom = s.EndOfMessage();
  ASSERT_TRUE(eom.ok()) << eom.status();
  ASSERT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OBBBBEQ");
  EXPECT_EQ(received, body.size());
}

TEST(SessionTest, DeferredWriteErrorShowsAtTheNextStage) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, protocol::kNoReplyHeader);
    c.Reset();
  });
  BlockingSession s(Deferring());
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  filter.Join();
  auto header = s.Header("A", "1");
  ASSERT_TRUE(header.ok()) << header.status();  // held, not written
  auto eom = s.EndOfMessage();
  ASSERT_FALSE(eom.ok());
  EXPECT_EQ(eom.status().code(), absl::StatusCode::kUnavailable)
      << eom.status();
}

TEST(SessionTest, OpensAResolvedSpecManyTimes) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('Q');
  });
  auto spec = net::ParseSocketSpec(filter.spec());
  ASSERT_TRUE(spec.ok());
  absl::StatusOr<ResolvedSpec> resolved = Resolve(*spec);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  ASSERT_EQ(resolved->endpoints.size(), 1u);
  BlockingSession s;
  ASSERT_TRUE(s.Open(*resolved).ok());
  ASSERT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OQ");

  auto tcp = net::ParseSocketSpec("inet:10025@127.0.0.1");
  ASSERT_TRUE(tcp.ok());
  resolved = Resolve(*tcp);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  ASSERT_EQ(resolved->endpoints.size(), 1u);
  asio::ip::tcp::endpoint expected(asio::ip::make_address("127.0.0.1"), 10025);
  EXPECT_EQ(resolved->endpoints[0].size(), expected.size());
  EXPECT_EQ(std::memcmp(resolved->endpoints[0].data(), expected.data(),
                        expected.size()),
            0);
}

TEST(SessionTest, TcpSocketSpecWorks) {
  // A TCP listener on an ephemeral port, answering with raw sockets.
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(
      io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  uint16_t port = acceptor.local_endpoint().port();
  std::thread thread([&] {
    asio::ip::tcp::socket socket = acceptor.accept();
    char buf[256];
    size_t n = socket.read_some(asio::buffer(buf));
    (void)n;
    codec::OptionNegotiationReply o;
    o.actions = 0;
    o.protocol = 0;
    std::string reply = codec::Encode(o);
    asio::write(socket, asio::buffer(reply));
    asio::error_code ec;
    socket.read_some(asio::buffer(buf), ec);  // the 'Q'
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open("inet:" + std::to_string(port) + "@127.0.0.1").ok());
  ASSERT_TRUE(s.Quit().ok());
  thread.join();
}

}  // namespace
}  // namespace milter::server
