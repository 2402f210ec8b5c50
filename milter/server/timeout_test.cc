// The session's timeouts: each wait gets its own full timeout, however the
// waits before it went, and an idle open session delays nothing.
//
// No test bounds how long a call may take: a timeout that must fire does so
// against a filter that never answers (checked by the kind of result), and a
// wait that must not time out has a wide margin, stated where it is chosen.

#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "milter/codec/message.h"
#include "milter/server/blocking_session.h"
#include "milter/server/fake_filter.h"

namespace milter::server {
namespace {

using testing::FakeFilter;
using testing::FilterConnection;
using testing::OpenWithReplyWaiting;

// Reads the next `code` and answers continue `late` after it.
void AnswerLate(FilterConnection& c, char code,
                std::chrono::milliseconds late) {
  c.ReadUntil(code);
  std::this_thread::sleep_for(late);
  c.Send(codec::Continue{});
}

// Ten answers, each 250 ms late: together past the 2 s read timeout, each one
// well within it. None may time out.
//
// Margin: a wait times out only if the filter's thread and the session's are
// held up for more than 1.75 s in all during that one wait; a slower machine
// only makes the total longer.
TEST(TimeoutTest, EveryWaitGetsItsOwnTimeout) {
  constexpr int kAnswers = 10;
  constexpr auto kLate = std::chrono::milliseconds(250);
  constexpr auto kTimeout = std::chrono::seconds(2);
  FakeFilter filter([&](FilterConnection& c) {
    c.NegotiateEarly(6, 0, 0);
    AnswerLate(c, 'H', kLate);
    AnswerLate(c, 'M', kLate);
    for (int i = 0; i < kAnswers - 3; ++i) AnswerLate(c, 'R', kLate);
    AnswerLate(c, 'T', kLate);
    c.ReadUntil('Q');
  });
  SessionOptions options;
  options.read_timeout = absl::FromChrono(kTimeout);
  BlockingSession s(options);
  ASSERT_TRUE(OpenWithReplyWaiting(s, filter).ok());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.Helo("x").ok());
  EXPECT_TRUE(s.Mail("<a@example.com>").ok());
  for (int i = 0; i < kAnswers - 3; ++i) {
    auto rcpt = s.Rcpt("<b@example.com>");
    EXPECT_TRUE(rcpt.ok()) << rcpt.status();
  }
  auto data = s.Data();
  ASSERT_TRUE(data.ok()) << data.status();
  // The waits together took longer than one timeout (a lower bound only).
  EXPECT_GT(std::chrono::steady_clock::now() - start, kTimeout);
  EXPECT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OHMRRRRRRRTQ");
}

// After a wait with end of message's long timeout, the next wait has a short
// one and must end on it. The long one is an hour, and the filter, silent at
// mail, answers it after kPatience (60 s) if the session is still waiting:
// a session that kept the long timer would get that answer instead of a
// timeout.
TEST(TimeoutTest, AShortTimeoutAfterALongOneFiresOnTime) {
  bool closed_by_session = false;
  FakeFilter filter([&](FilterConnection& c) {
    c.NegotiateEarly(6, 0, 0);
    // Late, so that the session most likely waits with the long timer armed
    // (if it does not, the test only loses its point, it cannot fail).
    AnswerLate(c, 'E', std::chrono::milliseconds(100));
    c.ReadUntil('M');
    closed_by_session = c.WaitForClose();  // silent until the MTA gives up
    if (!closed_by_session) c.Send(codec::Continue{});
  });
  SessionOptions options;
  options.read_timeout = absl::Milliseconds(300);
  options.end_of_message_timeout = absl::Hours(1);
  BlockingSession s(options);
  ASSERT_TRUE(OpenWithReplyWaiting(s, filter).ok());
  // Past the negotiation's timeout (a lower bound only).
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ASSERT_TRUE(s.EndOfMessage().ok());
  ASSERT_TRUE(s.Abort().ok());
  auto mail = s.Mail("<a@example.com>");
  ASSERT_FALSE(mail.ok());
  EXPECT_EQ(mail.status().code(), absl::StatusCode::kDeadlineExceeded)
      << mail.status();
  filter.Join();
  EXPECT_TRUE(closed_by_session);
}

// An open session between calls does not make the next call wait for an
// earlier call's timeout. That timeout is two minutes and the filter waits
// for quit for kPatience (60 s): a call that waited for it would find the
// filter gone, and quit would fail.
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
  options.read_timeout = absl::Minutes(2);
  BlockingSession s(options);
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  ASSERT_TRUE(s.Helo("x").ok());
  ASSERT_TRUE(s.Mail("<a@example.com>").ok());
  EXPECT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OHMQ");
}

}  // namespace
}  // namespace milter::server
