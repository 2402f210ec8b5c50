// SharedStore (with a clock the test controls: no sleeping) and its Ruby
// face Milter::Store: TTLs, counters, the bound, concurrent use from several
// threads with an Engine each, and the rate-limit policy it exists for.
#include "manager/script/store.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "manager/script/engine.h"
#include "manager/script/test_util.h"

namespace milter::manager::script {
namespace {

// A clock that moves only when told; readable from any thread.
class TestClock {
 public:
  absl::Time Now() const {
    return absl::FromUnixNanos(1700000000000000000 + ns_.load());
  }
  void Advance(absl::Duration d) { ns_ += absl::ToInt64Nanoseconds(d); }
  std::function<absl::Time()> Fn() {
    return [this] { return Now(); };
  }

 private:
  std::atomic<int64_t> ns_{0};
};

SharedStore::Options WithClock(TestClock& clock) {
  SharedStore::Options options;
  options.clock = clock.Fn();
  return options;
}

TEST(SharedStoreTest, SetGetDeleteAndTtl) {
  TestClock clock;
  SharedStore store(WithClock(clock));
  EXPECT_EQ(store.Get("a"), std::nullopt);
  store.Set("a", std::string("x"));
  store.Set("n", int64_t{5}, absl::Seconds(10));
  EXPECT_EQ(store.Get("a"), SharedStore::Value(std::string("x")));
  EXPECT_EQ(store.Get("n"), SharedStore::Value(int64_t{5}));
  EXPECT_EQ(store.Ttl("a"), absl::InfiniteDuration());
  EXPECT_EQ(store.Ttl("n"), absl::Seconds(10));
  EXPECT_EQ(store.Ttl("missing"), std::nullopt);
  clock.Advance(absl::Milliseconds(9999));
  EXPECT_TRUE(store.Contains("n"));
  EXPECT_EQ(store.Ttl("n"), absl::Milliseconds(1));
  clock.Advance(absl::Milliseconds(1));
  EXPECT_FALSE(store.Contains("n"));  // expired exactly at its TTL
  EXPECT_EQ(store.Get("n"), std::nullopt);
  EXPECT_TRUE(store.Delete("a"));
  EXPECT_FALSE(store.Delete("a"));
  EXPECT_FALSE(store.Contains("a"));
  store.Set("z", std::string("v"), absl::ZeroDuration());  // deletes
  EXPECT_FALSE(store.Contains("z"));
}

TEST(SharedStoreTest, CounterWindowStartsAtTheFirstIncrement) {
  TestClock clock;
  SharedStore store(WithClock(clock));
  for (int i = 1; i <= 20; ++i) {
    EXPECT_EQ(*store.Increment("c", 1, absl::Minutes(1)), i);
    clock.Advance(absl::Seconds(2));  // later increments do not extend it
  }
  EXPECT_EQ(store.Ttl("c"), absl::Seconds(20));
  EXPECT_EQ(*store.Increment("c", 5, absl::Minutes(1)), 25);
  clock.Advance(absl::Seconds(20));
  EXPECT_EQ(*store.Increment("c", 1, absl::Minutes(1)), 1);  // new window
  EXPECT_EQ(*store.Increment("forever", -3), -3);
  EXPECT_EQ(store.Ttl("forever"), absl::InfiniteDuration());
  store.Set("s", std::string("text"));
  EXPECT_FALSE(store.Increment("s", 1).ok());
  EXPECT_EQ(store.Get("s"), SharedStore::Value(std::string("text")));
}

TEST(SharedStoreTest, BoundEvictsNearestToExpiryFirst) {
  TestClock clock;
  SharedStore::Options options = WithClock(clock);
  options.max_entries = 64;
  options.shards = 1;
  SharedStore store(options);
  for (int i = 0; i < 8; ++i) store.Set(absl::StrCat("keep", i), int64_t{i});
  for (int i = 0; i < 1000; ++i) {
    store.Set(absl::StrCat("t", i), int64_t{i}, absl::Seconds(1 + i));
    ASSERT_LE(store.size(), 64u);
  }
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(store.Contains(absl::StrCat("keep", i))) << i;
  }
  EXPECT_TRUE(store.Contains("t999"));  // the newest, latest to expire
  EXPECT_FALSE(store.Contains("t0"));   // the nearest to expiry went first
}

TEST(SharedStoreTest, ExpiredEntriesAreSweptWithoutBeingTouched) {
  TestClock clock;
  SharedStore::Options options = WithClock(clock);
  options.shards = 1;
  options.sweep_every = 16;
  SharedStore store(options);
  for (int i = 0; i < 100; ++i) {
    store.Set(absl::StrCat("k", i), int64_t{i}, absl::Seconds(1));
  }
  EXPECT_EQ(store.size(), 100u);
  clock.Advance(absl::Seconds(2));
  for (int i = 0; i < 16; ++i) store.Set("other", int64_t{i});
  EXPECT_EQ(store.size(), 1u);
}

TEST(SharedStoreTest, ConcurrentIncrementsFromManyThreads) {
  SharedStore store;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 5000; ++i) {
        ASSERT_TRUE(store.Increment("shared", 1).ok());
        store.Set(absl::StrCat("own", t, "_", i % 50), int64_t{i});
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(store.Get("shared"), SharedStore::Value(int64_t{20000}));
  EXPECT_EQ(store.size(), 1u + 4 * 50);
}

class StoreApiTest : public ScriptTest {
 protected:
  Engine::Options WithStore() {
    Engine::Options options = Logged();
    SharedStore::Options store;
    store.clock = clock_.Fn();
    store_ = std::make_shared<SharedStore>(store);
    options.store = store_;
    return options;
  }
  TestClock clock_;
  std::shared_ptr<SharedStore> store_;
};

TEST_F(StoreApiTest, RubyCallsAndTheirErrors) {
  Engine engine(WithStore());
  Engine::Outcome out = Run(engine, R"(
def handle(s)
  r = []
  r << Milter::Store.set("a", "text")
  r << Milter::Store.set(:n, 5, ttl: 10)
  r << Milter::Store.get("a") << Milter::Store[:n] << Milter::Store.get("x")
  r << Milter::Store.incr("n") << Milter::Store.incr("n", 10)
  r << Milter::Store.incr("m", ttl: 2.5)
  r << Milter::Store.key?("a") << Milter::Store.key?("x")
  r << Milter::Store.ttl("n") << Milter::Store.ttl("m")
  r << Milter::Store.ttl("a").infinite? << Milter::Store.ttl("x")
  r << Milter::Store.delete("a") << Milter::Store.delete("a")
  r.inspect
end
)",
                            Stage::kConnect);
  ASSERT_TRUE(out.error.ok()) << out.error;
  EXPECT_EQ(out.value.text,
            R"(["text", 5, "text", 5, nil, 6, 16, 1, true, false, 10.0, 2.5, )"
            R"(1, nil, true, false])");
  EXPECT_EQ(store_->Get("n"), SharedStore::Value(int64_t{16}));
  for (const auto& [call, error] :
       std::vector<std::pair<std::string, std::string>>{
           {"Milter::Store.get(1)", "TypeError: Milter::Store: a key is"},
           {"Milter::Store.get('')", "ArgumentError: Milter::Store: a key has"},
           {"Milter::Store.set('k', 1.5)", "TypeError: Milter::Store: a value"},
           {"Milter::Store.set('k', 1, ttl: -1)",
            "ArgumentError: Milter::"
            "Store: ttl must be"},
           {"Milter::Store.set('k', 1, ttl: 'x')", "TypeError"},
           {"Milter::Store.set('k', 'x'); Milter::Store.incr('k')",
            "TypeError: Milter::Store.incr: k holds a String"},
       }) {
    out = Run(engine, absl::StrCat("def handle(s)\n", call, "\nend\n"),
              Stage::kConnect);
    EXPECT_TRUE(absl::StrContains(out.error.message(), error))
        << call << ": " << out.error;
  }
  Engine without(Logged());
  out = Run(without, "def handle(s)\n Milter::Store.get('a')\nend\n",
            Stage::kConnect);
  EXPECT_TRUE(absl::StrContains(out.error.message(),
                                "RuntimeError: Milter::Store: no shared "
                                "store is configured"))
      << out.error;
}

// The policy the store exists for: after 20 messages in a minute, a client
// is refused for 10 seconds.
TEST_F(StoreApiTest, RateLimitPolicy) {
  Engine engine(WithStore());
  std::string path = Write("rate.rb", R"(
def on_envfrom(s)
  blocked = "blocked:#{s.client_address}"
  return s.tempfail("4.7.1 slow down") if Milter::Store.key?(blocked)
  n = Milter::Store.incr("count:#{s.client_address}", ttl: 60)
  if n > 20
    Milter::Store.set(blocked, 1, ttl: 10)
    return s.tempfail("4.7.1 slow down")
  end
  :continue
end
)");
  auto call = [&] {
    session_.Reset();
    session_.stage = Stage::kEnvelopeFrom;
    Engine::Outcome out = engine.Call(path, "on_envfrom", session_,
                                      Value::Nil(), absl::Milliseconds(500));
    EXPECT_TRUE(out.error.ok()) << out.error;
    return ResolveStatus(out, session_);
  };
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(call(), codec::Status::kContinue) << i;
    clock_.Advance(absl::Seconds(1));
  }
  EXPECT_EQ(call(), codec::Status::kTempfail);  // the 21st within the minute
  EXPECT_EQ(session_.reply, "451 4.7.1 4.7.1 slow down");
  session_.client.address = "198.51.100.9";  // another client is not blocked
  EXPECT_EQ(call(), codec::Status::kContinue);
  session_.client.address = "192.0.2.7";
  clock_.Advance(absl::Seconds(9));
  EXPECT_EQ(call(), codec::Status::kTempfail);  // still blocked
  clock_.Advance(absl::Seconds(32));  // the minute and the block are over
  EXPECT_EQ(call(), codec::Status::kContinue);
}

// Several threads, each with its own Engine, share one store.
TEST_F(StoreApiTest, EnginesOnSeveralThreadsShareTheStore) {
  Engine::Options options = WithStore();
  std::string path = Write("count.rb", R"(
def handle(s)
  Milter::Store.incr("messages")
  Milter::Store.incr("client:#{s.client_address}")
end
)");
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Engine engine(options);
      Session session;
      session.client.address = absl::StrCat("192.0.2.", t);
      for (int i = 0; i < 500; ++i) {
        Engine::Outcome out = engine.Call(path, "handle", session, Value::Nil(),
                                          absl::Seconds(5));
        if (!out.error.ok() || out.value != Value::Integer(i + 1)) ++errors;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(store_->Get("messages"), SharedStore::Value(int64_t{2000}));
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(store_->Get(absl::StrCat("client:192.0.2.", t)),
              SharedStore::Value(int64_t{500}));
  }
}

}  // namespace
}  // namespace milter::manager::script
