// DnsblChecker against a real DNS server (dnsmasq on 127.0.0.1) serving two
// block lists, bl.test and bl2.test, and against a server that never
// answers. The cache's clock is a fake one the tests move; nothing sleeps.

#include "manager/dns/dnsbl.h"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
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

// 2001:db8::1, nibble-reversed.
constexpr char kIPv6Name[] =
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test";

class DnsblTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Dnsmasq::Installed()) {
      GTEST_SKIP() << Dnsmasq::kPath << " is not installed (Debian package "
                   << "dnsmasq-base); these tests need a real DNS server";
    }
    absl::StatusOr<std::unique_ptr<Dnsmasq>> server = Dnsmasq::Start(
        {
            {"2.0.0.127.bl.test", "127.0.0.2", 60},   // listed
            {"10.2.0.192.bl.test", "127.0.0.3", 60},  // an unexpected code
            {"20.2.0.192.bl.test", "127.0.0.2", 5},   // a short TTL
            {kIPv6Name, "127.0.0.2", 60},             // listed IPv6
            {"4.0.0.127.bl2.test", "127.0.0.4", 60},  // the second list
        },
        {"bl.test", "bl2.test"});
    ASSERT_TRUE(server.ok()) << server.status();
    dnsmasq_ = *std::move(server);
    resolver_ = MakeResolver(dnsmasq_->nameserver(), absl::Seconds(10));
  }

  std::unique_ptr<Resolver> MakeResolver(const std::string& nameserver,
                                         absl::Duration timeout) {
    ResolverOptions options;
    options.nameservers = {nameserver};
    options.timeout = timeout;
    absl::StatusOr<std::unique_ptr<Resolver>> resolver =
        Resolver::Create(io_.get_executor(), options);
    EXPECT_TRUE(resolver.ok()) << resolver.status();
    return resolver.ok() ? *std::move(resolver) : nullptr;
  }

  // A checker of bl.test (expecting 127.0.0.2) on the fake clock.
  DnsblOptions Options() {
    DnsblOptions options;
    options.zones = {{"bl.test", {"127.0.0.2"}}};
    options.now = [this] { return now_; };
    return options;
  }

  std::unique_ptr<DnsblChecker> MakeChecker(DnsblOptions options,
                                            Resolver* resolver = nullptr) {
    absl::StatusOr<std::unique_ptr<DnsblChecker>> checker =
        DnsblChecker::Create(std::move(options),
                             resolver ? resolver : resolver_.get());
    EXPECT_TRUE(checker.ok()) << checker.status();
    return checker.ok() ? *std::move(checker) : nullptr;
  }

  DnsblResult Check(DnsblChecker& checker, std::string_view address) {
    return RunUntilDone(io_, checker.Check(address));
  }

  asio::io_context io_;  // first: outlives everything using it
  std::unique_ptr<Dnsmasq> dnsmasq_;
  std::unique_ptr<Resolver> resolver_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

TEST_F(DnsblTest, ListedIPv4) {
  auto checker = MakeChecker(Options());
  DnsblResult r = Check(*checker, "127.0.0.2");
  EXPECT_TRUE(r.listed) << r.reason;
  EXPECT_EQ(r.zone, "bl.test");
  EXPECT_EQ(r.answer, "127.0.0.2");
  EXPECT_EQ(r.reason, "127.0.0.2 is listed by bl.test (127.0.0.2)");
  EXPECT_FALSE(r.from_cache);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.error.ok()) << r.error;
}

TEST_F(DnsblTest, NotListedIPv4) {
  auto checker = MakeChecker(Options());
  DnsblResult r = Check(*checker, "192.0.2.99");
  EXPECT_FALSE(r.listed);
  EXPECT_EQ(r.reason, "192.0.2.99 is not listed");
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.error.ok()) << r.error;
}

TEST_F(DnsblTest, ListedIPv6InEveryForm) {
  auto checker = MakeChecker(Options());
  DnsblResult r = Check(*checker, "2001:db8::1");
  EXPECT_TRUE(r.listed) << r.reason;
  EXPECT_EQ(r.answer, "127.0.0.2");
  for (const char* form :
       {"IPv6:2001:db8::1", "[IPv6:2001:db8::1]", "2001:db8:0::0:1"}) {
    DnsblResult again = Check(*checker, form);
    EXPECT_TRUE(again.listed) << form;
    EXPECT_TRUE(again.from_cache) << form;  // the same query name
  }
  EXPECT_FALSE(Check(*checker, "2001:db8::2").listed);
}

TEST_F(DnsblTest, BracketedIPv4) {
  auto checker = MakeChecker(Options());
  EXPECT_TRUE(Check(*checker, "[127.0.0.2]").listed);
}

TEST_F(DnsblTest, AnUnexpectedAnswerDoesNotList) {
  auto checker = MakeChecker(Options());  // expects 127.0.0.2 only
  DnsblResult r = Check(*checker, "192.0.2.10");
  EXPECT_FALSE(r.listed);
  EXPECT_TRUE(r.error.ok()) << r.error;
  EXPECT_EQ(r.reason,
            "192.0.2.10 is not listed; bl.test answered 127.0.0.3, not an "
            "expected answer");

  DnsblOptions prefix = Options();
  prefix.zones[0].expected = {"127.0.0.0/24"};
  auto by_prefix = MakeChecker(prefix);
  DnsblResult listed = Check(*by_prefix, "192.0.2.10");
  EXPECT_TRUE(listed.listed);
  EXPECT_EQ(listed.answer, "127.0.0.3");

  DnsblOptions any = Options();
  any.zones[0].expected.clear();
  auto by_any = MakeChecker(any);
  EXPECT_TRUE(Check(*by_any, "192.0.2.10").listed);
}

TEST_F(DnsblTest, SeveralZones) {
  DnsblOptions options = Options();
  options.zones.push_back({"bl2.test", {}});
  auto checker = MakeChecker(options);
  DnsblResult first = Check(*checker, "127.0.0.2");
  EXPECT_TRUE(first.listed);
  EXPECT_EQ(first.zone, "bl.test");
  DnsblResult second = Check(*checker, "127.0.0.4");
  EXPECT_TRUE(second.listed);
  EXPECT_EQ(second.zone, "bl2.test");
  EXPECT_EQ(second.answer, "127.0.0.4");
  EXPECT_FALSE(Check(*checker, "192.0.2.99").listed);
  EXPECT_EQ(checker->stats().queries, 6u);  // both zones, each time
}

// The second check is answered from the cache: dnsmasq is gone by then.
TEST_F(DnsblTest, SecondCheckComesFromTheCache) {
  auto checker = MakeChecker(Options());
  EXPECT_FALSE(checker->CachedResult("127.0.0.2").has_value());
  ASSERT_TRUE(Check(*checker, "127.0.0.2").listed);
  ASSERT_FALSE(Check(*checker, "192.0.2.99").listed);
  dnsmasq_->Stop();

  DnsblResult listed = Check(*checker, "127.0.0.2");
  EXPECT_TRUE(listed.listed);
  EXPECT_TRUE(listed.from_cache);
  EXPECT_EQ(listed.answer, "127.0.0.2");
  DnsblResult clean = Check(*checker, "192.0.2.99");
  EXPECT_FALSE(clean.listed);
  EXPECT_TRUE(clean.from_cache);
  EXPECT_TRUE(clean.error.ok());

  std::optional<DnsblResult> cached = checker->CachedResult("127.0.0.2");
  ASSERT_TRUE(cached.has_value());
  EXPECT_TRUE(cached->listed);
  EXPECT_TRUE(cached->from_cache);
  EXPECT_EQ(checker->stats().queries, 2u);
  EXPECT_EQ(checker->stats().cache_hits, 2u);
}

// An answer is kept for its TTL, at most max_ttl.
TEST_F(DnsblTest, MaxTtlBoundsTheAnswersTtl) {
  DnsblOptions options = Options();
  options.max_ttl = absl::Seconds(1);  // the answer's TTL is 60 s
  auto checker = MakeChecker(options);
  ASSERT_TRUE(Check(*checker, "127.0.0.2").listed);
  now_ += absl::Milliseconds(900);
  EXPECT_TRUE(checker->CachedResult("127.0.0.2").has_value());
  now_ += absl::Milliseconds(200);
  EXPECT_FALSE(checker->CachedResult("127.0.0.2").has_value());
  DnsblResult again = Check(*checker, "127.0.0.2");
  EXPECT_TRUE(again.listed);
  EXPECT_FALSE(again.from_cache);
  EXPECT_EQ(checker->stats().queries, 2u);
}

TEST_F(DnsblTest, AShortAnswerTtlWins) {
  auto checker = MakeChecker(Options());  // max_ttl 1 h, the answer's 5 s
  ASSERT_TRUE(Check(*checker, "192.0.2.20").listed);
  now_ += absl::Seconds(4);
  EXPECT_TRUE(checker->CachedResult("192.0.2.20").has_value());
  now_ += absl::Seconds(2);
  EXPECT_FALSE(checker->CachedResult("192.0.2.20").has_value());
}

TEST_F(DnsblTest, NoSuchNameIsKeptForNegativeTtl) {
  DnsblOptions options = Options();
  options.negative_ttl = absl::Seconds(2);
  auto checker = MakeChecker(options);
  ASSERT_FALSE(Check(*checker, "192.0.2.99").listed);
  now_ += absl::Seconds(1);
  std::optional<DnsblResult> cached = checker->CachedResult("192.0.2.99");
  ASSERT_TRUE(cached.has_value());
  EXPECT_FALSE(cached->listed);
  now_ += absl::Seconds(2);
  EXPECT_FALSE(checker->CachedResult("192.0.2.99").has_value());
}

TEST_F(DnsblTest, CacheStaysWithinItsBound) {
  DnsblOptions options = Options();
  options.max_cache_entries = 4;
  auto checker = MakeChecker(options);
  for (int i = 100; i < 110; ++i) {
    Check(*checker, absl::StrCat("192.0.2.", i));
    EXPECT_LE(checker->cache_size(), 4u);
  }
  EXPECT_GE(checker->cache_size(), 1u);
}

// Two checks of one address at once send one query and both get the answer.
TEST_F(DnsblTest, ConcurrentChecksShareOneQuery) {
  auto checker = MakeChecker(Options());
  std::vector<DnsblResult> results;
  for (int i = 0; i < 2; ++i) {
    asio::co_spawn(io_, checker->Check("127.0.0.2"),
                   [&](std::exception_ptr, DnsblResult r) {
                     results.push_back(std::move(r));
                   });
  }
  while (results.size() < 2) io_.run_one();
  for (const DnsblResult& r : results) {
    EXPECT_TRUE(r.listed) << r.reason;
    EXPECT_FALSE(r.from_cache);
  }
  EXPECT_EQ(checker->stats().queries, 1u);
  EXPECT_EQ(checker->stats().joined, 1u);
  EXPECT_TRUE(Check(*checker, "127.0.0.2").from_cache);
}

// A list that never answers: the check ends at the timeout as timed out and
// not listed, nothing is cached, and the event loop runs all along (a 10 ms
// ticker keeps firing).
TEST_F(DnsblTest, ServerThatNeverAnswers) {
  auto silent = SilentDnsServer::Start();
  ASSERT_TRUE(silent.ok()) << silent.status();
  constexpr absl::Duration kTimeout = absl::Milliseconds(500);
  auto resolver = MakeResolver((*silent)->nameserver(), kTimeout);
  auto checker = MakeChecker(Options(), resolver.get());
  LoopTicker ticker(io_);
  auto start = std::chrono::steady_clock::now();
  DnsblResult r = Check(*checker, "127.0.0.2");
  auto elapsed = std::chrono::steady_clock::now() - start;
  ticker.Stop();
  EXPECT_FALSE(r.listed);
  EXPECT_TRUE(r.timed_out);
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.error)) << r.error;
  EXPECT_TRUE(absl::StartsWith(r.reason,
                               "could not check 127.0.0.2 with "
                               "bl.test: "))
      << r.reason;
  EXPECT_GE(elapsed, absl::ToChronoNanoseconds(kTimeout * 0.9));
  EXPECT_LT(elapsed, absl::ToChronoNanoseconds(kTimeout * 10));
  EXPECT_GE(ticker.ticks(), 5);  // about 50 on an idle machine
  EXPECT_EQ(checker->cache_size(), 0u);
  EXPECT_GE((*silent)->CountQueries(), 1);
}

// A listing stands when another list fails.
TEST_F(DnsblTest, ListedDespiteAFailingZone) {
  DnsblOptions options = Options();
  options.zones.push_back({"elsewhere.example", {}});  // refused by dnsmasq
  auto checker = MakeChecker(options);
  DnsblResult r = Check(*checker, "127.0.0.2");
  EXPECT_TRUE(r.listed);
  EXPECT_EQ(r.zone, "bl.test");
  EXPECT_TRUE(absl::IsUnavailable(r.error)) << r.error;
  DnsblResult clean = Check(*checker, "192.0.2.99");
  EXPECT_FALSE(clean.listed);
  EXPECT_FALSE(clean.timed_out);
  EXPECT_EQ(clean.zone, "elsewhere.example");
  EXPECT_TRUE(absl::IsUnavailable(clean.error)) << clean.error;
}

TEST_F(DnsblTest, ResolverDestroyedWithACheckInFlight) {
  auto silent = SilentDnsServer::Start();
  ASSERT_TRUE(silent.ok()) << silent.status();
  auto resolver = MakeResolver((*silent)->nameserver(), absl::Hours(1));
  auto checker = MakeChecker(Options(), resolver.get());
  asio::awaitable<DnsblResult> check = checker->Check("127.0.0.2");
  io_.poll();
  checker.reset();
  resolver.reset();
  DnsblResult r = RunUntilDone(io_, std::move(check));
  EXPECT_FALSE(r.listed);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(absl::IsCancelled(r.error)) << r.error;
}

TEST_F(DnsblTest, CheckerDestroyedWithACheckInFlight) {
  auto checker = MakeChecker(Options());
  asio::awaitable<DnsblResult> check = checker->Check("127.0.0.2");
  checker.reset();
  EXPECT_TRUE(RunUntilDone(io_, std::move(check)).listed);
}

TEST_F(DnsblTest, NotAnAddress) {
  auto checker = MakeChecker(Options());
  DnsblResult r = Check(*checker, "unknown");
  EXPECT_FALSE(r.listed);
  EXPECT_TRUE(absl::IsInvalidArgument(r.error)) << r.error;
  EXPECT_FALSE(checker->CachedResult("unknown").has_value());
  EXPECT_EQ(checker->stats().queries, 0u);
}

TEST(DnsblOptionsTest, RejectsBadConfigurations) {
  asio::io_context io;
  auto resolver = Resolver::Create(io.get_executor());
  ASSERT_TRUE(resolver.ok()) << resolver.status();
  auto create = [&](DnsblOptions options) {
    return DnsblChecker::Create(std::move(options), resolver->get()).status();
  };
  EXPECT_FALSE(create({}).ok());  // no zones
  DnsblOptions options;
  options.zones = {{".", {}}};
  EXPECT_FALSE(create(options).ok());
  options.zones = {{"bl.test", {"127.0.0.300"}}};
  EXPECT_FALSE(create(options).ok());
  options.zones = {{"bl.test", {}}, {"BL.test.", {}}};
  EXPECT_FALSE(create(options).ok());  // the same zone twice
  options.zones = {{".bl.test.", {"127.0.0.0/8", "127.0.0.2"}}};
  EXPECT_TRUE(create(options).ok());
  options.negative_ttl = -absl::Seconds(1);
  EXPECT_FALSE(create(options).ok());
  options.negative_ttl = absl::Minutes(5);
  EXPECT_FALSE(DnsblChecker::Create(options, nullptr).ok());
}

}  // namespace
}  // namespace milter::manager::dns
