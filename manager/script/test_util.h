// Test helpers for manager/script: scripts written to a temporary directory
// with controlled mtimes, a logging Engine, and a Session filled with facts.

#ifndef MANAGER_SCRIPT_TEST_UTIL_H_
#define MANAGER_SCRIPT_TEST_UTIL_H_

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "manager/script/engine.h"
#include "manager/script/session.h"
#include "milter/codec/macros.h"

namespace milter::manager::script {

class ScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/script_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    macros_.Set(codec::MacroStage::kConnect, "{daemon_name}", "mta-in");
    macros_.Set(codec::MacroStage::kConnect, "j", "mx.example.org");
    macros_.Set(codec::MacroStage::kHelo, "{tls_version}", "TLSv1.3");
    macros_.Set(codec::MacroStage::kHelo, "{cipher}", "TLS_AES_256_GCM");
    macros_.Set(codec::MacroStage::kHelo, "{cipher_bits}", "256");
    macros_.Set(codec::MacroStage::kHelo, "{cert_subject}", "CN=client");
    macros_.Set(codec::MacroStage::kHelo, "{cert_issuer}", "CN=ca");
    macros_.Set(codec::MacroStage::kMail, "{auth_type}", "PLAIN");
    macros_.Set(codec::MacroStage::kMail, "{auth_authen}", "alice");
    macros_.Set(codec::MacroStage::kMail, "{auth_author}", "bob");
    macros_.Set(codec::MacroStage::kMail, "{mail_addr}", "a@example.com");
    macros_.Set(codec::MacroStage::kRcpt, "{rcpt_addr}", "c@example.net");
    macros_.Set(codec::MacroStage::kData, "i", "4Qx1Abc");
    session_.client = {"client.example.com", codec::Family::kInet, 40123,
                       "192.0.2.7"};
    session_.helo = "client.example.com";
    session_.envelope_from = "<a@example.com>";
    session_.envelope_from_args = {"SIZE=100", "BODY=8BITMIME"};
    session_.recipients = {"<b@example.net>", "<c@example.net>"};
    session_.recipient = "<c@example.net>";
    session_.recipient_args = {"NOTIFY=NEVER"};
    session_.headers = {{"From", "a@example.com"},
                        {"Subject", "hello"},
                        {"Received", "one"},
                        {"Received", "two"}};
    session_.header_name = "Subject";
    session_.header_value = "hello";
    session_.body_chunk = "body text";
    session_.unknown_command = "XFOO bar";
    session_.macros = &macros_;
    session_.receive_time = absl::FromUnixMicros(1700000000250000);
    session_.message_count = 2;
    session_.child_names = &children_;
    session_.child_answers = &answers_;
  }
  void TearDown() override {
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(dir_.c_str());
  }

  // Writes `text` to `name` with an mtime `version` seconds after a fixed
  // base, so each edit is a new mtime even within one clock tick.
  std::string Write(const std::string& name, const std::string& text,
                    int version = 0) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path, std::ios::trunc) << text;
    timespec times[2] = {{1700000000 + version, 0}, {1700000000 + version, 0}};
    EXPECT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
    files_.push_back(path);
    return path;
  }

  Engine::Options Logged(absl::Duration recheck = absl::ZeroDuration()) {
    Engine::Options options;
    options.recheck = recheck;
    options.log = [this](std::string_view line) { log_.emplace_back(line); };
    return options;
  }

  // Calls `handler` of a file holding `source` at `stage`.
  Engine::Outcome Run(Engine& engine, const std::string& source, Stage stage,
                      const std::string& handler = "handle") {
    std::string path = Write(absl::StrCat("s", ++count_, ".rb"), source);
    session_.stage = stage;
    session_.Reset();
    return engine.Call(path, handler, session_, Value::Symbol("fallback"),
                       absl::Milliseconds(500));
  }

  std::string dir_;
  std::vector<std::string> files_;
  std::vector<std::string> log_;
  codec::MacroMap macros_;
  std::vector<std::string> children_ = {"spamd", "clamav"};
  std::vector<ChildAnswer> answers_ = {
      {"spamd", Stage::kEnvelopeFrom, codec::Status::kContinue, ""},
      {"clamav", Stage::kEnvelopeFrom, codec::Status::kReject, "550 5.7.1 no"}};
  Session session_;
  int count_ = 0;
};

}  // namespace milter::manager::script

#endif  // MANAGER_SCRIPT_TEST_UTIL_H_
