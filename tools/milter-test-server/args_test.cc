// Tests of milter-test-server's command-line parsing and validation.

#include "tools/milter-test-server/args.h"

#include <cstdio>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace milter_test_server {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(RewriteArgsTest, ShortOptionsAndHyphens) {
  auto r = RewriteArgs({"prog", "-s", "inet:1@[127.0.0.1]", "-finit@x",
                        "--helo-fqdn", "-h", "--threads=3", "--json",
                        "--negotiate_version=4", "--output-message"});
  ASSERT_TRUE(r.ok()) << r.status();
  // "-h" after --helo-fqdn is its value, not a header.
  EXPECT_THAT(
      r->argv,
      ElementsAre("prog", "--connection_spec=inet:1@[127.0.0.1]",
                  "--envelope_from=init@x", "--helo_fqdn=-h", "--threads=3",
                  "--json", "--negotiate_version=4", "--output_message"));
  EXPECT_TRUE(r->repeated.empty());
  r = RewriteArgs({"prog", "--no-json", "--nooutput-message", "-s", "x"});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->argv, ElementsAre("prog", "--nojson", "--nooutput_message",
                                   "--connection_spec=x"));
}

TEST(RewriteArgsTest, RepeatableOptionsAreCollected) {
  auto r = RewriteArgs({"prog", "-r", "<a@x>", "--envelope-recipient=<b@x>",
                        "-h", "X-A:1", "--header", "X-B:2", "-b", "chunk1",
                        "-bchunk2", "--connect-macro", "j:host",
                        "--end-of-message-macro=i:QID"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->argv, ElementsAre("prog"));
  EXPECT_THAT(
      r->repeated,
      ElementsAre(Pair("body", ElementsAre("chunk1", "chunk2")),
                  Pair("connect-macro", ElementsAre("j:host")),
                  Pair("end-of-message-macro", ElementsAre("i:QID")),
                  Pair("envelope-recipient", ElementsAre("<a@x>", "<b@x>")),
                  Pair("header", ElementsAre("X-A:1", "X-B:2"))));
}

TEST(RewriteArgsTest, HelpVersionAndErrors) {
  auto r = RewriteArgs({"prog", "--help", "--version"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->help);
  EXPECT_TRUE(r->version);
  EXPECT_FALSE(RewriteArgs({"prog", "-s"}).ok());
  EXPECT_FALSE(RewriteArgs({"prog", "--envelope-from"}).ok());
}

TEST(RewriteArgsTest, HelpWinsWhereverItStands) {
  auto r = RewriteArgs({"prog", "--bogus", "--help", "-s"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->help);
}

TEST(RewriteArgsTest, UnknownOptionIsNamedWithoutEatingItsNeighbour) {
  for (auto args : {std::vector<std::string>{"prog", "--bogus"},
                    std::vector<std::string>{"prog", "--bogus", "x"},
                    std::vector<std::string>{"prog", "--bogus=1"}}) {
    auto r = RewriteArgs(args);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "unknown option --bogus");
  }
}

TEST(RewriteArgsTest, DoubleDashEndsOptions) {
  absl::FlagSaver saver;
  auto r = RewriteArgs({"prog", "--json", "--"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(ApplyFlags(r->argv).ok());
  auto operand = RewriteArgs({"prog", "--", "extra"});
  ASSERT_TRUE(operand.ok());
  absl::Status applied = ApplyFlags(operand->argv);
  EXPECT_EQ(applied.message(), "unexpected argument \"extra\"");
}

class BuildOptionsTest : public ::testing::Test {
 protected:
  absl::FlagSaver saver_;
};

TEST_F(BuildOptionsTest, Defaults) {
  auto o = BuildOptions(RewrittenArgs{});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->connect.hostname, "mx.example.net");
  EXPECT_EQ(o->connect.address, "192.168.123.123");
  EXPECT_EQ(o->connect.port, 50443);
  EXPECT_EQ(o->helo, "delian");
  EXPECT_EQ(o->message.envelope_from, "<sender@example.com>");
  EXPECT_THAT(o->message.recipients, ElementsAre("<receiver@example.org>"));
  EXPECT_EQ(o->session.version, 6u);
  EXPECT_EQ(o->n_sessions, 1);
}

TEST_F(BuildOptionsTest, CommandLineValues) {
  absl::SetFlag(&FLAGS_connection_spec, "unix:/tmp/x.sock");
  absl::SetFlag(&FLAGS_negotiate_version, 2);
  absl::SetFlag(&FLAGS_connect_address, "2001:db8::1");
  absl::SetFlag(&FLAGS_reading_timeout, 1.5);
  absl::SetFlag(&FLAGS_threads, 10);
  RewrittenArgs args;
  args.repeated["header"] = {"Subject:hi there", "X-Empty:"};
  args.repeated["envelope-recipient"] = {"<r@x>"};
  args.repeated["helo-macro"] = {"{tls_version}:TLSv1.3"};
  auto o = BuildOptions(args);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->session.version, 2u);
  EXPECT_EQ(o->session.read_timeout, absl::Milliseconds(1500));
  EXPECT_EQ(o->connect.family, milter::codec::Family::kInet6);
  EXPECT_EQ(o->n_sessions, 10);
  ASSERT_EQ(o->message.headers.size(), 2u);
  EXPECT_EQ(o->message.headers[0].value, " hi there");
  EXPECT_THAT(o->message.recipients, ElementsAre("<r@x>"));
  EXPECT_THAT(o->macros["helo"], ElementsAre(Pair("{tls_version}", "TLSv1.3")));
}

TEST_F(BuildOptionsTest, MailFileFillsTheEnvelope) {
  std::string path = std::string(std::getenv("TEST_TMPDIR") != nullptr
                                     ? std::getenv("TEST_TMPDIR")
                                     : "/tmp") +
                     "/mail.eml";
  std::ofstream(path) << "From: Alice <alice@example.com>\n"
                         "To: bob@example.org, Carol <carol@example.net>\n"
                         "Subject: test\n\nHello\n";
  absl::SetFlag(&FLAGS_mail_file, path);
  auto o = BuildOptions(RewrittenArgs{});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->message.envelope_from, "<alice@example.com>");
  EXPECT_THAT(o->message.recipients,
              ElementsAre("<bob@example.org>", "<carol@example.net>"));
  EXPECT_EQ(o->message.body, "Hello\r\n");
  EXPECT_EQ(o->message.headers.size(), 3u);
  // Explicit envelope wins.
  absl::SetFlag(&FLAGS_envelope_from, "<x@y>");
  o = BuildOptions(RewrittenArgs{});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->message.envelope_from, "<x@y>");
}

TEST_F(BuildOptionsTest, ApplyFlags) {
  ASSERT_TRUE(ApplyFlags({"prog", "--threads=7", "--json", "--noverbose",
                          "--helo_fqdn=h.example"})
                  .ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_threads), 7);
  EXPECT_TRUE(absl::GetFlag(FLAGS_json));
  EXPECT_FALSE(absl::GetFlag(FLAGS_verbose));
  EXPECT_EQ(absl::GetFlag(FLAGS_helo_fqdn), "h.example");
  EXPECT_FALSE(ApplyFlags({"prog", "--threads=abc"}).ok());
  EXPECT_FALSE(ApplyFlags({"prog", "--bogus=1"}).ok());
  EXPECT_FALSE(ApplyFlags({"prog", "--threads"}).ok());
  EXPECT_FALSE(ApplyFlags({"prog", "stray"}).ok());
  // The whole pipeline, as main() runs it.
  auto r = RewriteArgs({"prog", "-s", "unix:/tmp/f.sock", "--n-sessions", "40",
                        "--output-message", "-r", "<a@b>"});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(ApplyFlags(r->argv).ok());
  auto o = BuildOptions(*r);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->connection_spec, "unix:/tmp/f.sock");
  EXPECT_EQ(o->n_sessions, 40);
  EXPECT_TRUE(o->output_message);
  EXPECT_THAT(o->message.recipients, ElementsAre("<a@b>"));
}

TEST_F(BuildOptionsTest, Errors) {
  RewrittenArgs bad_header;
  bad_header.repeated["header"] = {"no colon"};
  EXPECT_FALSE(BuildOptions(bad_header).ok());
  RewrittenArgs bad_macro;
  bad_macro.repeated["connect-macro"] = {":x"};
  EXPECT_FALSE(BuildOptions(bad_macro).ok());
  {
    absl::FlagSaver s;
    absl::SetFlag(&FLAGS_negotiate_version, 7);
    EXPECT_FALSE(BuildOptions(RewrittenArgs{}).ok());
  }
  {
    absl::FlagSaver s;
    absl::SetFlag(&FLAGS_connection_spec, "bogus:1");
    EXPECT_FALSE(BuildOptions(RewrittenArgs{}).ok());
  }
  {
    absl::FlagSaver s;
    absl::SetFlag(&FLAGS_mail_file, "/nonexistent/mail");
    EXPECT_FALSE(BuildOptions(RewrittenArgs{}).ok());
  }
  {
    absl::FlagSaver s;
    absl::SetFlag(&FLAGS_writing_timeout, 0);
    EXPECT_FALSE(BuildOptions(RewrittenArgs{}).ok());
  }
}

TEST(UsageTest, DocumentsOptionsAndExitStatus) {
  std::string usage = Usage();
  for (const char* option : {"--connection-spec",
                             "--negotiate-version",
                             "--connect-host",
                             "--connect-address",
                             "--helo-fqdn",
                             "--envelope-from",
                             "--envelope-recipient",
                             "--header",
                             "--body",
                             "--unknown",
                             "--authenticated-name",
                             "--authenticated-type",
                             "--authenticated-author",
                             "--mail-file",
                             "--output-message",
                             "--connection-timeout",
                             "--reading-timeout",
                             "--writing-timeout",
                             "--end-of-message-timeout",
                             "--threads",
                             "--n-sessions",
                             "--json",
                             "--verbose",
                             "--help",
                             "--version",
                             "Exit status"}) {
    EXPECT_NE(usage.find(option), std::string::npos) << option;
  }
}

}  // namespace
}  // namespace milter_test_server
