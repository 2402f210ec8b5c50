// The MTA-side session's limits against a filter that pushes them: timeouts
// bound a whole answer however it is split, modifications are capped by the
// memory they really take, the negotiated version is checked as Postfix
// checks it, packets larger than the negotiated size are never sent, a slow or
// silent filter holds up no other session, and the per-thread read buffer is
// safe on a multi-threaded executor.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/io_context.hpp"
#include "asio/thread_pool.hpp"
#include "gtest/gtest.h"
#include "milter/codec/encoder.h"
#include "milter/server/blocking_session.h"
#include "milter/server/fake_filter.h"
#include "milter/server/session.h"

namespace milter::server {
namespace {

using testing::FakeFilter;
using testing::FilterConnection;
namespace action = codec::action;

// Sends `bytes` one at a time, each `gap` after the session has read the
// last: a filter that dribbles its answer. Waiting for each read keeps a
// session that runs late from finding the rest of the answer there at once
// (it reads what is there without looking at the clock); a slower machine
// only makes the answer slower. Stops once the session is gone.
void Dribble(FilterConnection& c, const std::string& bytes,
             std::chrono::milliseconds gap) {
  for (char b : bytes) {
    if (!c.WaitUntilPeerRead()) return;
    std::this_thread::sleep_for(gap);
    if (!c.SendRaw(std::string(1, b))) return;
  }
}

TEST(SessionLimitsTest, ReadTimeoutBoundsTheWholeAnswer) {
  // Every byte comes within the timeout, the answer does not: five bytes,
  // 150 ms apart, against 300 ms.
  FakeFilter filter([](FilterConnection& c) {
    c.NegotiateEarly(6, 0, 0);
    c.ReadUntil('H');
    Dribble(c, codec::Encode(codec::Response(codec::Accept{})),
            std::chrono::milliseconds(150));
    c.Read();
  });
  SessionOptions options;
  options.read_timeout = absl::Milliseconds(300);
  BlockingSession s(options);
  ASSERT_TRUE(testing::OpenWithReplyWaiting(s, filter).ok());
  absl::StatusOr<Verdict> v = s.Helo("x");
  ASSERT_FALSE(v.ok()) << StatusName(v->decision);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDeadlineExceeded)
      << v.status();
}

TEST(SessionLimitsTest, EndOfMessageTimeoutBoundsTheWholeAnswer) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, action::kAddHeaders, 0);
    c.ReadUntil('E');
    std::string answer;
    codec::EncodeResponse(codec::AddHeader{"X-A", "1"}, &answer);
    codec::EncodeResponse(codec::Accept{}, &answer);
    Dribble(c, answer, std::chrono::milliseconds(100));
    c.Read();
  });
  SessionOptions options;
  options.end_of_message_timeout = absl::Milliseconds(300);
  BlockingSession s(options);
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto eom = s.EndOfMessage();
  ASSERT_FALSE(eom.ok());
  EXPECT_EQ(eom.status().code(), absl::StatusCode::kDeadlineExceeded)
      << eom.status();
}

TEST(SessionLimitsTest, ProgressRestartsTheAnswersTimeout) {
  // Progress packets say the filter is working: each one restarts the
  // timeout, so an answer after several of them is accepted although the
  // whole answer takes longer than the timeout: ten progress packets and the
  // answer, each 250 ms after the session has read the packet before, against
  // 2 s.
  //
  // Margin: the session times out only if the filter's thread and the
  // session's are held up for more than 1.75 s in all between two packets; a
  // slower machine only makes the whole answer longer.
  constexpr int kProgress = 10;
  constexpr auto kGap = std::chrono::milliseconds(250);
  constexpr auto kTimeout = std::chrono::seconds(2);
  FakeFilter filter([&](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('E');
    for (int i = 0; i < kProgress; ++i) {
      std::this_thread::sleep_for(kGap);
      c.Send(codec::Progress{});
      c.WaitUntilPeerRead();
    }
    std::this_thread::sleep_for(kGap);
    c.Send(codec::Accept{});
    c.Read();
  });
  SessionOptions options;
  options.end_of_message_timeout = absl::FromChrono(kTimeout);
  BlockingSession s(options);
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto start = std::chrono::steady_clock::now();
  auto eom = s.EndOfMessage();
  // Longer than one timeout (a lower bound only).
  EXPECT_GT(std::chrono::steady_clock::now() - start, kTimeout);
  ASSERT_TRUE(eom.ok()) << eom.status();
  EXPECT_EQ(eom->verdict.progress, kProgress);
  EXPECT_EQ(eom->verdict.decision, Decision::kAccept);
}

TEST(SessionLimitsTest, ManyTinyModificationsCountWhatTheyCost) {
  // 100,000 add-header packets with 3 bytes of name and value each: 300 KB
  // of strings, but several MB of memory as modifications.
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, action::kAddHeaders, 0);
    c.ReadUntil('E');
    std::string burst;
    for (int i = 0; i < 1000; ++i) {
      codec::EncodeResponse(codec::AddHeader{"X", "ab"}, &burst);
    }
    for (int i = 0; i < 100; ++i) c.SendRaw(burst);
    c.Send(codec::Accept{});
    c.Read();
  });
  SessionOptions options;
  options.max_modification_bytes = 1024 * 1024;
  BlockingSession s(options);
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  auto eom = s.EndOfMessage();
  ASSERT_FALSE(eom.ok());
  EXPECT_EQ(eom.status().code(), absl::StatusCode::kResourceExhausted)
      << eom.status();
  // The session is over.
  EXPECT_FALSE(s.Helo("x").ok());
}

TEST(SessionLimitsTest, VersionAboveTheOfferEndsTheSessionAsPostfixDoes) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(99, 0, 0);
    c.Read();
  });
  BlockingSession s;
  absl::Status status = s.Open(filter.spec());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find("version 99"), std::string::npos) << status;
}

TEST(SessionLimitsTest, VersionBelowTheOfferIsKept) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(2, 0, 0);
    c.ReadUntil('Q');
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  EXPECT_EQ(s.session().negotiated().version, 2u);
  EXPECT_TRUE(s.Quit().ok());
}

TEST(SessionLimitsTest, OversizedStageIsRefusedAndTheSessionGoesOn) {
  FakeFilter filter([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);  // no larger data size: 65535 bytes at most
    c.ReadUntil('L');
    c.Send(codec::Continue{});
    c.ReadUntil('Q');
  });
  BlockingSession s;
  ASSERT_TRUE(s.Open(filter.spec()).ok());
  std::string huge(codec::kDefaultMaxPayload, 'v');
  absl::StatusOr<Verdict> v = s.Header("Subject", huge);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kOutOfRange) << v.status();
  std::string long_helo(codec::kDefaultMaxPayload + 1, 'h');
  EXPECT_EQ(s.Helo(long_helo).status().code(), absl::StatusCode::kOutOfRange);
  std::string long_arg(codec::kDefaultMaxPayload, 'a');
  std::string_view args[] = {long_arg};
  EXPECT_EQ(s.Mail("<a@b>", args).status().code(),
            absl::StatusCode::kOutOfRange);
  // Nothing of the refused stages reached the filter; the session goes on.
  v = s.Header("Subject", "short");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(s.Quit().ok());
  EXPECT_EQ(filter.Join(), "OLQ");
}

// Many sessions share one event loop on one thread: a filter that is slow to
// answer holds up none of the others, and one that goes silent times out
// without holding them up either.
TEST(SessionLimitsTest, ConcurrentSessionsOnOneThread) {
  constexpr int kGood = 8;
  std::vector<std::unique_ptr<FakeFilter>> filters;
  for (int i = 0; i < kGood; ++i) {
    filters.push_back(std::make_unique<FakeFilter>([](FilterConnection& c) {
      c.Negotiate(6, 0, 0);
      if (c.ReadUntil('H')) c.Send(codec::Continue{});
      if (c.ReadUntil('M')) c.Send(codec::Accept{});
      c.ReadUntil('Q');
    }));
  }
  // Answers helo only once every good session is done.
  std::promise<void> good_done;
  std::shared_future<void> good_done_future = good_done.get_future().share();
  FakeFilter slow([good_done_future](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('H');
    good_done_future.wait_for(testing::kPatience);
    c.Send(codec::Continue{});
    if (c.ReadUntil('M')) c.Send(codec::Accept{});
    c.ReadUntil('Q');
  });
  FakeFilter silent([](FilterConnection& c) {
    c.Negotiate(6, 0, 0);
    c.ReadUntil('E');
    c.WaitForClose();  // never answers
  });
  asio::io_context io;
  int accepted = 0;
  auto run = [&](std::string spec, bool* done) -> asio::awaitable<void> {
    Session session(io.get_executor(), SessionOptions());
    auto parsed = net::ParseSocketSpec(spec);
    if ((co_await session.Open(*parsed)).ok() &&
        (co_await session.Helo("x", {})).ok()) {
      auto mail = co_await session.Mail("<a@b>", {}, {});
      if (mail.ok() && mail->decision == Decision::kAccept) ++accepted;
      co_await session.Quit();
    }
    *done = true;
  };
  // The silent session's end of message alone has a short timeout.
  SessionOptions short_end_of_message;
  short_end_of_message.end_of_message_timeout = absl::Milliseconds(300);
  absl::Status silent_status;
  auto run_silent = [&]() -> asio::awaitable<void> {
    Session session(io.get_executor(), short_end_of_message);
    auto parsed = net::ParseSocketSpec(silent.spec());
    silent_status = co_await session.Open(*parsed);
    if (silent_status.ok()) {
      silent_status = (co_await session.EndOfMessage({})).status();
    }
  };
  bool done[kGood] = {};
  bool slow_done = false;
  asio::co_spawn(io, run(slow.spec(), &slow_done), asio::detached);
  asio::co_spawn(io, run_silent(), asio::detached);
  for (int i = 0; i < kGood; ++i) {
    asio::co_spawn(io, run(filters[i]->spec(), &done[i]), asio::detached);
  }
  while (!std::all_of(std::begin(done), std::end(done),
                      [](bool d) { return d; })) {
    io.run_one();
  }
  EXPECT_EQ(accepted, kGood);
  // Still waiting for its filter, and no good session waited for it.
  EXPECT_FALSE(slow_done);
  good_done.set_value();
  io.run();
  EXPECT_TRUE(slow_done);
  EXPECT_EQ(accepted, kGood + 1);
  EXPECT_EQ(silent_status.code(), absl::StatusCode::kDeadlineExceeded)
      << silent_status;
}

// Many sessions on a thread pool whose answers arrive in two parts, the second
// only once the session has read the first, so that each session suspends
// mid-answer and may resume on another thread: every session must still read
// exactly its own filter's reply.
TEST(SessionLimitsTest, ThreadPoolSessionsReadTheirOwnAnswers) {
  constexpr int kSessions = 16;
  std::vector<std::unique_ptr<FakeFilter>> filters;
  for (int i = 0; i < kSessions; ++i) {
    filters.push_back(std::make_unique<FakeFilter>([i](FilterConnection& c) {
      c.Negotiate(6, 0, 0);
      for (int round = 0; round < 20; ++round) {
        c.ReadUntil('H');
        std::string reply = codec::Encode(codec::Response(
            codec::ReplyCode{"550 5.7.1 session " + std::to_string(i) +
                             " round " + std::to_string(round)}));
        c.SendRaw(reply.substr(0, 7));
        c.WaitUntilPeerRead();
        c.SendRaw(reply.substr(7));
      }
      c.ReadUntil('Q');
    }));
  }
  asio::thread_pool pool(4);
  std::atomic<int> right{0}, done{0};
  for (int i = 0; i < kSessions; ++i) {
    asio::co_spawn(
        pool,
        [&, i]() -> asio::awaitable<void> {
          Session session(co_await asio::this_coro::executor, SessionOptions());
          auto spec = net::ParseSocketSpec(filters[i]->spec());
          if (spec.ok() && (co_await session.Open(*spec)).ok()) {
            for (int round = 0; round < 20; ++round) {
              absl::StatusOr<Verdict> v = co_await session.Helo("x", {});
              if (v.ok() && v->reply == "550 5.7.1 session " +
                                            std::to_string(i) + " round " +
                                            std::to_string(round)) {
                ++right;
              }
            }
            co_await session.Quit();
          }
          ++done;
        },
        asio::detached);
  }
  pool.join();
  EXPECT_EQ(done.load(), kSessions);
  EXPECT_EQ(right.load(), kSessions * 20);
}

}  // namespace
}  // namespace milter::server
