// The health registry on its own: consecutive failures open the circuit
// once, successes reset the count, 0 disables it, records survive a
// reconfiguration, disabled children show as such.

#include "manager/supervise/health.h"

#include <vector>

#include "gtest/gtest.h"
#include "manager/config/config.h"

namespace milter::manager {
namespace {

config::ManagerConfig Config(const std::string& text) {
  absl::StatusOr<config::ManagerConfig> c = ParseConfig(text, "test.conf");
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : config::ManagerConfig();
}

constexpr char kTwo[] =
    "circuit_failures: 2\n"
    "child { name: \"a\" connection_spec: \"unix:/a\" }\n"
    "child { name: \"b\" connection_spec: \"unix:/b\" enabled: false }\n";

TEST(HealthTest, ConsecutiveFailuresOpenTheCircuitOnce) {
  HealthRegistry registry;
  registry.Configure(Config(kTwo));
  std::vector<std::string> opened;
  registry.SetOpenedHook([&](std::shared_ptr<ChildHealth> child) {
    opened.push_back(child->name());
  });
  std::shared_ptr<ChildHealth> a = registry.Get("a");
  a->Failed(absl::UnavailableError("refused"));
  a->Succeeded(absl::Milliseconds(4));  // resets the count
  a->Failed(absl::UnavailableError("refused"));
  EXPECT_TRUE(a->Admit());
  a->Failed(absl::DeadlineExceededError("no answer"));
  EXPECT_FALSE(a->Admit());
  a->Failed(absl::DeadlineExceededError("no answer"));  // already open
  EXPECT_EQ(opened, std::vector<std::string>{"a"});
  std::vector<ChildState> states = registry.Snapshot();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].health, ChildState::Health::kDown);
  EXPECT_EQ(states[0].failures, 4u);
  EXPECT_EQ(states[0].sessions, 1u);
  EXPECT_EQ(states[0].mean_latency, absl::Milliseconds(4));
  EXPECT_EQ(states[0].last_error, "no answer");
  EXPECT_NE(states[0].since, absl::InfinitePast());
  EXPECT_EQ(states[1].name, "b");
  EXPECT_EQ(states[1].health, ChildState::Health::kDisabled);

  a->Set(ChildState::Health::kUp);  // a probe answered
  EXPECT_TRUE(a->Admit());
  a->Failed(absl::UnavailableError("refused"));
  EXPECT_TRUE(a->Admit());  // the count started over
}

TEST(HealthTest, RecordsSurviveReconfigurationAndZeroNeverOpens) {
  HealthRegistry registry;
  registry.Configure(Config(kTwo));
  std::shared_ptr<ChildHealth> a = registry.Get("a");
  a->Failed(absl::UnavailableError("refused"));
  a->Failed(absl::UnavailableError("refused"));
  registry.Configure(
      Config("circuit_failures: 0\n"
             "child { name: \"c\" connection_spec: \"unix:/c\" }\n"
             "child { name: \"a\" connection_spec: \"unix:/a2\" }\n"));
  EXPECT_EQ(registry.Get("a"), a);
  std::vector<ChildState> states = registry.Snapshot();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].name, "c");
  EXPECT_EQ(states[1].health, ChildState::Health::kDown);
  EXPECT_EQ(states[1].failures, 2u);
  std::shared_ptr<ChildHealth> c = registry.Get("c");
  for (int i = 0; i < 100; ++i) c->Failed(absl::UnavailableError("refused"));
  EXPECT_TRUE(c->Admit());
}

}  // namespace
}  // namespace milter::manager
