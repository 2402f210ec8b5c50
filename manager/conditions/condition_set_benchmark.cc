// What applicable conditions cost per session, through the same path as the
// manager (ConditionSet built from a configuration, a fresh ConditionState
// per session, Evaluate at connect), with Google Benchmark:
//   bazel run //manager/conditions:condition_set_benchmark
// DNSBL: the cache is filled by a real check against dnsmasq on 127.0.0.1
// (needs /usr/sbin/dnsmasq); the loop then reads the cache.

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/io_context.hpp"
#include "benchmark/benchmark.h"
#include "manager/conditions/condition_set.h"
#include "manager/config/config.h"
#include "manager/dns/test_dns_server.h"

namespace milter::manager::conditions {
namespace {

std::shared_ptr<const ConditionSet> Build(const std::string& conditions,
                                          const std::string& names) {
  std::string text = absl::StrCat(conditions,
                                  "child { name: \"c\" connection_spec: "
                                  "\"unix:/c.sock\" ",
                                  names, " }\n");
  absl::StatusOr<config::ManagerConfig> c = ParseConfig(text, "bench");
  if (!c.ok()) {
    std::fprintf(stderr, "%s\n", std::string(c.status().message()).c_str());
    std::exit(1);
  }
  absl::StatusOr<std::shared_ptr<const ConditionSet>> set =
      ConditionSet::Build(*c);
  if (!set.ok()) {
    std::fprintf(stderr, "%s\n", std::string(set.status().message()).c_str());
    std::exit(1);
  }
  return *set;
}

// Runs the benchmark loop inside a coroutine on `io` (Evaluate is one).
void Loop(benchmark::State& state, asio::io_context& io,
          const ConditionSet* set, const Facts& facts) {
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (auto _ : state) {
          ConditionState session(set);
          ChildDecision d =
              co_await session.Evaluate(0, config::CONNECT, facts);
          benchmark::DoNotOptimize(d);
        }
      },
      asio::detached);
  io.restart();
  io.run();
}

Facts ClientFacts(const char* host, const char* address) {
  Facts f;
  f.client_host = host;
  f.client_address = address;
  return f;
}

void BM_S25rAndRemoteNetwork(benchmark::State& state, const char* host,
                             const char* address) {
  auto set = Build(
      "applicable_condition { name: \"s25r\" s25r {} }\n"
      "applicable_condition { name: \"remote\" remote_network {} }\n",
      "applicable_conditions: \"s25r\" applicable_conditions: \"remote\"");
  asio::io_context io;
  Loop(state, io, set.get(), ClientFacts(host, address));
}
BENCHMARK_CAPTURE(BM_S25rAndRemoteNetwork, legitimate, "mail.example.com",
                  "198.51.100.7");
BENCHMARK_CAPTURE(BM_S25rAndRemoteNetwork, dynamic, "dhcp-123.example.net",
                  "198.51.100.7");
BENCHMARK_CAPTURE(BM_S25rAndRemoteNetwork, local_ipv6, "host.example.com",
                  "IPv6:fd00::1");

void BM_DnsblCacheHit(benchmark::State& state) {
  auto dnsmasq = dns::testing::Dnsmasq::Start(
      {{"7.100.51.198.bl.test", "127.0.0.2", 3600}}, {"bl.test"});
  if (!dnsmasq.ok()) {
    state.SkipWithError("dnsmasq did not start");
    return;
  }
  auto set = Build(absl::StrCat("applicable_condition { name: \"bl\" dnsbl {"
                                " zone { zone: \"bl.test\" } nameserver: \"",
                                (*dnsmasq)->nameserver(), "\" } }\n"),
                   "applicable_conditions: \"bl\"");
  asio::io_context io;
  Facts facts = ClientFacts("dhcp-7.example.net", "198.51.100.7");
  // The first check asks dnsmasq and fills this event loop's cache.
  dns::testing::RunUntilDone(io, [&]() -> asio::awaitable<int> {
    ConditionState session(set.get());
    co_await session.Evaluate(0, config::CONNECT, facts);
    co_return 0;
  }());
  Loop(state, io, set.get(), facts);
}
BENCHMARK(BM_DnsblCacheHit);

}  // namespace
}  // namespace milter::manager::conditions
