// Metrics: recording, the text exposition, and concurrent use.

#include "manager/metrics/metrics.h"

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace milter::manager::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, EmptyRegistryRendersEveryFamilyOnce) {
  Metrics m;
  std::string page = m.Render({});
  for (const char* family :
       {"milter_manager_sessions_total", "milter_manager_sessions_active",
        "milter_manager_messages_total", "milter_manager_child_results_total",
        "milter_manager_child_answer_seconds",
        "milter_manager_child_failures_total",
        "milter_manager_child_timeouts_total",
        "milter_manager_condition_stops_total",
        "milter_manager_child_restarts_total", "milter_manager_child_state"}) {
    std::string type = absl::StrCat("# TYPE ", family, " ");
    size_t at = page.find(type);
    ASSERT_NE(at, std::string::npos) << family;
    EXPECT_EQ(page.find(type, at + 1), std::string::npos) << family;
    EXPECT_THAT(page, HasSubstr(absl::StrCat("# HELP ", family, " ")));
  }
  EXPECT_THAT(page, HasSubstr("milter_manager_sessions_total 0\n"));
  EXPECT_THAT(
      page,
      HasSubstr("milter_manager_messages_total{verdict=\"aborted\"} 0\n"));
  // Every line is a comment or "name{labels} value".
  for (absl::string_view line : absl::StrSplit(page, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, "} ");
    if (parts.size() == 1) parts = absl::StrSplit(line, ' ');
    EXPECT_EQ(parts.size(), 2u) << line;
  }
}

TEST(MetricsTest, RecordsAndRendersChildSeries) {
  auto m = std::make_shared<Metrics>();
  {
    SessionRecorder r(m);
    EXPECT_EQ(m->sessions_active(), 1);
    r.ChildResult("dkim", "connect", "continue", absl::Milliseconds(2),
                  absl::OkStatus());
    r.ChildResult("dkim", "end-of-message", "reject", absl::Seconds(3),
                  absl::OkStatus());
    r.ChildResult("spam", "body", "failed", absl::Seconds(30),
                  absl::DeadlineExceededError("no answer in time"));
    r.ChildUnavailable(
        "clam", absl::UnavailableError("connecting to unix:/x: refused"));
    r.Stopped("dkim", "trusted \"relay\"");
    r.Stopped("dkim", "trusted \"relay\"");
    r.MessageDone("reject");
    r.MessageDone("aborted");
  }
  EXPECT_EQ(m->sessions_active(), 0);
  EXPECT_EQ(m->sessions_total(), 1u);
  ChildSeries* dkim = m->Child("dkim");
  EXPECT_EQ(dkim->results(Stage::kConnect, Result::kContinue), 1u);
  EXPECT_EQ(dkim->answers(), 2u);
  EXPECT_EQ(m->Child("spam")->timeouts(Stage::kBody), 1u);
  EXPECT_EQ(m->Child("spam")->failures(Failure::kTimeout), 1u);
  EXPECT_EQ(m->Child("spam")->answers(), 0u);  // failures are not latencies
  EXPECT_EQ(m->Child("clam")->failures(Failure::kConnect), 1u);
  EXPECT_EQ(dkim->stops("trusted \"relay\""), 2u);

  ChildState up;
  up.name = "dkim";
  ChildState down;
  down.name = "sp\"am";
  down.health = ChildState::Health::kDown;
  down.restarts = 4;
  std::string page = m->Render({up, down});
  for (
      const char* line : {
          "milter_manager_sessions_total 1\n",
          "milter_manager_sessions_active 0\n",
          "milter_manager_messages_total{verdict=\"reject\"} 1\n",
          "milter_manager_messages_total{verdict=\"aborted\"} 1\n",
          "milter_manager_child_results_total{child=\"dkim\",stage=\"connect\","
          "status=\"continue\"} 1\n",
          "milter_manager_child_results_total{child=\"dkim\",stage=\"end-of-"
          "message\",status=\"reject\"} 1\n",
          "milter_manager_child_results_total{child=\"spam\",stage=\"body\","
          "status=\"failed\"} 1\n",
          "milter_manager_child_answer_seconds_bucket{child=\"dkim\",le="
          "\"0.001\"} 0\n",
          "milter_manager_child_answer_seconds_bucket{child=\"dkim\",le="
          "\"0.0025\"} 1\n",
          "milter_manager_child_answer_seconds_bucket{child=\"dkim\",le="
          "\"2.5\"} 1\n",
          "milter_manager_child_answer_seconds_bucket{child=\"dkim\",le=\"5\"}"
          " 2\n",
          "milter_manager_child_answer_seconds_bucket{child=\"dkim\",le="
          "\"+Inf\"} 2\n",
          "milter_manager_child_answer_seconds_sum{child=\"dkim\"} 3.002\n",
          "milter_manager_child_answer_seconds_count{child=\"dkim\"} 2\n",
          "milter_manager_child_failures_total{child=\"spam\",kind=\"timeout\"}"
          " 1\n",
          "milter_manager_child_failures_total{child=\"clam\",kind=\"connect\"}"
          " 1\n",
          "milter_manager_child_timeouts_total{child=\"spam\",stage=\"body\"} "
          "1\n",
          "milter_manager_condition_stops_total{child=\"dkim\",condition="
          "\"trusted \\\"relay\\\"\"} 2\n",
          "milter_manager_child_restarts_total{child=\"sp\\\"am\"} 4\n",
          "milter_manager_child_state{child=\"dkim\",state=\"up\"} 1\n",
          "milter_manager_child_state{child=\"sp\\\"am\",state=\"up\"} 0\n",
          "milter_manager_child_state{child=\"sp\\\"am\",state=\"down\"} 1\n",
      }) {
    EXPECT_THAT(page, HasSubstr(line));
  }
  EXPECT_THAT(page, Not(HasSubstr("status=\"skip\"")));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(LabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(LabelValue("plain"), "plain");
}

TEST(MetricsTest, FailureKinds) {
  EXPECT_EQ(
      FailureOf(absl::UnavailableError("connecting to unix:/x: no"), true),
      Failure::kConnect);
  EXPECT_EQ(FailureOf(absl::DeadlineExceededError(
                          "connecting to unix:/x: timed out after 1s"),
                      true),
            Failure::kConnect);
  EXPECT_EQ(FailureOf(absl::UnavailableError(
                          "reading from the filter: the filter closed the "
                          "connection"),
                      false),
            Failure::kClosed);
  EXPECT_EQ(FailureOf(absl::DeadlineExceededError("no answer"), false),
            Failure::kTimeout);
  EXPECT_EQ(FailureOf(absl::InvalidArgumentError("protocol violation"), false),
            Failure::kProtocol);
  EXPECT_EQ(FailureOf(absl::InternalError("?"), false), Failure::kOther);
  EXPECT_EQ(VerdictOf("no-reply"), Verdict::kOther);
  EXPECT_EQ(StageOf("end-of-header"), Stage::kEndOfHeader);
  EXPECT_EQ(ResultOf("shutdown"), Result::kOther);
}

TEST(MetricsTest, ConcurrentSessionsAndScrapesCountEverything) {
  auto m = std::make_shared<Metrics>();
  constexpr int kThreads = 4, kSessions = 500;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) {
      std::string page = m->Render({});
      ASSERT_THAT(page, HasSubstr("milter_manager_sessions_total "));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSessions; ++i) {
        SessionRecorder r(m);
        std::string child = absl::StrCat("child", (t + i) % 3);
        r.ChildResult(child, "helo", "continue", absl::Milliseconds(1),
                      absl::OkStatus());
        r.Stopped(child, "c");
        r.MessageDone("accept");
      }
    });
  }
  for (std::thread& t : threads) t.join();
  done = true;
  scraper.join();
  EXPECT_EQ(m->sessions_total(), uint64_t{kThreads * kSessions});
  EXPECT_EQ(m->sessions_active(), 0);
  EXPECT_EQ(m->messages(Verdict::kAccept), uint64_t{kThreads * kSessions});
  uint64_t helo = 0, stops = 0;
  for (int c = 0; c < 3; ++c) {
    ChildSeries* s = m->Child(absl::StrCat("child", c));
    helo += s->results(Stage::kHelo, Result::kContinue);
    stops += s->stops("c");
  }
  EXPECT_EQ(helo, uint64_t{kThreads * kSessions});
  EXPECT_EQ(stops, uint64_t{kThreads * kSessions});
}

TEST(MetricsTest, NullRegistryRecordsNothing) {
  SessionRecorder r(nullptr);
  EXPECT_FALSE(r.enabled());
  r.ChildResult("x", "helo", "continue", absl::Seconds(1), absl::OkStatus());
  r.MessageDone("accept");
}

}  // namespace
}  // namespace milter::manager::metrics
