// Resolver against a real DNS server (dnsmasq) and a silent one, both on
// 127.0.0.1. The event loop runs in the test thread; nothing here sleeps.
//
// No test bounds how fast an answer comes: a timeout that must fire does so
// against a server that never answers, and is told by the kind of error.

#include "manager/dns/resolver.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "gtest/gtest.h"
#include "manager/dns/test_dns_server.h"

namespace milter::manager::dns {
namespace {

using testing::Dnsmasq;
using testing::LoopTicker;
using testing::RunUntilDone;
using testing::SilentDnsServer;

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Dnsmasq::Installed()) {
      GTEST_SKIP() << Dnsmasq::kPath << " is not installed (Debian package "
                   << "dnsmasq-base); these tests need a real DNS server";
    }
    absl::StatusOr<std::unique_ptr<Dnsmasq>> server =
        Dnsmasq::Start({{"2.0.0.127.bl.test", "127.0.0.2", 60},
                        {"two.bl.test", "127.0.0.10", 30},
                        {"two.bl.test", "127.0.0.11", 20},
                        {"v6only.bl.test", "2001:db8::5", 60}},
                       {"bl.test"});
    ASSERT_TRUE(server.ok()) << server.status();
    dnsmasq_ = *std::move(server);
  }

  std::unique_ptr<Resolver> MakeResolver(
      std::string nameserver, absl::Duration timeout = absl::Seconds(10)) {
    ResolverOptions options;
    options.nameservers = {std::move(nameserver)};
    options.timeout = timeout;
    absl::StatusOr<std::unique_ptr<Resolver>> resolver =
        Resolver::Create(io_.get_executor(), options);
    EXPECT_TRUE(resolver.ok()) << resolver.status();
    return resolver.ok() ? *std::move(resolver) : nullptr;
  }

  ALookupResult Lookup(Resolver& resolver, std::string name) {
    return RunUntilDone(io_, resolver.LookupA(std::move(name)));
  }

  asio::io_context io_;  // first: outlives everything using it
  std::unique_ptr<Dnsmasq> dnsmasq_;
};

TEST_F(ResolverTest, ReturnsTheAnswerAndItsTtl) {
  auto resolver = MakeResolver(dnsmasq_->nameserver());
  ALookupResult result = Lookup(*resolver, "2.0.0.127.bl.test");
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ((*result)[0].ipv4, 0x7f000002u);
  EXPECT_EQ((*result)[0].ttl, absl::Seconds(60));
}

TEST_F(ResolverTest, ReturnsEveryRecordWithATrailingDotToo) {
  auto resolver = MakeResolver(dnsmasq_->nameserver());
  ALookupResult result = Lookup(*resolver, "two.bl.test.");
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 2u);
  std::vector<uint32_t> addresses = {(*result)[0].ipv4, (*result)[1].ipv4};
  std::sort(addresses.begin(), addresses.end());
  EXPECT_EQ(addresses, (std::vector<uint32_t>{0x7f00000a, 0x7f00000b}));
}

TEST_F(ResolverTest, NoSuchNameAndNoAddressAreEmptyAnswers) {
  auto resolver = MakeResolver(dnsmasq_->nameserver());
  ALookupResult nxdomain = Lookup(*resolver, "3.0.0.127.bl.test");
  ASSERT_TRUE(nxdomain.ok()) << nxdomain.status();
  EXPECT_TRUE(nxdomain->empty());
  ALookupResult nodata = Lookup(*resolver, "v6only.bl.test");
  ASSERT_TRUE(nodata.ok()) << nodata.status();
  EXPECT_TRUE(nodata->empty());
}

TEST_F(ResolverTest, ARefusedQueryIsUnavailable) {
  auto resolver = MakeResolver(dnsmasq_->nameserver());
  ALookupResult result = Lookup(*resolver, "elsewhere.example");
  EXPECT_TRUE(absl::IsUnavailable(result.status())) << result.status();
}

TEST_F(ResolverTest, NoServerAtThePortIsUnavailableNotATimeout) {
  int port = dnsmasq_->port();
  dnsmasq_->Stop();
  auto resolver = MakeResolver(absl::StrCat("127.0.0.1:", port));
  ALookupResult result = Lookup(*resolver, "2.0.0.127.bl.test");
  EXPECT_TRUE(absl::IsUnavailable(result.status())) << result.status();
}

// Over TCP c-ares reads an answer in parts (length, then message): the
// loop must not wait for more data when some is already there.
TEST_F(ResolverTest, OverTcp) {
  ResolverOptions options;
  options.nameservers = {dnsmasq_->nameserver()};
  options.use_tcp = true;
  auto resolver = Resolver::Create(io_.get_executor(), options);
  ASSERT_TRUE(resolver.ok()) << resolver.status();
  for (int i = 0; i < 3; ++i) {
    ALookupResult result = Lookup(**resolver, "two.bl.test");
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->size(), 2u);
  }
  ALookupResult nxdomain = Lookup(**resolver, "3.0.0.127.bl.test");
  ASSERT_TRUE(nxdomain.ok()) << nxdomain.status();
  EXPECT_TRUE(nxdomain->empty());
}

TEST_F(ResolverTest, ManyLookupsAtOnce) {
  auto resolver = MakeResolver(dnsmasq_->nameserver());
  constexpr int kLookups = 50;
  std::vector<PendingLookup> lookups;
  for (int i = 0; i < kLookups; ++i) {
    lookups.push_back(resolver->StartLookupA(
        i % 2 == 0 ? "2.0.0.127.bl.test" : absl::StrCat(i, ".bl.test")));
  }
  for (int i = 0; i < kLookups; ++i) {
    ALookupResult result = RunUntilDone(io_, lookups[i].Wait());
    ASSERT_TRUE(result.ok()) << i << ": " << result.status();
    EXPECT_EQ(result->size(), i % 2 == 0 ? 1u : 0u) << i;
  }
}

TEST_F(ResolverTest, EveryWaiterGetsTheResult) {
  auto resolver = MakeResolver(dnsmasq_->nameserver());
  PendingLookup lookup = resolver->StartLookupA("2.0.0.127.bl.test");
  int finished = 0;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(
        io_,
        [](PendingLookup lookup, int& finished) -> asio::awaitable<void> {
          ALookupResult result = co_await lookup.Wait();
          EXPECT_TRUE(result.ok() && result->size() == 1) << result.status();
          ++finished;
        }(lookup, finished),
        asio::detached);
  }
  while (finished < 3) io_.run_one();
  ASSERT_TRUE(lookup.done());
  // Waiting after the answer is in does not suspend.
  ALookupResult again = RunUntilDone(io_, lookup.Wait());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), 1u);
}

// The event loop keeps running while a lookup waits: a 10 ms ticker counts.
TEST_F(ResolverTest, SilentServerTimesOutWithoutBlockingTheLoop) {
  auto silent = SilentDnsServer::Start();
  ASSERT_TRUE(silent.ok()) << silent.status();
  constexpr absl::Duration kTimeout = absl::Milliseconds(400);
  auto resolver = MakeResolver((*silent)->nameserver(), kTimeout);
  LoopTicker ticker(io_);
  auto start = std::chrono::steady_clock::now();
  ALookupResult result = Lookup(*resolver, "2.0.0.127.bl.test");
  auto elapsed = std::chrono::steady_clock::now() - start;
  ticker.Stop();
  EXPECT_TRUE(absl::IsDeadlineExceeded(result.status())) << result.status();
  // c-ares' last try may end a little before the deadline (its waits are
  // whole milliseconds, rounded down).
  EXPECT_GE(elapsed, absl::ToChronoNanoseconds(kTimeout * 0.9));
  EXPECT_GE(ticker.ticks(), 5);  // about 40 on an idle machine
  // Two tries, both sent within the timeout.
  EXPECT_EQ((*silent)->CountQueries(), 2);
}

TEST_F(ResolverTest, DestroyingTheResolverCancelsLookupsInFlight) {
  auto silent = SilentDnsServer::Start();
  ASSERT_TRUE(silent.ok()) << silent.status();
  auto resolver = MakeResolver((*silent)->nameserver(), absl::Hours(1));
  PendingLookup first = resolver->StartLookupA("a.bl.test");
  PendingLookup second = resolver->StartLookupA("b.bl.test");
  // Let the loop start watching the sockets before the resolver goes.
  io_.poll();
  EXPECT_FALSE(first.done());
  resolver.reset();
  EXPECT_TRUE(absl::IsCancelled(RunUntilDone(io_, first.Wait()).status()));
  EXPECT_TRUE(absl::IsCancelled(RunUntilDone(io_, second.Wait()).status()));
}

TEST_F(ResolverTest, DestroyingTheResolverWhileACoroutineWaits) {
  auto silent = SilentDnsServer::Start();
  ASSERT_TRUE(silent.ok()) << silent.status();
  auto resolver = MakeResolver((*silent)->nameserver(), absl::Hours(1));
  std::optional<ALookupResult> result;
  asio::co_spawn(
      io_,
      [](Resolver& resolver,
         std::optional<ALookupResult>& out) -> asio::awaitable<void> {
        out = co_await resolver.LookupA("a.bl.test");
      }(*resolver, result),
      asio::detached);
  io_.poll();  // the coroutine now waits for the answer
  ASSERT_FALSE(result.has_value());
  resolver.reset();
  while (!result) io_.run_one();
  EXPECT_TRUE(absl::IsCancelled(result->status())) << result->status();
}

TEST(ResolverOptionsTest, NameserverForms) {
  asio::io_context io;
  for (const char* good : {"127.0.0.1", "127.0.0.1:5353", "::1", "[::1]",
                           "[::1]:5353", "2001:db8::53"}) {
    ResolverOptions options;
    options.nameservers = {good};
    EXPECT_TRUE(Resolver::Create(io.get_executor(), options).ok()) << good;
  }
  for (const char* bad :
       {"", "localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "[::1",
        "[::1]x", "[::1]:x", "1.2.3.4:53:53"}) {
    ResolverOptions options;
    options.nameservers = {bad};
    EXPECT_TRUE(absl::IsInvalidArgument(
        Resolver::Create(io.get_executor(), options).status()))
        << bad;
  }
}

TEST(ResolverOptionsTest, TimeoutAndTries) {
  asio::io_context io;
  ResolverOptions options;
  options.timeout = absl::ZeroDuration();
  EXPECT_FALSE(Resolver::Create(io.get_executor(), options).ok());
  options.timeout = absl::Seconds(1);
  options.tries = 0;
  EXPECT_FALSE(Resolver::Create(io.get_executor(), options).ok());
  options.tries = 9;
  EXPECT_FALSE(Resolver::Create(io.get_executor(), options).ok());
  options.tries = 8;
  EXPECT_TRUE(Resolver::Create(io.get_executor(), options).ok());
}

}  // namespace
}  // namespace milter::manager::dns
