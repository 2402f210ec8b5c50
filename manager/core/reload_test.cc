// Manager::Reload: MTA connections accepted after a reload use the new
// configuration, those in flight finish on the one they started with; a
// configuration that cannot be built is refused and the old one stays;
// settings fixed at start-up keep their values, each change named in a
// warning. Real sockets, children built on milter/client.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/config/config.h"
#include "manager/core/scripted_child.h"
#include "manager/core/test_manager.h"
#include "milter/server/blocking_session.h"

namespace milter::manager {
namespace {

using client::Context;
using client::Status;
using server::BlockingSession;
using server::Decision;
using testing::ChildEntry;
using testing::ChildScript;
using testing::Client;
using ::testing::HasSubstr;
using testing::Lines;
using testing::ManagerUnderTest;
using testing::ScriptedChild;
using testing::TempDir;

// A child taking connect and rejecting every MAIL with "550 5.7.1 NAME says
// no".
ChildScript Rejecting(const std::string& name) {
  ChildScript script;
  script.connect = [](Context&) { return Status::kContinue; };
  script.mail = [name](Context& ctx) {
    (void)ctx.SetReply("550", "5.7.1", name + " says no");
    return Status::kReject;
  };
  return script;
}

// The configuration text of `manager` with `children` instead of its own.
config::ManagerConfig WithChildren(const Manager& manager,
                                   const std::string& children,
                                   const std::string& extra = "") {
  config::ManagerConfig base = *manager.config();
  base.clear_child();
  absl::StatusOr<config::ManagerConfig> parsed =
      ParseConfig(ConfigToText(base) + extra + children, "reloaded.conf");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : base;
}

TEST(ReloadTest, NewSessionsUseTheNewConfigurationSessionsInFlightTheirOwn) {
  std::string dir = TempDir();
  ScriptedChild old_child(dir, "old", Rejecting("old"));
  ScriptedChild new_child(dir, "new", Rejecting("new"));
  ManagerUnderTest under_test(dir, ChildEntry("old", old_child));
  Manager& manager = under_test.manager();

  BlockingSession in_flight;
  ASSERT_TRUE(in_flight.Open(under_test.spec()).ok());
  ASSERT_TRUE(in_flight.Connect(Client()).ok());
  ASSERT_TRUE(old_child.log().WaitFor("connect mx.example.net"));

  ASSERT_TRUE(
      manager.Reload(WithChildren(manager, ChildEntry("new", new_child))).ok());
  EXPECT_EQ(manager.config()->child(0).name(), "new");

  auto mail = in_flight.Mail("<a@example.org>");
  ASSERT_TRUE(mail.ok()) << mail.status();
  EXPECT_EQ(mail->decision, Decision::kReject);
  EXPECT_EQ(mail->reply, "550 5.7.1 old says no");

  BlockingSession fresh;
  ASSERT_TRUE(fresh.Open(under_test.spec()).ok());
  ASSERT_TRUE(fresh.Connect(Client()).ok());
  mail = fresh.Mail("<a@example.org>");
  ASSERT_TRUE(mail.ok()) << mail.status();
  EXPECT_EQ(mail->reply, "550 5.7.1 new says no");
  // The old child saw only the session that started before the reload.
  int connects = 0;
  for (const std::string& e : old_child.log().Events()) {
    connects += e == "connect mx.example.net";
  }
  EXPECT_EQ(connects, 1);
}

TEST(ReloadTest, AConfigurationThatCannotBeBuiltIsRefusedAndTheOldStays) {
  std::string dir = TempDir();
  ScriptedChild child(dir, "kept", Rejecting("kept"));
  ManagerUnderTest under_test(dir, ChildEntry("kept", child));
  Manager& manager = under_test.manager();
  // Valid text, but the list file the condition names does not exist.
  config::ManagerConfig broken = WithChildren(
      manager, ChildEntry("kept", child, "applicable_conditions: \"lists\""),
      "applicable_condition { name: \"lists\" s25r { "
      "allow_file: \"/nonexistent/networks\" } }\n");
  absl::Status s = manager.Reload(broken);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent/networks"));
  EXPECT_EQ(manager.config()->child(0).applicable_conditions_size(), 0);

  BlockingSession mta;
  ASSERT_TRUE(mta.Open(under_test.spec()).ok());
  ASSERT_TRUE(mta.Connect(Client()).ok());
  auto mail = mta.Mail("<a@example.org>");
  ASSERT_TRUE(mail.ok()) << mail.status();
  EXPECT_EQ(mail->reply, "550 5.7.1 kept says no");
}

TEST(ReloadTest, SettingsFixedAtStartKeepTheirValuesAndAreNamed) {
  std::string dir = TempDir();
  Lines lines;
  ManagerUnderTest under_test(dir, "", "", lines.Sink());
  Manager& manager = under_test.manager();
  config::ManagerConfig next = *manager.config();
  next.set_connection_spec("inet:10999@[127.0.0.1]");
  next.set_io_threads(5);
  next.set_fallback_status(config::REJECT);  // may change
  ASSERT_TRUE(manager.Reload(next).ok());
  EXPECT_EQ(manager.config()->connection_spec(), under_test.spec());
  EXPECT_EQ(manager.config()->io_threads(), 1u);
  EXPECT_EQ(manager.config()->fallback_status(), config::REJECT);
  EXPECT_THAT(lines.All(),
              HasSubstr("reload: connection_spec changes only at a restart"));
  EXPECT_THAT(lines.All(),
              HasSubstr("reload: io_threads changes only at a restart"));
  EXPECT_THAT(lines.All(), ::testing::Not(HasSubstr("fallback_status")));

  BlockingSession mta;
  ASSERT_TRUE(mta.Open(under_test.spec()).ok());
  auto v = mta.Connect(Client());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->decision, Decision::kReject);
}

}  // namespace
}  // namespace milter::manager
