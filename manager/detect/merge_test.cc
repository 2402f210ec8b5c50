// Detected children merged into a configuration: overrides by name, order,
// default conditions, detection off, and the whole through ParseConfig
// (defaults and checks included), as the manager loads it.

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "manager/config/config.h"
#include "manager/detect/detect.h"
#include "manager/detect/fixture_tree.h"

namespace milter::manager::detect {
namespace {

using config::ChildConfig;
using config::ManagerConfig;
using detect_testing::FixtureTree;

// opendkim (enabled) and clamav-milter (not started at boot).
void TwoPackages(FixtureTree* tree) {
  tree->Binary("/usr/sbin/opendkim");
  tree->Write("/etc/opendkim.conf", "Socket local:/run/opendkim/o.sock\n");
  tree->EnableUnit("opendkim");
  tree->Binary("/usr/sbin/clamav-milter");
  tree->Write("/etc/clamav/clamav-milter.conf", "MilterSocket inet:7357\n");
}

absl::StatusOr<ManagerConfig> Load(const FixtureTree& tree,
                                   const std::string& text,
                                   std::vector<std::string>* warnings) {
  return ParseConfig(
      absl::StrCat("detection_root: \"", tree.root(), "\"\n", text), "m.conf",
      [warnings](ManagerConfig* c) { AddDetectedChildren(c, warnings); });
}

std::string Names(const ManagerConfig& c) {
  std::vector<std::string> names;
  for (const ChildConfig& child : c.child()) names.push_back(child.name());
  return absl::StrJoin(names, ",");
}

TEST(Merge, DetectedAfterConfiguredWithDefaultConditions) {
  FixtureTree tree;
  TwoPackages(&tree);
  std::vector<std::string> warnings;
  absl::StatusOr<ManagerConfig> c = Load(
      tree, "child { name: \"mine\" connection_spec: \"inet:9@localhost\" }\n",
      &warnings);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(Names(*c), "mine,clamav-milter,opendkim");
  EXPECT_EQ(c->child(0).origin(), "m.conf:2:1");
  EXPECT_FALSE(c->child(1).enabled());
  EXPECT_EQ(c->child(1).reading_timeout(), 30);  // defaults filled in
  EXPECT_EQ(c->child(2).origin(),
            tree.root() + "/etc/opendkim.conf:1 (opendkim)");
  ASSERT_EQ(c->applicable_condition_size(), 2);
  EXPECT_EQ(c->applicable_condition(0).name(), kUnauthenticated);
  EXPECT_FALSE(c->applicable_condition(0).authentication().authenticated());
  EXPECT_EQ(c->applicable_condition(1).name(), kRemoteClient);
  EXPECT_TRUE(c->applicable_condition(1).has_remote_network());
  EXPECT_TRUE(c->detect_installed_milters());
}

TEST(Merge, ConfiguredChildOfADetectedNameOverridesInItsPlace) {
  FixtureTree tree;
  TwoPackages(&tree);
  std::vector<std::string> warnings;
  absl::StatusOr<ManagerConfig> c =
      Load(tree,
           "child { name: \"opendkim\" enabled: false }\n"
           "child { name: \"mine\" connection_spec: \"inet:9@localhost\" }\n"
           "child { name: \"clamav-milter\" enabled: true\n"
           "        applicable_conditions: \"mine-only\" }\n"
           "applicable_condition { name: \"mine-only\" stress { max_sessions: "
           "9 } }\n",
           &warnings);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Names(*c), "opendkim,mine,clamav-milter");
  EXPECT_FALSE(c->child(0).enabled());
  EXPECT_EQ(c->child(0).connection_spec(), "unix:/run/opendkim/o.sock");
  EXPECT_EQ(c->child(0).origin(), tree.root() +
                                      "/etc/opendkim.conf:1 (opendkim), "
                                      "overridden at m.conf:2:1");
  EXPECT_TRUE(c->child(2).enabled());
  ASSERT_EQ(c->child(2).applicable_conditions_size(), 1);  // replaced
  EXPECT_EQ(c->child(2).applicable_conditions(0), "mine-only");
  EXPECT_EQ(c->applicable_condition_size(), 1);  // no defaults needed
}

TEST(Merge, ConfiguredConditionOfTheDefaultNameIsKept) {
  FixtureTree tree;
  TwoPackages(&tree);
  std::vector<std::string> warnings;
  absl::StatusOr<ManagerConfig> c =
      Load(tree,
           "applicable_condition { name: \"detected-remote-client\"\n"
           "  remote_network { local_network: \"192.0.2.0/24\" } }\n",
           &warnings);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->applicable_condition_size(), 2);
  EXPECT_EQ(c->applicable_condition(0).name(), kRemoteClient);
  EXPECT_EQ(c->applicable_condition(0).remote_network().local_network(0),
            "192.0.2.0/24");
  EXPECT_EQ(c->applicable_condition(1).name(), kUnauthenticated);
}

TEST(Merge, DetectionOff) {
  FixtureTree tree;
  TwoPackages(&tree);
  std::vector<std::string> warnings;
  absl::StatusOr<ManagerConfig> c =
      Load(tree, "detect_installed_milters: false\n", &warnings);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->child_size(), 0);
  EXPECT_EQ(c->applicable_condition_size(), 0);
  // A name-only child is then an ordinary child, which needs a socket.
  c = Load(tree,
           "detect_installed_milters: false\n"
           "child { name: \"opendkim\" enabled: false }\n",
           &warnings);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "m.conf:3:1: child \"opendkim\": connection_spec is missing");
}

TEST(Merge, WarningsDoNotStopLoading) {
  FixtureTree tree;
  TwoPackages(&tree);
  tree.Write("/etc/clamav/clamav-milter.conf", "MilterSocket inet:x\n");
  std::vector<std::string> warnings;
  absl::StatusOr<ManagerConfig> c = Load(tree, "", &warnings);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Names(*c), "opendkim");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].find(tree.root() + "/etc/clamav/clamav-milter.conf:1: "
                                           "clamav-milter socket: "),
            0u);
}

TEST(Merge, DetectionRootMustBeAbsolute) {
  absl::StatusOr<ManagerConfig> c =
      ParseConfig("detection_root: \"relative\"\n", "m.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "m.conf:1:1: detection_root must be an absolute path");
  EXPECT_EQ(EmbeddedDefault().detection_root(), "/");
}

}  // namespace
}  // namespace milter::manager::detect
