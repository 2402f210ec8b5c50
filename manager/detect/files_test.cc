// The file syntaxes of manager/detect: socket notations, "Key value"
// files, shell assignments, rspamd's UCL, start-at-boot links.

#include "manager/detect/files.h"

#include "gtest/gtest.h"
#include "manager/detect/fixture_tree.h"

namespace milter::manager::detect_internal {
namespace {

using detect_testing::FixtureTree;

std::string Spec(absl::string_view socket) {
  absl::StatusOr<std::string> spec = MilterSocketToSpec(socket);
  return spec.ok() ? *spec : "error: " + std::string(spec.status().message());
}

std::string Rspamd(absl::string_view bind) {
  absl::StatusOr<std::string> spec = RspamdSocketToSpec(bind);
  return spec.ok() ? *spec : "error: " + std::string(spec.status().message());
}

TEST(MilterSocketToSpec, EverySyntax) {
  EXPECT_EQ(Spec("local:/run/opendkim/opendkim.sock"),
            "unix:/run/opendkim/opendkim.sock");
  EXPECT_EQ(Spec("unix:/run/x.sock"), "unix:/run/x.sock");
  EXPECT_EQ(Spec("/var/run/clamav/clamav-milter.ctl"),
            "unix:/var/run/clamav/clamav-milter.ctl");
  EXPECT_EQ(Spec("inet:8891@localhost"), "inet:8891@localhost");
  EXPECT_EQ(Spec("inet:8891@127.0.0.1"), "inet:8891@[127.0.0.1]");
  EXPECT_EQ(Spec("inet:8891@0.0.0.0"), "inet:8891@[127.0.0.1]");
  EXPECT_EQ(Spec("inet:7357"), "inet:7357");
  EXPECT_EQ(Spec("inet6:8891@[::]"), "inet6:8891@[::1]");
  EXPECT_EQ(Spec("  inet:8891@[127.0.0.1] "), "inet:8891@[127.0.0.1]");
}

TEST(MilterSocketToSpec, RefusesWhatCannotBeConnectedTo) {
  EXPECT_EQ(Spec(""), "error: empty socket");
  EXPECT_NE(Spec("local:opendkim.sock").find("relative socket path"),
            std::string::npos);
  EXPECT_NE(Spec("inet:notaport@localhost").find("port"), std::string::npos);
  EXPECT_NE(Spec("inet:99999@localhost").find("port"), std::string::npos);
}

TEST(RspamdSocketToSpec, EverySyntax) {
  EXPECT_EQ(Rspamd("localhost:11332"), "inet:11332@localhost");
  EXPECT_EQ(Rspamd("127.0.0.1:11332"), "inet:11332@[127.0.0.1]");
  EXPECT_EQ(Rspamd("*:11332"), "inet:11332@[127.0.0.1]");
  EXPECT_EQ(Rspamd("*v4:11332"), "inet:11332@[127.0.0.1]");
  EXPECT_EQ(Rspamd("*v6:11332"), "inet6:11332@[::1]");
  EXPECT_EQ(Rspamd("[::1]:11332"), "inet6:11332@[::1]");
  EXPECT_EQ(Rspamd("/run/rspamd/milter.sock mode=0666 owner=postfix"),
            "unix:/run/rspamd/milter.sock");
  EXPECT_NE(Rspamd("nonsense").find("not HOST:PORT"), std::string::npos);
  EXPECT_NE(Rspamd("localhost:port").find("port"), std::string::npos);
}

TEST(FindKeyValue, LastOccurrenceAnyCaseCommentsSkipped) {
  std::vector<std::string> lines = {
      "# Socket local:/commented", "Syslog yes", "Socket\tlocal:/first.sock",
      "  socket   inet:8891@localhost  ", "SocketX nope"};
  std::optional<Setting> found = FindKeyValue(lines, "Socket");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->value, "inet:8891@localhost");
  EXPECT_EQ(found->line, 4);
  EXPECT_FALSE(FindKeyValue(lines, "PidFile").has_value());
}

TEST(ParseShell, AssignmentsExpansionQuotes) {
  std::vector<std::string> lines = {"# comment",
                                    "RUNDIR=/run/opendkim",
                                    "SOCKET=local:$RUNDIR/opendkim.sock",
                                    "PIDFILE=\"${RUNDIR}/$NAME.pid\"",
                                    "export OPTIONS='-u x -i 127.0.0.1'",
                                    "OPTIONS=\"${OPTIONS} -r 15\"",
                                    "if [ -x /usr/sbin/postfix ]; then",
                                    "fi"};
  auto vars = ParseShell(lines, "/etc/default/x", {{"NAME", "opendkim"}});
  ASSERT_TRUE(vars.ok()) << vars.status();
  EXPECT_EQ(vars->at("SOCKET").value, "local:/run/opendkim/opendkim.sock");
  EXPECT_EQ(vars->at("SOCKET").line, 3);
  EXPECT_EQ(vars->at("PIDFILE").value, "/run/opendkim/opendkim.pid");
  EXPECT_EQ(vars->at("OPTIONS").value, "-u x -i 127.0.0.1 -r 15");
  EXPECT_EQ(vars->size(), 4u);
}

TEST(ParseShell, UnterminatedQuoteNamesFileAndLine) {
  auto vars = ParseShell({"A=1", "SOCKET=\"local:/x"}, "/etc/default/x", {});
  ASSERT_FALSE(vars.ok());
  EXPECT_EQ(vars.status().message(), "/etc/default/x:2: unterminated quote");
}

TEST(ParseUcl, SectionsCommentsIncludesValues) {
  std::vector<std::string> lines = {
      "/* a comment",
      "   over lines */",
      "worker \"rspamd_proxy\" {",
      "    bind_socket = \"localhost:11332\";",
      "    .include(try=true; priority=1,duplicate=merge) \"$X/local.inc\"",
      "}",
      "milter = yes; # Enable milter mode",
      "timeout: 120s",
      "upstream \"local\" { default = yes; hosts = \"localhost\"; }"};
  auto entries = ParseUcl(lines, "f");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 5u);
  EXPECT_EQ((*entries)[0].section, "worker rspamd_proxy");
  EXPECT_EQ((*entries)[0].key, "bind_socket");
  EXPECT_EQ((*entries)[0].value, "localhost:11332");
  EXPECT_EQ((*entries)[0].line, 4);
  EXPECT_EQ((*entries)[1].section, "");
  EXPECT_EQ((*entries)[1].key, "milter");
  EXPECT_EQ((*entries)[1].value, "yes");
  EXPECT_EQ((*entries)[1].line, 7);
  EXPECT_EQ((*entries)[2].key, "timeout");
  EXPECT_EQ((*entries)[2].value, "120s");
  EXPECT_EQ((*entries)[3].section, "upstream local");
  EXPECT_EQ((*entries)[4].key, "hosts");
}

TEST(ParseUcl, MalformedSaysWhereAndWhy) {
  EXPECT_EQ(ParseUcl({"a {", "b = 1;"}, "f").status().message(),
            "f:1: unclosed '{'");
  EXPECT_EQ(ParseUcl({"b = 1;", "}"}, "f").status().message(),
            "f:2: '}' without '{'");
  EXPECT_EQ(ParseUcl({"x = \"abc"}, "f").status().message(),
            "f:1: unterminated string");
  EXPECT_EQ(ParseUcl({"/* open"}, "f").status().message(),
            "f:1: unterminated comment");
  EXPECT_EQ(ParseUcl({"milter;"}, "f").status().message(),
            "f:1: \"milter\" has no value");
}

// Random lines from UCL, shell and socket characters: every parser ends,
// with a value or an error, and never crashes (run under ASan too).
TEST(Parsers, GarbageNeverCrashesOrHangs) {
  const std::string alphabet = "ab:=;{}\"'#/*()$[]@ \t,\\.\0-1";
  uint32_t state = 12345;
  auto next = [&state] { return state = state * 1103515245u + 12345u; };
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::string> lines(1 + next() % 4);
    for (std::string& line : lines) {
      for (uint32_t n = next() % 24; n > 0; --n) {
        line += alphabet[(next() >> 8) % alphabet.size()];
      }
    }
    // Errors always say where.
    auto ucl = ParseUcl(lines, "f");
    if (!ucl.ok()) {
      EXPECT_EQ(ucl.status().message().substr(0, 2), "f:");
    }
    auto shell = ParseShell(lines, "f", {});
    if (!shell.ok()) {
      EXPECT_EQ(shell.status().message().substr(0, 2), "f:");
    }
    (void)FindKeyValue(lines, "a");
    (void)MilterSocketToSpec(lines[0]);
    (void)RspamdSocketToSpec(lines[0]);
  }
}

TEST(Root, ReadLinesRefusesWhatIsNotAText) {
  FixtureTree tree;
  tree.Write("/etc/crlf.conf", "a b\r\nc d\r\n");
  tree.Write("/etc/nul.conf", std::string("a\0b", 3));
  tree.Mkdir("/etc/dir.conf");
  Root root(tree.root());
  auto lines = root.ReadLines("/etc/crlf.conf");
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(*lines, (std::vector<std::string>{"a b", "c d"}));
  EXPECT_EQ(root.ReadLines("/etc/nul.conf").status().message(),
            tree.root() + "/etc/nul.conf: contains NUL bytes: not a text file");
  EXPECT_EQ(root.ReadLines("/etc/dir.conf").status().message(),
            tree.root() + "/etc/dir.conf: not a regular file");
  EXPECT_EQ(
      root.ReadLines("/etc/none.conf").status().message(),
      tree.root() + "/etc/none.conf: cannot read: No such file or directory");
}

TEST(Root, StartsAtBoot) {
  FixtureTree tree;
  Root root(tree.root());
  EXPECT_FALSE(root.StartsAtBoot("opendkim"));  // no /etc/systemd at all
  tree.EnableUnit("opendkim");
  EXPECT_TRUE(root.StartsAtBoot("opendkim"));
  EXPECT_FALSE(root.StartsAtBoot("opendkim-x"));
  tree.Link("/etc/systemd/system/opendkim.service", "/dev/null");  // masked
  EXPECT_FALSE(root.StartsAtBoot("opendkim"));
  tree.Link("/etc/rc2.d/S01spamass-milter", "../init.d/spamass-milter");
  tree.Link("/etc/rc2.d/K01clamav-milter", "../init.d/clamav-milter");
  EXPECT_TRUE(root.StartsAtBoot("spamass-milter"));
  EXPECT_FALSE(root.StartsAtBoot("clamav-milter"));
  EXPECT_EQ(Root("/").Path("/etc/x"), "/etc/x");
}

}  // namespace
}  // namespace milter::manager::detect_internal
