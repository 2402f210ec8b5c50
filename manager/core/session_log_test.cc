// The structured log lines (docs/milter-manager.md, "Log lines"), parsed as
// a log analyser would: one "child" line per notable child answer, one
// "message" line per message and one "session" line per MTA session, keyed
// by the MTA's queue ID.

#include "manager/core/session_log.h"

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/core/scripted_child.h"
#include "manager/core/test_manager.h"
#include "milter/server/blocking_session.h"

namespace milter::manager {
namespace {

using server::BlockingSession;
using testing::ChildEntry;
using testing::ChildScript;
using testing::ManagerUnderTest;
using testing::ScriptedChild;
using testing::TempDir;

// A parsed line: its kind (the first word) and its key=value pairs.
struct Line {
  std::string kind;
  std::map<std::string, std::string> fields;
};

// logfmt: `kind key=value key="quoted \"value\"" ...`.
Line Parse(const std::string& text) {
  Line line;
  size_t i = text.find(' ');
  line.kind = text.substr(0, i);
  while (i != std::string::npos && i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t eq = text.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = text.substr(i, eq - i), value;
    i = eq + 1;
    if (i < text.size() && text[i] == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        value += text[i];
      }
      ++i;
    } else {
      size_t end = text.find(' ', i);
      value = text.substr(i, end == std::string::npos ? end : end - i);
      i = end;
    }
    line.fields[key] = value;
  }
  return line;
}

TEST(SessionLogTest, LogValueQuotesWhatNeedsIt) {
  EXPECT_EQ(LogValue("plain"), "plain");
  EXPECT_EQ(LogValue(""), "\"\"");
  EXPECT_EQ(LogValue("a b"), "\"a b\"");
  EXPECT_EQ(LogValue("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(Parse("x k=\"say \\\"hi\\\"\" n=1").fields.at("k"), "say \"hi\"");
}

TEST(SessionLogTest, ChildMessageAndSessionLinesThroughTheManager) {
  std::string dir = TempDir();
  ChildScript rejecting;
  rejecting.eom = [](client::Context& ctx) {
    (void)ctx.SetReply("550", "5.7.1", "no thanks");
    return client::Status::kReject;
  };
  ScriptedChild a(dir, "a", {}), b(dir, "b", rejecting), c(dir, "c", {});
  std::mutex mu;
  std::vector<Line> lines;
  ManagerUnderTest manager(
      dir,
      ChildEntry("a", a) + ChildEntry("b", b) +
          ChildEntry("c", c, "applicable_conditions: \"remote\""),
      "log_level: DEBUG\n"
      "applicable_condition { name: \"remote\" remote_network {} }\n",
      [&](config::LogLevel, std::string_view text) {
        std::lock_guard<std::mutex> lock(mu);
        lines.push_back(Parse(std::string(text)));
      });
  {
    BlockingSession mta;
    ASSERT_TRUE(mta.Open(manager.spec()).ok());
    server::ConnectionInfo info = testing::Client();
    info.address = "10.0.0.7";  // local: c is not applied
    ASSERT_TRUE(mta.Connect(info).ok());
    ASSERT_TRUE(mta.Mail("<a@example.org>", {}, {{"i", "QID1"}}).ok());
    ASSERT_TRUE(mta.Rcpt("<b@example.org>").ok());
    ASSERT_TRUE(mta.Rcpt("<c@example.org>").ok());
    auto eom = testing::Content(mta, "body\r\n");
    ASSERT_TRUE(eom.ok()) << eom.status();
    ASSERT_TRUE(mta.Quit().ok());
  }
  // The session line comes when the manager has closed the session.
  for (int i = 0; i < 1000; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!lines.empty() && lines.back().kind == "session") break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard<std::mutex> lock(mu);
  std::vector<Line> children, messages, sessions;
  for (const Line& l : lines) {
    if (l.kind == "result") children.push_back(l);
    if (l.kind == "message") messages.push_back(l);
    if (l.kind == "session") sessions.push_back(l);
  }
  ASSERT_EQ(messages.size(), 1u);
  const auto& m = messages[0].fields;
  EXPECT_EQ(m.at("queue_id"), "QID1");
  EXPECT_EQ(m.at("client"), "mx.example.net[10.0.0.7]");
  EXPECT_EQ(m.at("from"), "<a@example.org>");
  EXPECT_EQ(m.at("rcpts"), "2");
  EXPECT_EQ(m.at("verdict"), "reject");
  EXPECT_EQ(m.at("children"), "a:continue,b:reject");
  EXPECT_EQ(m.at("stopped"), "c:remote");
  EXPECT_GE(std::stod(m.at("elapsed_ms")), 0.0);
  bool a_eom = false, b_eom = false;
  for (const Line& l : children) {
    EXPECT_EQ(l.fields.size(), 5u);  // child stage status elapsed_ms queue_id
    if (l.fields.at("stage") != "end-of-message") continue;
    EXPECT_EQ(l.fields.at("queue_id"), "QID1");
    a_eom |= l.fields.at("child") == "a" && l.fields.at("status") == "continue";
    b_eom |= l.fields.at("child") == "b" && l.fields.at("status") == "reject";
  }
  EXPECT_TRUE(a_eom);
  EXPECT_TRUE(b_eom);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].fields.at("messages"), "1");
  EXPECT_EQ(sessions[0].fields.at("client"), "mx.example.net[10.0.0.7]");
  EXPECT_EQ(sessions[0].fields.at("stopped"), "c:remote");
}

}  // namespace
}  // namespace milter::manager
