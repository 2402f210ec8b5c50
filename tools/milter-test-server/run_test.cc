// Tests of milter-test-server's sessions against a fake filter over real
// sockets: stages, verdicts, modifications, several messages, load mode.

#include "tools/milter-test-server/run.h"

#include <unistd.h>

#include <thread>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/io_context.hpp"
#include "asio/local/stream_protocol.hpp"
#include "asio/write.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"
#include "milter/server/fake_filter.h"
#include "tools/milter-test-server/report.h"

namespace milter_test_server {
namespace {

using milter::server::testing::FakeFilter;
using milter::server::testing::FilterConnection;
namespace codec = milter::codec;
using milter::codec::Modification;
namespace mod = milter::codec::mod;

Plan MakeTestPlan(const std::string& spec) {
  ToolOptions o;
  o.connection_spec = spec;
  o.connect.hostname = "mx.example.net";
  o.connect.address = "192.0.2.1";
  o.helo = "delian";
  o.message.envelope_from = "<a@example.com>";
  o.message.recipients = {"<b@example.org>", "<c@example.org>"};
  o.message.headers = {{"Subject", " hi"}};
  o.message.body = "body\r\n";
  auto plan = MakePlan(o);
  EXPECT_TRUE(plan.ok());
  return *plan;
}

Outcome RunOne(const Plan& plan) {
  asio::io_context io;
  Outcome outcome;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        outcome = co_await RunSession(io.get_executor(), plan, true);
      },
      asio::detached);
  io.run();
  return outcome;
}

void Answer(FilterConnection& c, char code, const codec::Response& r) {
  if (c.ReadUntil(code)) c.Send(r);
}

TEST(RunSessionTest, PassWithModifications) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, codec::action::kAll, 0);
    for (char code : std::string("CHMRRTLNB")) {
      Answer(c, code, codec::Continue{});
    }
    c.ReadUntil('E');
    c.Send(codec::AddHeader{"X-A", "1"});
    c.Send(codec::Quarantine{"why"});
    c.Send(codec::Continue{});
    c.ReadUntil('Q');
  });
  Outcome o = RunOne(MakeTestPlan(filter.spec()));
  ASSERT_TRUE(o.error.ok()) << o.error;
  EXPECT_EQ(o.status, "quarantine");
  EXPECT_EQ(ExitStatusFor(o), kExitQuarantine);
  ASSERT_EQ(o.modifications.size(), 1u);
  EXPECT_EQ(o.stages.size(), 10u);
  std::string text = FormatOutcome(o, nullptr, false);
  EXPECT_NE(text.find("status: quarantine\n"), std::string::npos) << text;
  EXPECT_NE(text.find("modification: add-header X-A: \"1\"\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("elapsed-time: "), std::string::npos);
  EXPECT_EQ(filter.Join().back(), 'Q');
}

TEST(RunSessionTest, OneRecipientRefusedIsNotTheEnd) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    for (char code : std::string("CHM")) Answer(c, code, codec::Continue{});
    Answer(c, 'R', codec::ReplyCode{"550 5.1.1 unknown"});
    Answer(c, 'R', codec::Continue{});
    for (char code : std::string("TLNB")) Answer(c, code, codec::Continue{});
    Answer(c, 'E', codec::Accept{});
    c.ReadUntil('Q');
  });
  Outcome o = RunOne(MakeTestPlan(filter.spec()));
  ASSERT_TRUE(o.error.ok()) << o.error;
  EXPECT_EQ(o.status, "accept");
  EXPECT_EQ(ExitStatusFor(o), kExitPass);
}

TEST(RunSessionTest, AllRecipientsRefused) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    for (char code : std::string("CHM")) Answer(c, code, codec::Continue{});
    Answer(c, 'R', codec::Tempfail{});
    Answer(c, 'R', codec::ReplyCode{"451 4.7.1 later"});
    c.ReadUntil('Q');
  });
  Outcome o = RunOne(MakeTestPlan(filter.spec()));
  ASSERT_TRUE(o.error.ok()) << o.error;
  EXPECT_EQ(o.status, "temporary-failure");
  EXPECT_EQ(o.reply, "451 4.7.1 later");
  EXPECT_EQ(ExitStatusFor(o), kExitTemporaryFailure);
  EXPECT_EQ(filter.Join(), "ODCHDMDRDRQ");
}

TEST(RunSessionTest, RejectAtMailAndJson) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    for (char code : std::string("CH")) Answer(c, code, codec::Continue{});
    Answer(c, 'M', codec::ReplyCode{"550 5.7.1 \"no\""});
    c.ReadUntil('Q');
  });
  Outcome o = RunOne(MakeTestPlan(filter.spec()));
  EXPECT_EQ(o.status, "reject");
  EXPECT_EQ(ExitStatusFor(o), kExitReject);
  std::string json = FormatOutcome(o, nullptr, true);
  EXPECT_NE(json.find("\"status\":\"reject\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"reply\":\"550 5.7.1 \\\"no\\\"\""), std::string::npos)
      << json;
}

TEST(RunSessionTest, ErrorIsReported) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('C');
    c.Reset();
  });
  Outcome o = RunOne(MakeTestPlan(filter.spec()));
  EXPECT_FALSE(o.error.ok());
  EXPECT_EQ(ExitStatusFor(o), kExitError);
  EXPECT_NE(FormatOutcome(o, nullptr, false).find("status: error"),
            std::string::npos);
}

TEST(RunSessionTest, SeveralMessagesWithAbortBetween) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, codec::action::kAll, 0);
    for (char code : std::string("CH")) Answer(c, code, codec::Continue{});
    for (int m = 0; m < 2; ++m) {
      for (char code : std::string("MRRTLNB")) {
        Answer(c, code, codec::Continue{});
      }
      c.ReadUntil('E');
      c.Send(codec::AddHeader{"X-M", std::to_string(m)});
      c.Send(codec::Continue{});
    }
    c.ReadUntil('Q');
  });
  Plan plan = MakeTestPlan(filter.spec());
  plan.n_messages = 2;
  Outcome o = RunOne(plan);
  ASSERT_TRUE(o.error.ok()) << o.error;
  ASSERT_EQ(o.previous_messages.size(), 1u);
  EXPECT_EQ(o.previous_messages[0].modifications[0],
            Modification(mod::AddHeader{"X-M", "0"}));
  EXPECT_EQ(o.modifications[0], Modification(mod::AddHeader{"X-M", "1"}));
  // The earlier message has its own time, within the session's.
  EXPECT_GT(o.previous_messages[0].elapsed_seconds, 0);
  EXPECT_LT(o.previous_messages[0].elapsed_seconds, o.elapsed_seconds);
  std::string codes = filter.Join();
  EXPECT_EQ(codes.substr(codes.size() - 2), "EQ");  // no abort after the last
  EXPECT_NE(codes.find("EADM"), std::string::npos) << codes;  // abort between
  std::string text = FormatOutcome(o, nullptr, false);
  EXPECT_NE(text.find("message: 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("message: 2\n"), std::string::npos) << text;
}

// RunMany against a tiny threaded filter that negotiates `protocol` (and so
// leaves unanswered what its no-reply flags say) and answers the rest with
// continue.
Summary RunManyAgainst(uint32_t protocol, int n_messages) {
  constexpr int kSessions = 20;
  FakeFilter filter([](FilterConnection&) {});  // only to get a socket path
  std::string path = filter.spec().substr(5) + ".many";
  asio::io_context io;
  ::unlink(path.c_str());
  asio::local::stream_protocol::acceptor acceptor(
      io, asio::local::stream_protocol::endpoint(path));
  std::vector<std::thread> handlers;  // joined before `io` goes away
  std::thread server([&] {
    for (int i = 0; i < kSessions; ++i) {
      asio::local::stream_protocol::socket s = acceptor.accept();
      handlers.emplace_back([s = std::move(s), protocol]() mutable {
        codec::CommandDecoder decoder;
        char buf[4096];
        asio::error_code ec;
        while (true) {
          size_t n = s.read_some(asio::buffer(buf), ec);
          if (ec) return;
          decoder.Feed(std::string_view(buf, n));
          while (true) {
            auto next = decoder.Next();
            if (!next.ok() || !next->has_value()) break;
            std::string out;
            switch (codec::CodeOf(**next)) {
              case codec::CommandCode::kOptionNegotiation: {
                codec::OptionNegotiationReply r;
                r.actions = 0;
                r.protocol = protocol;
                out = codec::Encode(r);
                break;
              }
              case codec::CommandCode::kMacro:
              case codec::CommandCode::kAbort:
                break;
              case codec::CommandCode::kRcpt:
                if (protocol & codec::protocol::kNoReplyRcpt) break;
                out = codec::Encode(codec::Continue{});
                break;
              case codec::CommandCode::kHeader:
                if (protocol & codec::protocol::kNoReplyHeader) break;
                out = codec::Encode(codec::Continue{});
                break;
              case codec::CommandCode::kQuit:
                return;
              default:
                out = codec::Encode(codec::Continue{});
            }
            if (!out.empty()) asio::write(s, asio::buffer(out), ec);
          }
        }
      });
    }
  });
  Plan plan = MakeTestPlan("unix:" + path);
  plan.n_messages = n_messages;
  Summary summary = RunMany(plan, kSessions, 5, 2);
  server.join();
  for (std::thread& t : handlers) t.join();
  ::unlink(path.c_str());
  return summary;
}

TEST(RunManyTest, CountsEverySession) {
  Summary summary = RunManyAgainst(0, 1);
  EXPECT_EQ(summary.sessions, 20);
  EXPECT_EQ(summary.errors, 0);
  EXPECT_EQ(summary.statuses["pass"], 20);
  EXPECT_GT(summary.sessions_per_second, 0);
  std::string text = FormatSummary(summary, 5, false);
  EXPECT_NE(text.find("sessions/s"), std::string::npos);
  EXPECT_NE(text.find("p99"), std::string::npos);
}

TEST(RunManyTest, StagesWithoutReplyAndSeveralMessages) {
  // Unanswered stages and the abort between messages are written together
  // with the next command; every session still ends in pass.
  Summary summary = RunManyAgainst(
      codec::protocol::kNoReplyRcpt | codec::protocol::kNoReplyHeader, 3);
  EXPECT_EQ(summary.sessions, 20);
  EXPECT_EQ(summary.errors, 0) << summary.error_messages.begin()->first;
  EXPECT_EQ(summary.statuses["pass"], 20);
}

}  // namespace
}  // namespace milter_test_server
