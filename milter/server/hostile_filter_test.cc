// Hostile filters: every misbehaviour ends the session with a clear error
// status, never a crash or a hang.
//
// The sessions keep the default timeouts (30 s), which no test that passes
// reaches: the session fails on what the filter sends, not on a timeout.
// Only the tests of the timeouts themselves shorten one, with a filter that
// never answers, so their result cannot depend on how fast a thread runs.

#include <random>
#include <string>

#include "gtest/gtest.h"
#include "milter/codec/byte_order.h"
#include "milter/codec/encoder.h"
#include "milter/server/blocking_session.h"
#include "milter/server/fake_filter.h"

namespace milter::server {
namespace {

using testing::FakeFilter;
using testing::FilterConnection;
namespace action = codec::action;
namespace protocol = codec::protocol;

// For the timeout under test.
constexpr absl::Duration kShort = absl::Milliseconds(300);

std::string Length(uint32_t n) {
  std::string out;
  codec::AppendBigEndian32(n, &out);
  return out;
}

TEST(HostileFilterTest, GarbageInsteadOfNegotiation) {
  FakeFilter filter([](FilterConnection& c) {
    c.ReadUntil('O');
    c.SendRaw("HTTP/1.1 400 Bad Request\r\n\r\n");
    c.Read();
  });
  BlockingSession s;
  absl::Status status = s.Open(filter.spec());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("negotiation"), std::string::npos);
}

TEST(HostileFilterTest, UnknownResponseCode) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('H');
    std::string raw;
    codec::EncodeRaw('Z', "junk", &raw);
    c.SendRaw(raw);
    c.Read();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto v = s.Helo("x");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  // The session stays failed with the same error.
  EXPECT_EQ(s.Mail("<a@b>").status(), v.status());
  EXPECT_EQ(s.Quit(), v.status());
}

TEST(HostileFilterTest, FourGigabyteLength) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('H');
    c.SendRaw(Length(0xFFFFFFFFu) + "c");
    c.Read();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto v = s.Helo("x");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("exceeds"), std::string::npos)
      << v.status();
}

TEST(HostileFilterTest, ZeroLength) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('H');
    c.SendRaw(Length(0));
    c.Read();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  EXPECT_FALSE(s.Helo("x").ok());
}

TEST(HostileFilterTest, ReplyToANoReplyStage) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, protocol::kNoReplyHeader);
    c.ReadUntil('L');
    c.Send(codec::Continue{});  // not allowed: NR_HDR negotiated
    c.ReadUntil('N');
    c.Send(codec::Continue{});
    c.Read();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  ASSERT_TRUE(s.Header("Subject", "x").ok());
  // The stray answer is in the session's socket before the next stage.
  ASSERT_TRUE(filter.WaitUntilSessionCanRead());
  auto v = s.EndOfHeaders();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(v.status().message().find("nobody asked for"), std::string::npos)
      << v.status();
}

// The stray answer arrives only once end of headers was sent, so end of headers
// takes it for its own answer; its real answer then comes unasked and the
// next stage catches it. (A stray answer already there when end of headers is
// sent: the test above.)
TEST(HostileFilterTest, ReplyToANoReplyStageCaughtOneStageLater) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, protocol::kNoReplyHeader);
    c.ReadUntil('L');
    c.ReadUntil('N');
    c.Send(codec::Continue{});  // the stray answer to 'L', late
    // Read on its own, not together with the next one.
    c.WaitUntilPeerRead();
    c.Send(codec::Continue{});  // the answer to 'N', now an answer to nothing
    c.Read();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  ASSERT_TRUE(s.Header("Subject", "x").ok());
  absl::StatusOr<Verdict> v = s.EndOfHeaders();
  ASSERT_TRUE(v.ok()) << v.status();  // took the stray answer
  ASSERT_TRUE(filter.WaitUntilSessionCanRead());
  v = s.Body("x");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition)
      << v.status();
}

TEST(HostileFilterTest, TwoAnswersToOneStage) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('H');
    std::string both =
        codec::Encode(codec::Continue{}) + codec::Encode(codec::Continue{});
    c.SendRaw(both);
    c.Read();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto v = s.Helo("x");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(HostileFilterTest, ModificationBeforeEndOfMessage) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, action::kAll, 0);
    c.ReadUntil('H');
    c.Send(codec::AddHeader{"X-Early", "1"});
    c.Send(codec::Continue{});
    c.Read();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto v = s.Helo("x");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("before end of message"),
            std::string::npos)
      << v.status();
}

TEST(HostileFilterTest, QuarantineBeforeEndOfMessage) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, action::kAll, 0);
    c.ReadUntil('M');
    c.Send(codec::Quarantine{"x"});
    c.Read();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  EXPECT_FALSE(s.Mail("<a@b>").ok());
}

TEST(HostileFilterTest, ModificationNotNegotiated) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, action::kAddHeaders, 0);
    c.ReadUntil('E');
    c.Send(codec::ReplaceBody{"x"});
    c.Send(codec::Continue{});
    c.Read();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto eom = s.EndOfMessage();
  ASSERT_FALSE(eom.ok());
  EXPECT_NE(eom.status().message().find("without negotiating"),
            std::string::npos)
      << eom.status();
}

TEST(HostileFilterTest, NegotiationBeyondTheOffer) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0x7FFFFFFF, 0);
    c.Read();
  });
  SessionOptions options;
  options.actions = action::kAddHeaders;
  BlockingSession s(options);
  EXPECT_FALSE(s.Open(filter.spec()).ok());
}

TEST(HostileFilterTest, BadReplyCodeText) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('M');
    c.Send(codec::ReplyCode{"250 fine"});
    c.Read();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  EXPECT_FALSE(s.Mail("<a@b>").ok());
}

TEST(HostileFilterTest, SkipOutsideTheBody) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, protocol::kSkip);
    c.ReadUntil('M');
    c.Send(codec::Skip{});
    c.Read();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  EXPECT_FALSE(s.Mail("<a@b>").ok());
}

TEST(HostileFilterTest, SilencePastTheTimeout) {
  bool closed_by_session = false;
  FakeFilter filter([&](FilterConnection& c) {
    c.NegotiateEarly(6, 0, 0);
    c.ReadUntil('H');
    // Says nothing until the MTA gives up.
    closed_by_session = c.WaitForClose();
  });
  SessionOptions options;
  options.read_timeout = kShort;
  BlockingSession s(options);
  ASSERT_TRUE(testing::OpenWithReplyWaiting(s, filter).ok());
  auto v = s.Helo("x");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDeadlineExceeded)
      << v.status();
  // The session gave up by itself, long before the filter would have.
  filter.Join();
  EXPECT_TRUE(closed_by_session);
}

TEST(HostileFilterTest, SilenceAtEndOfMessage) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('E');
    c.Send(codec::Progress{});  // progress, then nothing
    c.WaitForClose();
  });
  SessionOptions options;
  options.end_of_message_timeout = kShort;
  BlockingSession s(options);
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto eom = s.EndOfMessage();
  ASSERT_FALSE(eom.ok());
  EXPECT_EQ(eom.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(HostileFilterTest, SilenceDuringNegotiation) {
  FakeFilter filter([](FilterConnection& c) {
    c.ReadUntil('O');
    c.WaitForClose();
  });
  SessionOptions options;
  options.read_timeout = kShort;
  BlockingSession s(options);
  EXPECT_EQ(s.Open(filter.spec()).code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(HostileFilterTest, ResetConnection) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('H');
    c.Reset();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto v = s.Helo("x");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kUnavailable) << v.status();
}

TEST(HostileFilterTest, CloseInsideAPacket) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('H');
    c.SendRaw(Length(100) + "h" + "X-Partial");
    c.Close();
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto v = s.Helo("x");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kUnavailable) << v.status();
}

TEST(HostileFilterTest, FilterThatNeverReadsBlocksWritesUntilTimeout) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, protocol::kNoReplyBody);
    c.WaitForClose();  // reads nothing more
  });
  SessionOptions options;
  options.write_timeout = kShort;
  BlockingSession s(options);
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  std::string body(64 * 1024 * 1024, 'x');
  auto v = s.Body(body);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDeadlineExceeded)
      << v.status();
}

TEST(HostileFilterTest, EndlessReplaceBody) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, action::kChangeBody, 0);
    c.ReadUntil('E');
    std::string chunk(60000, 'x');
    for (int i = 0; i < 100; ++i) c.Send(codec::ReplaceBody{chunk});
    c.Send(codec::Continue{});
    c.Read();
  });
  SessionOptions options;
  options.max_modification_bytes = 1024 * 1024;
  BlockingSession s(options);
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto eom = s.EndOfMessage();
  ASSERT_FALSE(eom.ok());
  EXPECT_EQ(eom.status().code(), absl::StatusCode::kResourceExhausted);
}

// Random bytes, random well-framed packets and random truncations as the
// answer to a random stage: the session ends with a status or carries on, but
// never crashes or hangs.
TEST(HostileFilterTest, RandomAnswers) {
  std::mt19937 rng(4242);
  for (int round = 0; round < 150; ++round) {
    std::string answer;
    int kind = round % 3;
    size_t length = rng() % 64;
    std::string payload(length, '\0');
    for (char& c : payload) c = static_cast<char>(rng());
    if (kind == 0) {
      answer = payload;  // raw garbage
    } else {
      static const char kCodes[] = "+-24abcdefhimOpqrsty!";
      codec::EncodeRaw(kCodes[rng() % (sizeof(kCodes) - 1)], payload, &answer);
      if (kind == 2) answer.resize(rng() % (answer.size() + 1));
    }
    char stage = "HMRLE"[rng() % 5];
    FakeFilter filter([&](FilterConnection& c) {
      c.NegotiateEarly(6, action::kAll, 0);
      if (!c.ReadUntil(stage)) return;
      c.SendRaw(answer);
      if (kind == 2) c.Close();  // truncated: the MTA must not wait forever
      c.Read();
    });
    // Short: an answer cut short waits for the rest until the timeout.
    SessionOptions options;
    options.read_timeout = absl::Milliseconds(100);
    options.end_of_message_timeout = absl::Milliseconds(100);
    BlockingSession s(options);
    ASSERT_TRUE(testing::OpenWithReplyWaiting(s, filter).ok());
    absl::Status status;
    switch (stage) {
      case 'H':
        status = s.Helo("x").status();
        break;
      case 'M':
        status = s.Mail("<a@b>").status();
        break;
      case 'R':
        status = s.Rcpt("<a@b>").status();
        break;
      case 'L':
        status = s.Header("A", "b").status();
        break;
      case 'E':
        status = s.EndOfMessage().status();
        break;
    }
    (void)status;  // any outcome is fine; the process must survive
    s.Quit().IgnoreError();
  }
}

TEST(HostileFilterTest, NothingListening) {
  BlockingSession s;
  absl::Status status = s.Open("unix:/nonexistent/filter.sock");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

}  // namespace
}  // namespace milter::server
