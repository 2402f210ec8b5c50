// The session's timeouts: each wait gets its own full timeout, however the
// waits before it went, and an idle open session delays nothing.

#include <chrono>
#include <thread>

#include "gtest/gtest.h"
#include "milter/codec/message.h"
#include "milter/server/blocking_session.h"
#include "milter/server/fake_filter.h"

namespace milter::server {
namespace {

using testing::FakeFilter;
using testing::FilterConnection;

void AnswerLate(FilterConnection& c, char code,
                std::chrono::milliseconds late) {
  c.ReadUntil(code);
  std::this_thread::sleep_for(late);
  c.Send(codec::Continue{});
}

// Four answers, each 250 ms late: together past the 400 ms read timeout, each
// one well within it. None may time out.
TEST(TimeoutTest, EveryWaitGetsItsOwnTimeout) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    for (char code : std::string("HMRT")) {
      AnswerLate(c, code, std::chrono::milliseconds(250));
    }
    c.ReadUntil('Q');
  });
  SessionOptions options;
  options.read_timeout = absl::Milliseconds(400);
  BlockingSession s(options);
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  EXPECT_TRUE(s.Helo("x").ok());
  EXPECT_TRUE(s.Mail("<a@example.com>").ok());
  EXPECT_TRUE(s.Rcpt("<b@example.com>").ok());
  auto data = s.Data();
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(s.Quit().ok());
}

// After a wait with end of message's long timeout, the next wait has a short
// one and must end on it.
TEST(TimeoutTest, AShortTimeoutAfterALongOneFiresOnTime) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    AnswerLate(c, 'E', std::chrono::milliseconds(100));  // a real wait
    c.ReadUntil('M');
    c.Read();  // silent until the MTA gives up
  });
  SessionOptions options;
  options.read_timeout = absl::Milliseconds(300);
  options.end_of_message_timeout = absl::Seconds(20);
  BlockingSession s(options);
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  // Past the negotiation's timeout.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ASSERT_TRUE(s.EndOfMessage().ok());
  ASSERT_TRUE(s.Abort().ok());
  auto start = std::chrono::steady_clock::now();
  auto mail = s.Mail("<a@example.com>");
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(mail.ok());
  EXPECT_EQ(mail.status().code(), absl::StatusCode::kDeadlineExceeded)
      << mail.status();
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

// An open session between calls does not make the next call wait for an
// earlier call's timeout.
TEST(TimeoutTest, IdleSessionBetweenCallsDoesNotDelayTheNext) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('H');
    c.Send(codec::Continue{});
    c.ReadUntil('M');
    c.Send(codec::Continue{});
    c.ReadUntil('Q');
  });
  SessionOptions options;
  options.read_timeout = absl::Seconds(20);
  BlockingSession s(options);
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  ASSERT_TRUE(s.Helo("x").ok());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.Mail("<a@example.com>").ok());
  EXPECT_TRUE(s.Quit().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace milter::server
