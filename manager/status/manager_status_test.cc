// A running manager with its status listener: MTA sessions through real
// sockets to scripted children, then /metrics and /status scraped over real
// HTTP and checked against what was sent.

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/config/config.h"
#include "manager/core/scripted_child.h"
#include "manager/core/test_manager.h"
#include "manager/metrics/metrics.h"
#include "manager/status/config_provider.h"
#include "manager/status/http_client.h"
#include "manager/status/json.h"
#include "manager/status/status_server.h"
#include "milter/server/blocking_session.h"

namespace milter::manager {
namespace {

using server::BlockingSession;
using testing::ChildEntry;
using testing::ChildScript;
using testing::ManagerUnderTest;
using testing::ScriptedChild;

constexpr int kSessions = 6;

// The samples of a text exposition: "name{labels}" -> value.
std::map<std::string, double> Samples(const std::string& page) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(page, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    size_t space = line.rfind(' ');
    double value = 0;
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &value)) << line;
    out[std::string(line.substr(0, space))] = value;
  }
  return out;
}

// The samples once no session is active any more (the manager counts a
// session's end when it has closed it).
std::map<std::string, double> ScrapeWhenIdle(const std::string& spec) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    absl::StatusOr<status::HttpResponse> r =
        status::HttpRequest(spec, "GET", "/metrics");
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    std::map<std::string, double> samples = Samples(r->body);
    if (samples["milter_manager_sessions_active"] == 0 ||
        std::chrono::steady_clock::now() > deadline) {
      return samples;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// kSessions MTA sessions of two messages each from a local client: the
// first message passes, b rejects the second.
void SendSessions(const std::string& manager_spec) {
  for (int i = 0; i < kSessions; ++i) {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager_spec).ok());
    server::ConnectionInfo info = testing::Client();
    info.address = "10.0.0.7";  // local: c is not applied
    ASSERT_TRUE(mta.Connect(info).ok());
    ASSERT_TRUE(mta.Helo("mx.example.net").ok());
    for (int m = 0; m < 2; ++m) {
      ASSERT_TRUE(mta.Mail("<a@example.org>").ok());
      ASSERT_TRUE(mta.Rcpt("<b@example.org>").ok());
      auto eom = testing::Content(mta, "body\r\n");
      ASSERT_TRUE(eom.ok()) << eom.status();
      EXPECT_EQ(eom->verdict.decision, m == 0 ? server::Decision::kContinue
                                              : server::Decision::kReject);
    }
    ASSERT_TRUE(mta.Quit().ok());
  }
}

// /status after SendSessions: the counters and the configured children.
void CheckStatusDocument(const std::string& spec) {
  const double n = kSessions;
  absl::StatusOr<status::HttpResponse> r =
      status::HttpRequest(spec, "GET", "/status");
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<status::JsonValue> doc = status::ParseJson(r->body);
  ASSERT_TRUE(doc.ok()) << doc.status();
  const status::JsonValue* counters = doc->Find("counters");
  ASSERT_NE(counters, nullptr);
  EXPECT_EQ(counters->NumberOr("sessions_total", 0), n);
  EXPECT_EQ(counters->Find("messages")->NumberOr("reject", 0), n);
  const status::JsonValue* kids = doc->Find("children");
  ASSERT_NE(kids, nullptr);
  ASSERT_EQ(kids->items.size(), 4u);
  EXPECT_EQ(kids->items[3].StringOr("name", ""), "gone");
  EXPECT_EQ(kids->items[3].StringOr("health", ""), "up");
  EXPECT_THAT(doc->StringOr("configuration", ""),
              ::testing::HasSubstr("name: \"gone\""));
}

TEST(ManagerStatusTest, MetricsAndStatusCountWhatWasSent) {
  std::string dir = testing::TempDir();
  std::atomic<int> messages{0};
  ChildScript every_other;  // rejects every second message
  every_other.eom = [&messages](client::Context& ctx) {
    if (++messages % 2 == 1) return client::Status::kContinue;
    (void)ctx.SetReply("550", "5.7.1", "no thanks");
    return client::Status::kReject;
  };
  ScriptedChild a(dir, "a", {}), b(dir, "b", every_other), c(dir, "c", {});
  std::string children =
      ChildEntry("a", a) + ChildEntry("b", b) +
      ChildEntry("c", c, "applicable_conditions: \"remote\"") +
      "child { name: \"gone\" connection_spec: \"unix:" + dir +
      "/nobody.sock\" }\n";
  std::string extra =
      "applicable_condition { name: \"remote\" remote_network {} }\n";
  auto metrics = std::make_shared<metrics::Metrics>();
  ManagerUnderTest manager(dir, children, extra, nullptr, metrics);
  absl::StatusOr<config::ManagerConfig> config =
      ParseConfig(extra + children, "test");
  ASSERT_TRUE(config.ok()) << config.status();

  status::StatusServerOptions options;
  options.listen = "inet:0@[127.0.0.1]";
  options.metrics = metrics;
  options.provider = status::ConfigProvider(
      std::make_shared<const config::ManagerConfig>(*config));
  absl::StatusOr<std::unique_ptr<status::StatusServer>> server =
      status::StatusServer::Start(std::move(options));
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string& spec = (*server)->bound_spec();

  SendSessions(manager.spec());

  std::map<std::string, double> s = ScrapeWhenIdle(spec);
  const double n = kSessions;
  EXPECT_EQ(s["milter_manager_sessions_total"], n);
  EXPECT_EQ(s["milter_manager_sessions_active"], 0);
  EXPECT_EQ(s["milter_manager_messages_total{verdict=\"continue\"}"], n);
  EXPECT_EQ(s["milter_manager_messages_total{verdict=\"reject\"}"], n);
  EXPECT_EQ(s["milter_manager_messages_total{verdict=\"aborted\"}"], 0);
  EXPECT_EQ(s["milter_manager_child_results_total{child=\"a\",stage="
              "\"connect\",status=\"continue\"}"],
            n);
  EXPECT_EQ(s["milter_manager_child_results_total{child=\"a\",stage="
              "\"end-of-message\",status=\"continue\"}"],
            2 * n);
  EXPECT_EQ(s["milter_manager_child_results_total{child=\"b\",stage="
              "\"end-of-message\",status=\"continue\"}"],
            n);
  EXPECT_EQ(s["milter_manager_child_results_total{child=\"b\",stage="
              "\"end-of-message\",status=\"reject\"}"],
            n);
  EXPECT_EQ(s.count("milter_manager_child_results_total{child=\"c\",stage="
                    "\"connect\",status=\"continue\"}"),
            0u);
  EXPECT_EQ(s["milter_manager_condition_stops_total{child=\"c\",condition="
              "\"remote\"}"],
            n);
  EXPECT_EQ(s["milter_manager_child_failures_total{child=\"gone\",kind="
              "\"connect\"}"],
            n);
  EXPECT_EQ(s["milter_manager_child_failures_total{child=\"a\",kind="
              "\"connect\"}"],
            0);
  // a answered connect, helo, and per message MAIL, RCPT, three headers,
  // end of headers, body and end of message.
  double a_answers =
      s["milter_manager_child_answer_seconds_count{child=\"a\"}"];
  EXPECT_EQ(a_answers, n * (2 + 2 * 8));
  EXPECT_EQ(
      s["milter_manager_child_answer_seconds_bucket{child=\"a\",le=\"+Inf\"}"],
      a_answers);
  EXPECT_GT(s["milter_manager_child_answer_seconds_sum{child=\"a\"}"], 0);
  EXPECT_EQ(s["milter_manager_child_state{child=\"gone\",state=\"up\"}"], 1);
  EXPECT_EQ(s["milter_manager_child_restarts_total{child=\"a\"}"], 0);

  CheckStatusDocument(spec);
}

TEST(ManagerStatusTest, MetricsSurviveAReload) {
  std::string dir = testing::TempDir();
  ScriptedChild a(dir, "a", {}), b(dir, "b", {});
  auto metrics = std::make_shared<metrics::Metrics>();
  ManagerUnderTest manager(dir, ChildEntry("a", a), "", nullptr, metrics);
  auto session = [&] {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    ASSERT_TRUE(mta.Connect(testing::Client()).ok());
    ASSERT_TRUE(mta.Quit().ok());
  };
  session();
  config::ManagerConfig next = *manager.manager().config();
  next.clear_child();
  absl::StatusOr<config::ManagerConfig> b_only =
      ParseConfig(ChildEntry("b", b), "reload");
  ASSERT_TRUE(b_only.ok()) << b_only.status();
  *next.mutable_child() = b_only->child();
  ASSERT_TRUE(manager.manager().Reload(next).ok());
  session();
  // Both generations counted in the one registry.
  EXPECT_EQ(metrics->sessions_total(), 2u);
  EXPECT_EQ(metrics->Child("a")->results(metrics::Stage::kConnect,
                                         metrics::Result::kContinue),
            1u);
  EXPECT_EQ(metrics->Child("b")->results(metrics::Stage::kConnect,
                                         metrics::Result::kContinue),
            1u);
}

}  // namespace
}  // namespace milter::manager
