// Scaffolding of the manager's scenario tests.

#include "manager/core/test_manager.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "manager/config/config.h"

namespace milter::manager::testing {

using server::Decision;

std::string TempDir() {
  std::string dir = "/tmp/mgrXXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) std::abort();
  return dir;
}

ManagerUnderTest::ManagerUnderTest(const std::string& dir,
                                   const std::string& children_text,
                                   const std::string& extra, LogSink log,
                                   std::shared_ptr<metrics::Metrics> metrics) {
  std::string text =
      absl::StrCat("connection_spec: \"unix:", dir,
                   "/manager.sock\"\nio_threads: 1\n", extra, children_text);
  absl::StatusOr<config::ManagerConfig> config = ParseConfig(text, "test");
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) std::abort();
  absl::StatusOr<std::unique_ptr<Manager>> created =
      Manager::Create(*config, std::move(log), nullptr, std::move(metrics));
  EXPECT_TRUE(created.ok()) << created.status();
  if (!created.ok()) std::abort();
  manager_ = *std::move(created);
  EXPECT_TRUE(manager_->Listen().ok());
  spec_ = manager_->bound_specs().front();
  thread_ = std::thread([this] { (void)manager_->Run(); });
}

ManagerUnderTest::~ManagerUnderTest() {
  manager_->Stop();
  thread_.join();
}

LogSink Lines::Sink() {
  return [this](config::LogLevel, std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
  };
}

std::string Lines::All() {
  std::lock_guard<std::mutex> lock(mu);
  std::string out;
  for (const std::string& l : lines) absl::StrAppend(&out, l, "\n");
  return out;
}

std::string ChildEntry(const std::string& name, const ScriptedChild& c,
                       const std::string& extra) {
  return absl::StrCat("child { name: \"", name, "\" connection_spec: \"",
                      c.spec(), "\" ", extra, " }\n");
}

server::ConnectionInfo Client() {
  server::ConnectionInfo info;
  info.hostname = "mx.example.net";
  info.family = codec::Family::kInet;
  info.port = 40000;
  info.address = "192.0.2.1";
  return info;
}

Decision Envelope(server::BlockingSession& mta) {
  EXPECT_TRUE(mta.Connect(Client()).ok());
  EXPECT_TRUE(mta.Helo("mx.example.net").ok());
  EXPECT_TRUE(mta.Mail("<a@example.org>").ok());
  auto rcpt = mta.Rcpt("<b@example.org>");
  EXPECT_TRUE(rcpt.ok()) << rcpt.status();
  return rcpt.ok() ? rcpt->decision : Decision::kContinue;
}

absl::StatusOr<server::EndOfMessageResult> Content(server::BlockingSession& mta,
                                                   const std::string& body) {
  for (auto [name, value] :
       {std::pair{"From", "a@example.org"}, std::pair{"Subject", "hello"},
        std::pair{"Received", "by x"}}) {
    auto v = mta.Header(name, value);
    if (!v.ok()) return v.status();
  }
  auto v = mta.EndOfHeaders();
  if (!v.ok()) return v.status();
  v = mta.Body(body);
  if (!v.ok()) return v.status();
  return mta.EndOfMessage({{"i", "QID1"}});
}

}  // namespace milter::manager::testing
