// Each detector of manager/detect on fixture trees: installed and enabled,
// disabled, not installed, each socket notation, broken files.

#include "manager/detect/detect.h"

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "manager/detect/fixture_tree.h"

namespace milter::manager::detect {
namespace {

using config::ChildConfig;
using detect_testing::FixtureTree;

// The one child detected under `tree` (fails the test otherwise).
ChildConfig Only(const Findings& f) {
  EXPECT_EQ(f.children.size(), 1u) << absl::StrJoin(f.warnings, "\n");
  return f.children.empty() ? ChildConfig() : f.children[0];
}

std::vector<std::string> Conditions(const ChildConfig& c) {
  return {c.applicable_conditions().begin(), c.applicable_conditions().end()};
}

TEST(Detect, NothingInstalledNothingSaid) {
  FixtureTree tree;
  tree.Write("/etc/opendkim.conf", "Socket local:/run/x.sock\n");  // rc state
  Findings f = DetectInstalledMilters(tree.root());
  EXPECT_TRUE(f.children.empty());
  EXPECT_TRUE(f.warnings.empty());
}

TEST(Detect, OpendkimEnabledFromItsConf) {
  FixtureTree tree;
  tree.Binary("/usr/sbin/opendkim");
  tree.Write("/etc/opendkim.conf",
             "Syslog yes\nSocket\t\t\tlocal:/run/opendkim/opendkim.sock\n");
  tree.Write("/etc/default/opendkim",
             "RUNDIR=/run/opendkim\nSOCKET=local:$RUNDIR/other.sock\n");
  tree.EnableUnit("opendkim");
  Findings f = DetectInstalledMilters(tree.root());
  ChildConfig c = Only(f);
  EXPECT_EQ(c.name(), "opendkim");
  EXPECT_TRUE(c.enabled());
  EXPECT_EQ(c.connection_spec(), "unix:/run/opendkim/opendkim.sock");
  EXPECT_EQ(c.origin(), tree.root() + "/etc/opendkim.conf:2 (opendkim)");
  EXPECT_TRUE(Conditions(c).empty());  // signs and verifies everything
  EXPECT_TRUE(f.warnings.empty());
}

TEST(Detect, OpendkimSocketFromDefaultFileWhenConfHasNone) {
  FixtureTree tree;
  tree.Binary("/usr/sbin/opendkim");
  tree.Write("/etc/opendkim.conf", "Syslog yes\n");
  tree.Write("/etc/default/opendkim",
             "# x\nRUNDIR=/run/opendkim\nSOCKET=inet:8891@localhost\n");
  ChildConfig c = Only(DetectInstalledMilters(tree.root()));
  EXPECT_FALSE(c.enabled());  // no unit link: not started at boot
  EXPECT_EQ(c.connection_spec(), "inet:8891@localhost");
  EXPECT_EQ(c.origin(), tree.root() + "/etc/default/opendkim:3 (opendkim)");
}

TEST(Detect, OpendkimWithoutSocketOrBrokenSocketWarns) {
  FixtureTree tree;
  tree.Binary("/usr/sbin/opendkim");
  tree.Write("/etc/opendkim.conf", "Syslog yes\n");
  Findings f = DetectInstalledMilters(tree.root());
  EXPECT_TRUE(f.children.empty());
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_EQ(f.warnings[0], tree.root() +
                               "/etc/opendkim.conf: no Socket setting; "
                               "opendkim not used");
  tree.Write("/etc/opendkim.conf", "Syslog yes\nSocket inet:nope@localhost\n");
  f = DetectInstalledMilters(tree.root());
  EXPECT_TRUE(f.children.empty());
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_EQ(f.warnings[0].find(tree.root() +
                               "/etc/opendkim.conf:2: opendkim socket: "),
            0u)
      << f.warnings[0];
}

TEST(Detect, UnreadableFilesWarnAndStartUpGoesOn) {
  FixtureTree tree;
  tree.Binary("/usr/sbin/opendkim");
  tree.Mkdir("/etc/opendkim.conf");  // not a file
  tree.Write("/etc/default/opendkim", "SOCKET=\"local:/run/x.sock\n");
  tree.Binary("/usr/sbin/opendmarc");
  tree.Write("/etc/opendmarc.conf", "Socket local:/run/opendmarc/s.sock\n");
  Findings f = DetectInstalledMilters(tree.root());
  ChildConfig c = Only(f);
  EXPECT_EQ(c.name(), "opendmarc");
  EXPECT_EQ(c.connection_spec(), "unix:/run/opendmarc/s.sock");
  EXPECT_EQ(absl::StrJoin(f.warnings, "\n"),
            tree.root() +
                "/etc/default/opendkim:1: unterminated quote "
                "(ignored)\n" +
                tree.root() + "/etc/opendkim.conf: not a regular file\n" +
                tree.root() +
                "/etc/opendkim.conf: no Socket setting; "
                "opendkim not used");
}

TEST(Detect, MaskedOrSysvLinks) {
  FixtureTree tree;
  tree.Binary("/usr/sbin/opendmarc");
  tree.Write("/etc/opendmarc.conf", "Socket local:/run/opendmarc/s.sock\n");
  tree.Link("/etc/rc3.d/S02opendmarc", "../init.d/opendmarc");
  EXPECT_TRUE(Only(DetectInstalledMilters(tree.root())).enabled());
  tree.Link("/etc/systemd/system/opendmarc.service", "/dev/null");
  EXPECT_FALSE(Only(DetectInstalledMilters(tree.root())).enabled());
}

TEST(Detect, ClamavMilterInet) {
  FixtureTree tree;
  tree.Binary("/usr/sbin/clamav-milter");
  tree.Write("/etc/clamav/clamav-milter.conf",
             "#Automatically Generated\nMilterSocket inet:7357\nUser clamav\n");
  tree.Link("/etc/rc2.d/S01clamav-milter", "../init.d/clamav-milter");
  ChildConfig c = Only(DetectInstalledMilters(tree.root()));
  EXPECT_EQ(c.name(), "clamav-milter");
  EXPECT_TRUE(c.enabled());
  EXPECT_EQ(c.connection_spec(), "inet:7357");
  EXPECT_EQ(c.origin(),
            tree.root() + "/etc/clamav/clamav-milter.conf:2 (clamav-milter)");
  EXPECT_EQ(Conditions(c),
            (std::vector<std::string>{kUnauthenticated, kRemoteClient}));
}

TEST(Detect, SpamassMilterSocketOptionsAndPostfixDefault) {
  FixtureTree tree;
  tree.Binary("/usr/sbin/spamass-milter");
  tree.Binary("/usr/sbin/postfix");
  Findings f = DetectInstalledMilters(tree.root());
  ChildConfig c = Only(f);
  EXPECT_EQ(c.connection_spec(),
            "unix:/var/spool/postfix/spamass/spamass.sock");
  EXPECT_EQ(
      c.origin(),
      tree.root() + "/etc/init.d/spamass-milter default (spamass-milter)");
  EXPECT_EQ(Conditions(c).size(), 2u);
  tree.Write("/etc/default/spamass-milter",
             "OPTIONS=\"-u spamass-milter -i 127.0.0.1\"\n"
             "SOCKET=\"/run/spamass.sock\"\n");
  c = Only(DetectInstalledMilters(tree.root()));
  EXPECT_EQ(c.connection_spec(), "unix:/run/spamass.sock");
  EXPECT_EQ(c.origin(),
            tree.root() + "/etc/default/spamass-milter:2 (spamass-milter)");
  tree.Write("/etc/default/spamass-milter",
             "SOCKET=/run/spamass.sock\nOPTIONS=\"-p inet:2525@localhost\"\n");
  EXPECT_EQ(Only(DetectInstalledMilters(tree.root())).connection_spec(),
            "inet:2525@localhost");
}

TEST(Detect, MilterGreylistQuotedSocketAndEnabledSwitch) {
  FixtureTree tree;
  tree.Binary("/usr/sbin/milter-greylist");
  tree.Write("/etc/mail/greylist.conf",
             "pidfile \"/var/run/milter-greylist.pid\"\n"
             "socket \"/var/milter-greylist/milter-greylist.sock\" 666\n");
  tree.EnableUnit("milter-greylist");
  ChildConfig c = Only(DetectInstalledMilters(tree.root()));
  EXPECT_EQ(c.name(), "milter-greylist");
  EXPECT_TRUE(c.enabled());
  EXPECT_EQ(c.connection_spec(),
            "unix:/var/milter-greylist/milter-greylist.sock");
  EXPECT_EQ(c.origin(),
            tree.root() + "/etc/mail/greylist.conf:2 (milter-greylist)");
  tree.Write("/etc/default/milter-greylist", "ENABLED=0\n");
  EXPECT_FALSE(Only(DetectInstalledMilters(tree.root())).enabled());
}

void DebianRspamd(FixtureTree* tree) {
  tree->Binary("/usr/bin/rspamd");
  tree->Write("/etc/rspamd/rspamd.conf",
              "worker \"normal\" {\n"
              "    bind_socket = \"localhost:11333\";\n"
              "}\n"
              "worker \"rspamd_proxy\" {\n"
              "    bind_socket = \"localhost:11332\";\n"
              "    .include \"$CONFDIR/worker-proxy.inc\"\n"
              "}\n");
  tree->Write("/etc/rspamd/worker-proxy.inc",
              "# Proxy worker setup\n"
              "milter = yes; # Enable milter mode\n"
              "timeout = 120s;\n"
              "upstream \"local\" {\n  default = yes;\n}\n");
  tree->EnableUnit("rspamd");
}

TEST(Detect, RspamdProxyAsShippedByDebian) {
  FixtureTree tree;
  DebianRspamd(&tree);
  Findings f = DetectInstalledMilters(tree.root());
  ChildConfig c = Only(f);
  EXPECT_EQ(c.name(), "rspamd");
  EXPECT_TRUE(c.enabled());
  EXPECT_EQ(c.connection_spec(), "inet:11332@localhost");
  EXPECT_EQ(c.origin(), tree.root() + "/etc/rspamd/rspamd.conf:5 (rspamd; " +
                            "milter = yes at " + tree.root() +
                            "/etc/rspamd/worker-proxy.inc:2)");
  EXPECT_TRUE(Conditions(c).empty());  // rspamd tells authenticated apart
  EXPECT_TRUE(f.warnings.empty());
}

TEST(Detect, RspamdLocalAndOverrideLayers) {
  FixtureTree tree;
  DebianRspamd(&tree);
  tree.Write("/etc/rspamd/local.d/worker-proxy.inc",
             "bind_socket = \"/run/rspamd/milter.sock mode=0660\";\n");
  EXPECT_EQ(Only(DetectInstalledMilters(tree.root())).connection_spec(),
            "unix:/run/rspamd/milter.sock");
  tree.Write("/etc/rspamd/override.d/worker-proxy.inc", "enabled = false;\n");
  EXPECT_FALSE(Only(DetectInstalledMilters(tree.root())).enabled());
  tree.Write("/etc/rspamd/override.d/worker-proxy.inc", "milter = no;\n");
  Findings f = DetectInstalledMilters(tree.root());
  EXPECT_TRUE(f.children.empty());  // a plain proxy is not a milter
  EXPECT_TRUE(f.warnings.empty());
}

TEST(Detect, RspamdBrokenFilesWarn) {
  FixtureTree tree;
  DebianRspamd(&tree);
  tree.Write("/etc/rspamd/local.d/worker-proxy.inc", "bind_socket = {\n");
  Findings f = DetectInstalledMilters(tree.root());
  EXPECT_EQ(Only(f).connection_spec(), "inet:11332@localhost");
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_EQ(f.warnings[0], tree.root() +
                               "/etc/rspamd/local.d/worker-proxy.inc:1: "
                               "unclosed '{' (rspamd: file ignored)");
  tree.Write("/etc/rspamd/local.d/worker-proxy.inc", "milter = maybe;\n");
  f = DetectInstalledMilters(tree.root());
  EXPECT_TRUE(f.children.empty());
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_NE(f.warnings[0].find("worker-proxy.inc:1: rspamd: milter = "
                               "\"maybe\" is not yes or no"),
            std::string::npos);
}

// The settings Debian 12's opendmarc, spamass-milter and clamav-milter
// packages ship (their files' relevant lines, as installed; clamav-milter's
// file is the one its postinst writes).
TEST(Detect, OpendmarcSpamassClamavAsDebianShipsThem) {
  FixtureTree tree;
  for (const char* bin : {"/usr/sbin/opendmarc", "/usr/sbin/spamass-milter",
                          "/usr/sbin/clamav-milter", "/usr/sbin/postfix"}) {
    tree.Binary(bin);
  }
  tree.Write("/etc/opendmarc.conf",
             "# comment\n#Socket inet:8893@localhost\n"
             "PidFile /run/opendmarc/opendmarc.pid\n"
             "Socket local:/run/opendmarc/opendmarc.sock\nSyslog true\n");
  tree.Write("/etc/default/opendmarc",
             "RUNDIR=/run/opendmarc\nSOCKET=local:$RUNDIR/opendmarc.sock\n"
             "USER=opendmarc\nPIDFILE=$RUNDIR/$NAME.pid\nEXTRAAFTER=\n");
  tree.Write("/etc/default/spamass-milter",
             "# spamass-milt startup defaults\n"
             "OPTIONS=\"-u spamass-milter -i 127.0.0.1\"\n"
             "#OPTIONS=\"${OPTIONS} -r 15\"\n"
             "# SOCKET=\"/var/spool/postfix/spamass/spamass.sock\"\n");
  tree.Write("/etc/clamav/clamav-milter.conf",
             "#Automatically Generated by clamav-milter postinst\n"
             "MilterSocket /var/run/clamav/clamav-milter.ctl\n"
             "FixStaleSocket true\nUser clamav\n");
  tree.EnableUnit("opendmarc");
  tree.Link("/etc/rc2.d/S01spamass-milter", "../init.d/spamass-milter");
  tree.Link("/etc/rc2.d/S01clamav-milter", "../init.d/clamav-milter");
  Findings f = DetectInstalledMilters(tree.root());
  EXPECT_TRUE(f.warnings.empty()) << absl::StrJoin(f.warnings, "\n");
  ASSERT_EQ(f.children.size(), 3u);
  EXPECT_EQ(f.children[0].connection_spec(),
            "unix:/var/run/clamav/clamav-milter.ctl");
  EXPECT_EQ(f.children[1].connection_spec(),
            "unix:/var/spool/postfix/spamass/spamass.sock");
  EXPECT_EQ(f.children[2].connection_spec(),
            "unix:/run/opendmarc/opendmarc.sock");
  EXPECT_EQ(f.children[2].origin(),
            tree.root() + "/etc/opendmarc.conf:4 (opendmarc)");
  for (const ChildConfig& c : f.children) EXPECT_TRUE(c.enabled()) << c.name();
}

TEST(Detect, AllInTheirOrder) {
  FixtureTree tree;
  for (const char* bin :
       {"/usr/sbin/opendmarc", "/usr/sbin/opendkim", "/usr/sbin/clamav-milter",
        "/usr/sbin/spamass-milter", "/usr/sbin/milter-greylist"}) {
    tree.Binary(bin);
  }
  tree.Write("/etc/opendmarc.conf", "Socket local:/run/a.sock\n");
  tree.Write("/etc/opendkim.conf", "Socket local:/run/b.sock\n");
  tree.Write("/etc/clamav/clamav-milter.conf", "MilterSocket /run/c.sock\n");
  tree.Write("/etc/milter-greylist/greylist.conf", "socket \"/run/d.sock\"\n");
  DebianRspamd(&tree);
  std::vector<std::string> names;
  for (const ChildConfig& c : DetectInstalledMilters(tree.root()).children) {
    names.push_back(c.name());
  }
  EXPECT_EQ(absl::StrJoin(names, ","),
            "milter-greylist,clamav-milter,spamass-milter,rspamd,opendkim,"
            "opendmarc");
}

}  // namespace
}  // namespace milter::manager::detect
