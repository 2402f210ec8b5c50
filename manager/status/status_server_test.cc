// The status server over real HTTP: endpoints, methods, the loopback rule
// for POST /reload, bounded requests, unix sockets.

#include "manager/status/status_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/status/http_client.h"
#include "manager/status/json.h"

namespace milter::manager::status {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TempDir() {
  std::string dir = "/tmp/stsXXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) std::abort();
  return dir;
}

struct Fixture {
  std::shared_ptr<metrics::Metrics> metrics =
      std::make_shared<metrics::Metrics>();
  int reloads = 0;
  absl::Status reload_result = absl::OkStatus();

  StatusServerOptions Options(const std::string& listen) {
    StatusServerOptions o;
    o.listen = listen;
    o.metrics = metrics;
    o.version = "9.9";
    o.provider.configuration = [] { return std::string("io_threads: 1\n"); };
    o.provider.children = [] {
      ChildState up;
      up.name = "dkim";
      up.sessions = 3;
      ChildState down;
      down.name = "spam";
      down.health = ChildState::Health::kDown;
      down.restarts = 2;
      down.last_error = "connecting to unix:/x: refused";
      down.since = absl::FromUnixSeconds(1700000000);
      return std::vector<ChildState>{up, down};
    };
    o.provider.reload = [this] {
      ++reloads;
      return reload_result;
    };
    return o;
  }
};

std::unique_ptr<StatusServer> Start(StatusServerOptions options) {
  absl::StatusOr<std::unique_ptr<StatusServer>> s =
      StatusServer::Start(std::move(options));
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) std::abort();
  return *std::move(s);
}

TEST(StatusServerTest, MetricsAndStatusOnLoopback) {
  Fixture f;
  f.metrics->SessionStarted();
  f.metrics->MessageDone(metrics::Verdict::kReject);
  std::unique_ptr<StatusServer> server = Start(f.Options("inet:0@[127.0.0.1]"));
  EXPECT_TRUE(server->allows_changes());
  EXPECT_THAT(server->bound_spec(), StartsWith("inet:"));

  absl::StatusOr<HttpResponse> m =
      HttpRequest(server->bound_spec(), "GET", "/metrics");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->code, 200);
  EXPECT_THAT(m->content_type, StartsWith("text/plain; version=0.0.4"));
  EXPECT_THAT(m->body, HasSubstr("milter_manager_sessions_total 1\n"));
  EXPECT_THAT(m->body, HasSubstr("milter_manager_sessions_active 1\n"));
  EXPECT_THAT(m->body,
              HasSubstr("milter_manager_messages_total{verdict=\"reject\"} 1"));
  EXPECT_THAT(m->body,
              HasSubstr("milter_manager_child_state{child=\"spam\",state="
                        "\"down\"} 1"));
  EXPECT_THAT(
      m->body,
      HasSubstr("milter_manager_child_restarts_total{child=\"spam\"} 2"));

  absl::StatusOr<HttpResponse> s =
      HttpRequest(server->bound_spec(), "GET", "/status?pretty=1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->code, 200);
  EXPECT_EQ(s->content_type, "application/json");
  absl::StatusOr<JsonValue> doc = ParseJson(s->body);
  ASSERT_TRUE(doc.ok()) << doc.status() << s->body;
  EXPECT_EQ(doc->StringOr("version", ""), "9.9");
  EXPECT_EQ(doc->StringOr("configuration", ""), "io_threads: 1\n");
  EXPECT_GE(doc->NumberOr("uptime_seconds", -1), 0);
  const JsonValue* children = doc->Find("children");
  ASSERT_NE(children, nullptr);
  ASSERT_EQ(children->items.size(), 2u);
  EXPECT_EQ(children->items[0].StringOr("health", ""), "up");
  EXPECT_EQ(children->items[0].NumberOr("sessions", 0), 3);
  EXPECT_EQ(children->items[0].Find("since")->type, JsonValue::Type::kNull);
  EXPECT_EQ(children->items[1].StringOr("health", ""), "down");
  EXPECT_EQ(children->items[1].StringOr("since", ""), "2023-11-14T22:13:20Z");
  EXPECT_EQ(children->items[1].StringOr("last_error", ""),
            "connecting to unix:/x: refused");
  const JsonValue* counters = doc->Find("counters");
  ASSERT_NE(counters, nullptr);
  EXPECT_EQ(counters->NumberOr("sessions_total", 0), 1);
  EXPECT_EQ(counters->Find("messages")->NumberOr("reject", 0), 1);

  std::string text = FormatStatus(*doc);
  EXPECT_THAT(text, HasSubstr("milter-manager 9.9, up "));
  EXPECT_THAT(text, HasSubstr("sessions: 1 total, 1 active"));
  EXPECT_THAT(text, HasSubstr("reject 1"));
  EXPECT_THAT(text, HasSubstr("spam"));
  EXPECT_THAT(text, HasSubstr("connecting to unix:/x: refused"));
}

TEST(StatusServerTest, ReloadOnLoopbackCallsTheProvider) {
  Fixture f;
  std::unique_ptr<StatusServer> server = Start(f.Options("inet:0@[127.0.0.1]"));
  absl::StatusOr<HttpResponse> r =
      HttpRequest(server->bound_spec(), "POST", "/reload");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 200);
  EXPECT_EQ(r->body, "{\"ok\":true}\n");
  EXPECT_EQ(f.reloads, 1);

  f.reload_result = absl::InvalidArgumentError("m.conf:3:1: bad \"thing\"");
  r = HttpRequest(server->bound_spec(), "POST", "/reload");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 500);
  absl::StatusOr<JsonValue> doc = ParseJson(r->body);
  ASSERT_TRUE(doc.ok()) << r->body;
  EXPECT_FALSE(doc->BoolOr("ok", true));
  EXPECT_EQ(doc->StringOr("error", ""), "m.conf:3:1: bad \"thing\"");
  EXPECT_EQ(f.reloads, 2);
}

TEST(StatusServerTest, ReloadWithoutAProviderIsUnimplemented) {
  Fixture f;
  StatusServerOptions o = f.Options("inet:0@[127.0.0.1]");
  o.provider = {};
  std::unique_ptr<StatusServer> server = Start(std::move(o));
  absl::StatusOr<HttpResponse> r =
      HttpRequest(server->bound_spec(), "POST", "/reload");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 500);
  EXPECT_THAT(r->body, HasSubstr("cannot reload"));
  absl::StatusOr<HttpResponse> s =
      HttpRequest(server->bound_spec(), "GET", "/status");
  ASSERT_TRUE(s.ok());
  absl::StatusOr<JsonValue> doc = ParseJson(s->body);
  ASSERT_TRUE(doc.ok());
  EXPECT_TRUE(doc->Find("children")->items.empty());
}

TEST(StatusServerTest, ReloadRefusedOnANonLoopbackListener) {
  Fixture f;
  std::unique_ptr<StatusServer> server = Start(f.Options("inet:0"));
  EXPECT_FALSE(server->allows_changes());
  // Listening on every address; reached here through loopback.
  std::string port =
      server->bound_spec().substr(5, server->bound_spec().find('@') - 5);
  std::string spec = absl::StrCat("inet:", port, "@[127.0.0.1]");
  absl::StatusOr<HttpResponse> r = HttpRequest(spec, "POST", "/reload");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 403);
  EXPECT_THAT(r->body, HasSubstr("loopback"));
  EXPECT_EQ(f.reloads, 0);
  absl::StatusOr<HttpResponse> m = HttpRequest(spec, "GET", "/metrics");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->code, 200);  // reading is allowed
}

TEST(StatusServerTest, UnknownPathsWrongMethodsAndBigRequests) {
  Fixture f;
  std::unique_ptr<StatusServer> server = Start(f.Options("inet:0@[127.0.0.1]"));
  const std::string& spec = server->bound_spec();
  absl::StatusOr<HttpResponse> r = HttpRequest(spec, "GET", "/nothing");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 404);
  r = HttpRequest(spec, "POST", "/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 405);
  EXPECT_EQ(r->allow, "GET, HEAD");
  r = HttpRequest(spec, "DELETE", "/status");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 405);
  r = HttpRequest(spec, "GET", "/reload");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 405);
  EXPECT_EQ(r->allow, "POST");
  r = HttpRequest(spec, "POST", "/reload", std::string(kMaxBodyBytes + 1, 'x'));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 413);
  EXPECT_EQ(f.reloads, 0);
  // A header over the connection's memory: refused, not served.
  absl::StatusOr<std::string> raw = HttpExchange(
      spec, absl::StrCat("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ",
                         std::string(64 * 1024, 'y'),
                         "\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(raw.ok()) << raw.status();
  absl::StatusOr<HttpResponse> big = ParseHttpResponse(*raw);
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_GE(big->code, 400);
  // Garbage: an error or a closed connection, and the server still serves.
  (void)HttpExchange(spec, "\x01\x02 garbage\r\n\r\n");
  r = HttpRequest(spec, "GET", "/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 200);
}

TEST(StatusServerTest, UnixSocketServesChangesAndIsRemoved) {
  Fixture f;
  std::string dir = TempDir();
  std::string path = dir + "/status.sock";
  StatusServerOptions o = f.Options("unix:" + path);
  o.unix_socket_mode = 0600;
  {
    std::unique_ptr<StatusServer> server = Start(o);
    EXPECT_TRUE(server->allows_changes());
    EXPECT_EQ(server->bound_spec(), "unix:" + path);
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    absl::StatusOr<HttpResponse> r =
        HttpRequest(server->bound_spec(), "POST", "/reload");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->code, 200);
    EXPECT_EQ(f.reloads, 1);
    // A second server on a live socket is refused.
    absl::StatusOr<std::unique_ptr<StatusServer>> twice =
        StatusServer::Start(o);
    ASSERT_FALSE(twice.ok());
    EXPECT_THAT(std::string(twice.status().message()),
                HasSubstr("another process listens on it"));
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // removed at stop
  absl::StatusOr<HttpResponse> gone = HttpRequest("unix:" + path, "GET", "/");
  ASSERT_FALSE(gone.ok());
  EXPECT_THAT(std::string(gone.status().message()),
              HasSubstr("cannot connect to unix:" + path));
  ::rmdir(dir.c_str());
}

TEST(StatusServerTest, BadSpecsAreClearErrors) {
  Fixture f;
  absl::StatusOr<std::unique_ptr<StatusServer>> s =
      StatusServer::Start(f.Options("tcp:80"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()),
              StartsWith("status listener: "));
  s = StatusServer::Start(f.Options("unix:/nonexistent/dir/s.sock"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("bind"));
}

}  // namespace
}  // namespace milter::manager::status
