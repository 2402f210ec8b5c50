// Child connections kept between MTA sessions: a real child (milter/client
// on a unix socket) sees a second session on the same connection after
// QUIT_NC; a kept connection the child closed is replaced by a new one;
// reuse_connection: false closes each connection.

#include "manager/core/child_pool.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "asio/use_future.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/config/config.h"
#include "manager/core/child_link.h"
#include "manager/core/scripted_child.h"
#include "manager/core/test_manager.h"

namespace milter::manager {
namespace {

using ::testing::ElementsAre;
using testing::ScriptedChild;

config::ChildConfig ChildConfigFor(const ScriptedChild& child, bool reuse) {
  absl::StatusOr<config::ManagerConfig> c = ParseConfig(
      absl::StrCat("child { name: \"c\" connection_spec: \"", child.spec(),
                   "\" reuse_connection: ", reuse ? "true" : "false", " }"),
      "test");
  EXPECT_TRUE(c.ok()) << c.status();
  return c->child(0);
}

// One MTA session to the child through a SocketLink: open, connect stage,
// quit. Whether the link reused a kept connection.
bool OneSession(asio::io_context& io, const config::ChildConfig& config,
                ChildPool* pool) {
  codec::OptionNegotiation offer;
  offer.version = 6;
  offer.actions = codec::action::kAll;
  offer.protocol = 0;
  SocketLink link(config, io.get_executor(), offer, pool);
  auto done = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<absl::Status> {
        absl::Status s = co_await link.Open();
        if (!s.ok()) co_return s;
        auto v = co_await link.ConnectStage(testing::Client(), {});
        if (!v.ok()) co_return v.status();
        co_return co_await link.Quit();
      },
      asio::use_future);
  io.restart();
  io.run();
  absl::Status s = done.get();
  EXPECT_TRUE(s.ok()) << s;
  return link.reused();
}

TEST(ChildPoolTest, TheNextSessionNegotiatesOnTheKeptConnection) {
  std::string dir = testing::TempDir();
  ScriptedChild child(dir, "c", {});
  config::ChildConfig config = ChildConfigFor(child, true);
  asio::io_context io;
  ChildPool pool;
  EXPECT_FALSE(OneSession(io, config, &pool));
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_TRUE(OneSession(io, config, &pool));
  EXPECT_TRUE(OneSession(io, config, &pool));
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_THAT(child.log().Events(),
              ElementsAre("connect mx.example.net", "connect mx.example.net",
                          "connect mx.example.net"));
  pool.Clear();
  EXPECT_EQ(pool.idle(), 0u);
}

TEST(ChildPoolTest, AKeptConnectionTheChildClosedIsReplaced) {
  std::string dir = testing::TempDir();
  config::ChildConfig config;
  asio::io_context io;
  ChildPool pool;
  {
    ScriptedChild first(dir, "c", {});
    config = ChildConfigFor(first, true);
    OneSession(io, config, &pool);
    ASSERT_EQ(pool.idle(), 1u);
  }  // the child goes away, closing the kept connection
  ScriptedChild second(dir, "c", {});
  EXPECT_FALSE(OneSession(io, config, &pool));
  EXPECT_THAT(second.log().Events(), ElementsAre("connect mx.example.net"));
}

TEST(ChildPoolTest, WithoutReuseEachSessionHasItsConnection) {
  std::string dir = testing::TempDir();
  ScriptedChild child(dir, "c", {});
  config::ChildConfig config = ChildConfigFor(child, false);
  asio::io_context io;
  ChildPool pool;
  EXPECT_FALSE(OneSession(io, config, &pool));
  EXPECT_FALSE(OneSession(io, config, &pool));
  EXPECT_EQ(pool.idle(), 0u);
}

TEST(ChildPoolTest, KeysSeparateChildrenSpecsOptionsAndLoops) {
  asio::io_context a, b;
  server::SessionOptions o;
  std::string key = ChildPool::Key("c", "unix:/x", o, a.get_executor());
  EXPECT_EQ(key, ChildPool::Key("c", "unix:/x", o, a.get_executor()));
  EXPECT_NE(key, ChildPool::Key("d", "unix:/x", o, a.get_executor()));
  EXPECT_NE(key, ChildPool::Key("c", "unix:/y", o, a.get_executor()));
  EXPECT_NE(key, ChildPool::Key("c", "unix:/x", o, b.get_executor()));
  server::SessionOptions longer = o;
  longer.read_timeout += absl::Seconds(1);
  EXPECT_NE(key, ChildPool::Key("c", "unix:/x", longer, a.get_executor()));
}

}  // namespace
}  // namespace milter::manager
