// DnsblChecker's cache fast path (Google Benchmark):
//   bazel run //manager/dns:dnsbl_benchmark
// The cache is filled by real checks against dnsmasq on 127.0.0.1 (started
// once, needs /usr/sbin/dnsmasq); the loops then only read the cache.

#include <cstdlib>
#include <iostream>
#include <memory>

#include "asio/io_context.hpp"
#include "benchmark/benchmark.h"
#include "manager/dns/dnsbl.h"
#include "manager/dns/test_dns_server.h"

namespace milter::manager::dns {
namespace {

constexpr char kIPv6Name[] =
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test";

// dnsmasq, a resolver, and checkers of one and of three zones with the
// benchmarked addresses in their caches.
struct Setup {
  Setup() {
    auto server =
        testing::Dnsmasq::Start({{"2.0.0.127.bl.test", "127.0.0.2", 3600},
                                 {kIPv6Name, "127.0.0.2", 3600}},
                                {"bl.test", "bl2.test", "bl3.test"});
    if (!server.ok()) Fail(server.status());
    dnsmasq = *std::move(server);
    ResolverOptions options;
    options.nameservers = {dnsmasq->nameserver()};
    auto made = Resolver::Create(io.get_executor(), options);
    if (!made.ok()) Fail(made.status());
    resolver = *std::move(made);
    one_zone = Checker({{"bl.test", {"127.0.0.2"}}});
    three_zones = Checker({{"bl.test", {"127.0.0.2"}},
                           {"bl2.test", {}},
                           {"bl3.test", {"127.0.0.0/24"}}});
    for (const char* address : {"192.0.2.1", "127.0.0.2", "2001:db8::1"}) {
      testing::RunUntilDone(io, one_zone->Check(address));
      testing::RunUntilDone(io, three_zones->Check(address));
    }
  }

  std::unique_ptr<DnsblChecker> Checker(std::vector<DnsblZone> zones) {
    DnsblOptions options;
    options.zones = std::move(zones);
    auto checker = DnsblChecker::Create(options, resolver.get());
    if (!checker.ok()) Fail(checker.status());
    return *std::move(checker);
  }

  [[noreturn]] static void Fail(const absl::Status& status) {
    std::cerr << "dnsbl_benchmark: " << status << "\n";
    std::exit(1);
  }

  asio::io_context io;
  std::unique_ptr<testing::Dnsmasq> dnsmasq;
  std::unique_ptr<Resolver> resolver;
  std::unique_ptr<DnsblChecker> one_zone;
  std::unique_ptr<DnsblChecker> three_zones;
};

// Destroyed at exit, which stops dnsmasq.
Setup& Get() {
  static Setup setup;
  return setup;
}

void CacheHit(benchmark::State& state, DnsblChecker& checker,
              const char* address, bool listed) {
  for (auto _ : state) {
    std::optional<DnsblResult> result = checker.CachedResult(address);
    if (!result || result->listed != listed) {
      state.SkipWithError("not the cached result expected");
      break;
    }
    benchmark::DoNotOptimize(result);
  }
}

void BM_CacheHitIPv4Listed(benchmark::State& state) {
  CacheHit(state, *Get().one_zone, "127.0.0.2", true);
}
void BM_CacheHitIPv4NotListed(benchmark::State& state) {
  CacheHit(state, *Get().one_zone, "192.0.2.1", false);
}
void BM_CacheHitIPv6Listed(benchmark::State& state) {
  CacheHit(state, *Get().one_zone, "IPv6:2001:db8::1", true);
}
// Every zone's entry is read to tell "not listed".
void BM_CacheHitThreeZonesNotListed(benchmark::State& state) {
  CacheHit(state, *Get().three_zones, "192.0.2.1", false);
}
void BM_CacheMiss(benchmark::State& state) {
  DnsblChecker& checker = *Get().one_zone;
  for (auto _ : state) {
    benchmark::DoNotOptimize(checker.CachedResult("198.51.100.7"));
  }
}

BENCHMARK(BM_CacheHitIPv4Listed);
BENCHMARK(BM_CacheHitIPv4NotListed);
BENCHMARK(BM_CacheHitIPv6Listed);
BENCHMARK(BM_CacheHitThreeZonesNotListed);
BENCHMARK(BM_CacheMiss);

}  // namespace
}  // namespace milter::manager::dns
