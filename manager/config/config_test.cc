// Configuration loading: defaults, the effective configuration, and errors
// that name file, line, column and problem.

#include "manager/config/config.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace milter::manager {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, EmptyFileGivesTheEmbeddedDefault) {
  absl::StatusOr<ManagerConfig> c = ParseConfig("", "empty.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->connection_spec(), "inet:10025@[127.0.0.1]");
  EXPECT_EQ(c->fallback_status(), config::ACCEPT);
  EXPECT_EQ(c->fallback_status_at_disconnect(), config::TEMPFAIL);
  EXPECT_EQ(c->unix_socket_mode(), "0660");
  EXPECT_EQ(SocketMode(*c), 0660u);
  EXPECT_GE(c->io_threads(), 1u);
  EXPECT_EQ(c->child_size(), 0);
  EXPECT_EQ(ConfigToText(*c), ConfigToText(EmbeddedDefault()));
}

TEST(ConfigTest, ChildDefaultsAreFilledIn) {
  absl::StatusOr<ManagerConfig> c = ParseConfig(
      R"(fallback_status: TEMPFAIL
         child { name: "dkim" connection_spec: "inet:8891@127.0.0.1" })",
      "m.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  const ChildConfig& child = c->child(0);
  EXPECT_TRUE(child.enabled());
  EXPECT_FALSE(child.evaluation_mode());
  EXPECT_EQ(child.fallback_status(), config::TEMPFAIL);  // the manager's
  EXPECT_EQ(child.connect_timeout(), 30);
  EXPECT_EQ(child.reading_timeout(), 30);
  EXPECT_EQ(child.end_of_message_timeout(), 300);
}

TEST(ConfigTest, ShowConfigPrintsEveryFieldAndParsesBack) {
  absl::StatusOr<ManagerConfig> c = ParseConfig(
      R"(child { name: "a" connection_spec: "unix:/run/a.sock" })", "m.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  std::string text = ConfigToText(*c);
  for (const char* field :
       {"connection_spec:", "unix_socket_mode:", "fallback_status:",
        "max_connections:", "max_message_memory_bytes:", "io_threads:",
        "log_level:", "evaluation_mode:", "enabled:", "reading_timeout:"}) {
    EXPECT_THAT(text, HasSubstr(field));
  }
  absl::StatusOr<ManagerConfig> again = ParseConfig(text, "shown.conf");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(ConfigToText(*again), text);
}

TEST(ConfigTest, SyntaxErrorNamesFileLineAndColumn) {
  absl::StatusOr<ManagerConfig> c =
      ParseConfig("connection_spec: \"inet:1@[::1]\"\nchild {\n  nme: \"x\"\n}",
                  "/etc/m.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("/etc/m.conf:3:"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("nme"));
}

TEST(ConfigTest, BadChildSpecNamesTheLineOfTheField) {
  absl::StatusOr<ManagerConfig> c = ParseConfig(
      "child {\n  name: \"dkim\"\n  connection_spec: \"inet:notaport\"\n}",
      "m.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("m.conf:3:3: child \"dkim\": connection_spec: "));
}

TEST(ConfigTest, DuplicateAndMissingThingsAreRefused) {
  auto dup = ParseConfig(
      R"(child { name: "a" connection_spec: "unix:/a" }
child { name: "a" connection_spec: "unix:/b" })",
      "m.conf");
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(std::string(dup.status().message()),
              HasSubstr("m.conf:2:9: child \"a\": name used twice"));
  auto no_spec = ParseConfig(R"(child { name: "a" })", "m.conf");
  ASSERT_FALSE(no_spec.ok());
  EXPECT_THAT(std::string(no_spec.status().message()),
              HasSubstr("connection_spec is missing"));
  auto no_name =
      ParseConfig(R"(child { connection_spec: "unix:/a" })", "m.conf");
  ASSERT_FALSE(no_name.ok());
  EXPECT_THAT(std::string(no_name.status().message()),
              HasSubstr("m.conf:1:1: child 1: name must be"));
  auto bad_timeout = ParseConfig(
      R"(child { name: "a" connection_spec: "unix:/a" reading_timeout: -1 })",
      "m.conf");
  ASSERT_FALSE(bad_timeout.ok());
  EXPECT_THAT(std::string(bad_timeout.status().message()),
              HasSubstr("reading_timeout must be between"));
  auto bad_spec = ParseConfig(R"(connection_spec: "tcp:25")", "m.conf");
  ASSERT_FALSE(bad_spec.ok());
  EXPECT_THAT(std::string(bad_spec.status().message()),
              HasSubstr("m.conf:1:1: connection_spec: "));
}

TEST(ConfigTest, SocketModeIsOctal) {
  auto c = ParseConfig(R"(unix_socket_mode: "0600")", "m.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(SocketMode(*c), 0600u);
  auto bad = ParseConfig(R"(unix_socket_mode: "0689")", "m.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("m.conf:1:1: unix_socket_mode must be an octal"));
}

TEST(ConfigTest, StatusListenIsASocketSpec) {
  auto c = ParseConfig("status_listen: \"inet:9125@[127.0.0.1]\"", "m.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->status_listen(), "inet:9125@[127.0.0.1]");
  auto none = ParseConfig("", "m.conf");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->status_listen(), "");
  auto bad = ParseConfig("io_threads: 1\nstatus_listen: \"http:80\"", "m.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("m.conf:2:1: status_listen: "));
}

TEST(ConfigTest, MissingFileIsAClearError) {
  auto c = LoadConfigFile("/nonexistent/milter-manager.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("/nonexistent/milter-manager.conf: cannot read"));
}

TEST(ConfigTest, LoadsAFile) {
  std::string path = ::testing::TempDir() + "/m.conf";
  std::ofstream(path) << "child { name: \"x\" connection_spec: \"unix:/x\" }\n";
  auto c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->child(0).name(), "x");
}

TEST(ConfigTest, SupervisionDefaults) {
  absl::StatusOr<ManagerConfig> c = ParseConfig("", "m.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->restart_backoff_initial(), 1);
  EXPECT_EQ(c->restart_backoff_maximum(), 60);
  EXPECT_EQ(c->circuit_failures(), 3u);
  EXPECT_EQ(c->circuit_probe_interval(), 10);
  EXPECT_EQ(c->child_start_timeout(), 30);
}

TEST(ConfigTest, ALaunchedChild) {
  absl::StatusOr<ManagerConfig> c = ParseConfig(
      R"(child {
           name: "a" connection_spec: "unix:/run/a.sock"
           command: "/usr/sbin/a" arguments: "-p" arguments: "unix:/run/a.sock"
           user: "nobody" group: "0" working_directory: "/var/lib/a"
           environment: "A_DEBUG=1"
         })",
      "m.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->child(0).arguments_size(), 2);
}

// The error for `text` (a child "a" with `child_fields`, then `top`).
std::string ErrorOf(const std::string& child_fields,
                    const std::string& top = "") {
  absl::StatusOr<ManagerConfig> c =
      ParseConfig("child { name: \"a\" connection_spec: \"unix:/a\"\n" +
                      child_fields + "\n}\n" + top,
                  "m.conf");
  return c.ok() ? "" : std::string(c.status().message());
}

TEST(ConfigTest, LaunchErrorsNameTheLine) {
  EXPECT_EQ(ErrorOf("command: \"a.out\""),
            "m.conf:2:1: child \"a\": command must be an absolute path, not "
            "\"a.out\"");
  EXPECT_EQ(ErrorOf("user: \"nobody\""),
            "m.conf:2:1: child \"a\": user needs a command");
  EXPECT_EQ(ErrorOf("command: \"/x\" user: \"no-such-user-here\""),
            "m.conf:2:15: child \"a\": no such user \"no-such-user-here\"");
  EXPECT_EQ(ErrorOf("command: \"/x\" group: \"no-such-group-here\""),
            "m.conf:2:15: child \"a\": no such group \"no-such-group-here\"");
  EXPECT_EQ(ErrorOf("command: \"/x\" working_directory: \"tmp\""),
            "m.conf:2:15: child \"a\": working_directory must be absolute");
  EXPECT_EQ(ErrorOf("command: \"/x\" environment: \"1A=b\""),
            "m.conf:2:15: child \"a\": environment entry \"1A=b\" is not "
            "NAME=VALUE");
  EXPECT_EQ(ErrorOf("command: \"/x\" environment: \"NOVALUE\""),
            "m.conf:2:15: child \"a\": environment entry \"NOVALUE\" is not "
            "NAME=VALUE");
}

TEST(ConfigTest, SupervisionErrorsNameTheLine) {
  EXPECT_EQ(ErrorOf("", "restart_backoff_initial: -1"),
            "m.conf:4:1: restart_backoff_initial must be between 0.01 and "
            "86400 seconds");
  EXPECT_EQ(ErrorOf("",
                    "restart_backoff_initial: 10\n"
                    "restart_backoff_maximum: 5"),
            "m.conf:5:1: restart_backoff_maximum must not be less than "
            "restart_backoff_initial");
  EXPECT_EQ(ErrorOf("", "circuit_probe_interval: 0"),
            "m.conf:4:1: circuit_probe_interval must be between 0.01 and "
            "86400 seconds");
  EXPECT_EQ(ErrorOf("", "circuit_failures: 2000000"),
            "m.conf:4:1: circuit_failures must be 0..1000000");
}

TEST(ConfigTest, DaemonSettingsHaveDefaultsAndAreChecked) {
  absl::StatusOr<ManagerConfig> c = ParseConfig("", "d.conf");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->shutdown_timeout(), 60);
  EXPECT_EQ(c->log_destination(), "stderr");
  EXPECT_EQ(c->syslog_facility(), "mail");
  EXPECT_EQ(c->pid_file(), "");
  EXPECT_EQ(c->user(), "");
  EXPECT_EQ(c->max_open_files(), 0u);
  struct Bad {
    const char* text;
    const char* error;
  };
  for (const Bad& bad : {
           Bad{"\nlog_destination: \"relative.log\"",
               "d.conf:2:1: log_destination must be"},
           Bad{"syslog_facility: \"kern\"",
               "d.conf:1:1: unknown syslog_facility \"kern\""},
           Bad{"pid_file: \"m.pid\"", "d.conf:1:1: pid_file must be absolute"},
           Bad{"group: \"mail\"", "d.conf:1:1: group needs user"},
           Bad{"shutdown_timeout: -1", "d.conf:1:1: shutdown_timeout must be"},
       }) {
    absl::StatusOr<ManagerConfig> refused = ParseConfig(bad.text, "d.conf");
    ASSERT_FALSE(refused.ok()) << bad.text;
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(bad.error));
  }
  absl::StatusOr<ManagerConfig> good = ParseConfig(
      R"(log_destination: "syslog" syslog_facility: "local5"
         pid_file: "/run/m.pid" user: "nobody" group: "nogroup"
         shutdown_timeout: 5 max_open_files: 4096)",
      "d.conf");
  EXPECT_TRUE(good.ok()) << good.status();
}

}  // namespace
}  // namespace milter::manager
