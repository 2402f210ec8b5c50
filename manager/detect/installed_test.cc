// Detection on this host's real, installed packages as Debian ships them:
// OpenDKIM and rspamd (scripts/install-deps.sh installs both), with the
// socket, origin line and enabled state their own files give. Any other
// milter package installed here must be detected too, without warnings.

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "manager/config/config.h"
#include "manager/detect/detect.h"

namespace milter::manager::detect {
namespace {

using config::ChildConfig;

// The 1-based number of the first line of `file` after line `after` that
// starts (after blanks) with `prefix`; 0 if none.
int LineOf(const std::string& file, const std::string& prefix, int after = 0) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    size_t start = line.find_first_not_of(" \t");
    if (n > after && start != std::string::npos &&
        line.compare(start, prefix.size(), prefix) == 0) {
      return n;
    }
  }
  return 0;
}

const ChildConfig* Find(const Findings& f, const std::string& name) {
  for (const ChildConfig& c : f.children) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

TEST(Installed, OpendkimAsShipped) {
  ASSERT_TRUE(std::filesystem::exists("/usr/sbin/opendkim"))
      << "the opendkim package is not installed (scripts/install-deps.sh)";
  Findings f = DetectInstalledMilters("/");
  const ChildConfig* c = Find(f, "opendkim");
  ASSERT_NE(c, nullptr) << absl::StrJoin(f.warnings, "\n");
  EXPECT_EQ(c->connection_spec(), "unix:/run/opendkim/opendkim.sock");
  int line = LineOf("/etc/opendkim.conf", "Socket");
  ASSERT_GT(line, 0);
  EXPECT_EQ(c->origin(),
            absl::StrCat("/etc/opendkim.conf:", line, " (opendkim)"));
  EXPECT_TRUE(c->enabled()) << "Debian enables opendkim.service on install";
  EXPECT_EQ(c->applicable_conditions_size(), 0);
}

TEST(Installed, RspamdProxyAsShipped) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/rspamd"))
      << "the rspamd package is not installed (scripts/install-deps.sh)";
  Findings f = DetectInstalledMilters("/");
  const ChildConfig* c = Find(f, "rspamd");
  ASSERT_NE(c, nullptr) << absl::StrJoin(f.warnings, "\n");
  EXPECT_EQ(c->connection_spec(), "inet:11332@localhost");
  int worker = LineOf("/etc/rspamd/rspamd.conf", "worker \"rspamd_proxy\"");
  int bind = LineOf("/etc/rspamd/rspamd.conf", "bind_socket", worker);
  int milter = LineOf("/etc/rspamd/worker-proxy.inc", "milter = yes");
  ASSERT_GT(worker, 0);
  ASSERT_GT(milter, 0);
  EXPECT_EQ(c->origin(), absl::StrCat("/etc/rspamd/rspamd.conf:", bind,
                                      " (rspamd; milter = yes at "
                                      "/etc/rspamd/worker-proxy.inc:",
                                      milter, ")"));
  EXPECT_TRUE(c->enabled()) << "Debian enables rspamd.service on install";
}

TEST(Installed, EveryInstalledMilterWithoutWarnings) {
  Findings f = DetectInstalledMilters("/");
  EXPECT_TRUE(f.warnings.empty()) << absl::StrJoin(f.warnings, "\n");
  for (const char* name :
       {"opendmarc", "spamass-milter", "clamav-milter", "milter-greylist"}) {
    bool installed = std::filesystem::exists(absl::StrCat("/usr/sbin/", name));
    EXPECT_EQ(Find(f, name) != nullptr, installed) << name;
  }
  // The manager's own loading accepts them: defaults, conditions, checks.
  std::vector<std::string> warnings;
  absl::StatusOr<config::ManagerConfig> config = ParseConfig(
      "", "(embedded default)",
      [&](config::ManagerConfig* c) { AddDetectedChildren(c, &warnings); });
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->child_size(), static_cast<int>(f.children.size()));
}

}  // namespace
}  // namespace milter::manager::detect
