// Timings of the condition matchers, one evaluation per iteration:
// S25R classification of typical client names, network membership against
// the private ranges, and name and address list lookups.
//
//   bazel run //manager/conditions:conditions_benchmark

#include <iterator>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "manager/conditions/name_list.h"
#include "manager/conditions/network_set.h"
#include "manager/conditions/s25r.h"

namespace milter::manager::conditions {
namespace {

struct Client {
  const char* name;
  const char* address;
};

// One per kind of outcome, so that each benchmark argument is one path.
constexpr Client kClients[] = {
    {"mail.example.com", "192.0.2.1"},                   // no rule matches
    {"p1139-ipad02kochi.kochi.ocn.ne.jp", "192.0.2.2"},  // rule 1
    {"dhcp-123.example.com", "192.0.2.3"},               // rule 6 (all tried)
    {"mail-yw1-f170.google.com", "209.85.128.170"},      // default allow list
    {"unknown", "203.0.113.5"},                          // unresolved
    {"dhcp-123.example.com", "2001:db8::1"},             // IPv6, not checked
};

void BM_S25rClassify(benchmark::State& state) {
  S25r s25r;
  const Client& client = kClients[state.range(0)];
  state.SetLabel(client.name);
  for (auto _ : state) {
    S25r::Result result = s25r.Classify(client.name, client.address);
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_S25rClassify)->DenseRange(0, std::size(kClients) - 1);

// The six rules alone.
void BM_S25rMatchingRule(benchmark::State& state) {
  const char* name = kClients[state.range(0)].name;
  state.SetLabel(name);
  for (auto _ : state) {
    benchmark::DoNotOptimize(S25r::MatchingRule(name));
  }
}
BENCHMARK(BM_S25rMatchingRule)->DenseRange(0, 3);

// With user allow and deny lists of some size in front of the rules.
void BM_S25rClassifyWithLists(benchmark::State& state) {
  S25r::Options options;
  for (int i = 0; i < 20; ++i) {
    (void)options.allow_list.Add(".partner" + std::to_string(i) + ".example");
    (void)options.deny_list.Add("host" + std::to_string(i) + ".example.net");
  }
  (void)options.deny_list.Add("/^bad-[0-9]+\\./");
  S25r s25r(std::move(options));
  const Client& client = kClients[state.range(0)];
  state.SetLabel(client.name);
  for (auto _ : state) {
    S25r::Result result = s25r.Classify(client.name, client.address);
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_S25rClassifyWithLists)->DenseRange(0, std::size(kClients) - 1);

constexpr const char* kAddresses[] = {
    "192.0.2.1",             // IPv4, outside
    "192.168.10.20",         // IPv4, inside
    "2001:db8::25",          // IPv6, outside
    "fe80::1:2:3:4",         // IPv6, inside
    "IPv6:::ffff:10.1.2.3",  // IPv4-mapped, inside
};

void BM_NetworkSetContainsText(benchmark::State& state) {
  NetworkSet set = NetworkSet::PrivateDefault();
  const char* address = kAddresses[state.range(0)];
  state.SetLabel(address);
  for (auto _ : state) {
    benchmark::DoNotOptimize(set.Contains(address));
  }
}
BENCHMARK(BM_NetworkSetContainsText)->DenseRange(0, std::size(kAddresses) - 1);

void BM_NetworkSetContainsParsed(benchmark::State& state) {
  NetworkSet set = NetworkSet::PrivateDefault();
  const char* text = kAddresses[state.range(0)];
  IpAddress address = NetworkSet::ParseAddress(text).value();
  state.SetLabel(text);
  for (auto _ : state) {
    benchmark::DoNotOptimize(set.Contains(address));
  }
}
BENCHMARK(BM_NetworkSetContainsParsed)
    ->DenseRange(0, std::size(kAddresses) - 1);

// A list of 30 subdomain entries, 30 names and 3 regexes.
NameList ThirtyOfEach() {
  NameList list;
  for (int i = 0; i < 30; ++i) {
    (void)list.Add(".domain" + std::to_string(i) + ".example");
    (void)list.Add("host" + std::to_string(i) + ".example.org");
  }
  (void)list.Add("/^mx[0-9]+\\.relay\\./");
  (void)list.Add("/\\.dyn\\.example\\.net$/");
  (void)list.Add("/(^|\\.)spam-?trap\\./");
  return list;
}

constexpr const char* kNames[] = {
    "host17.example.org",                // name
    "mail.out.domain23.example",         // subdomain entry
    "mx12.relay.example.com",            // first regex
    "client-1-2-3.dynamic.example.net",  // none: every regex tried
};

void BM_NameListMatches(benchmark::State& state) {
  NameList list = ThirtyOfEach();
  const char* name = kNames[state.range(0)];
  state.SetLabel(name);
  for (auto _ : state) {
    benchmark::DoNotOptimize(list.Matches(name));
  }
}
BENCHMARK(BM_NameListMatches)->DenseRange(0, std::size(kNames) - 1);

// A list of 30 regexes (one pass of them all), the subject matching none.
void BM_NameListThirtyRegexes(benchmark::State& state) {
  NameList list;
  for (int i = 0; i < 30; ++i) {
    (void)list.Add("/^[a-z]+" + std::to_string(i) + "-[0-9]+\\.pool" +
                   std::to_string(i) + "\\./");
  }
  const char* name = "client-1-2-3.dynamic.example.net";
  state.SetLabel(name);
  for (auto _ : state) {
    benchmark::DoNotOptimize(list.Matches(name));
  }
}
BENCHMARK(BM_NameListThirtyRegexes);

void BM_AddressListMatches(benchmark::State& state) {
  AddressList list;
  for (int i = 0; i < 30; ++i) {
    (void)list.Add("user" + std::to_string(i) + "@example.com");
    (void)list.Add("@domain" + std::to_string(i) + ".example");
  }
  (void)list.Add("/^bounce-[0-9]+@/");
  const char* address = state.range(0) == 0 ? "<User7@Example.COM>"
                                            : "<someone@elsewhere.example>";
  state.SetLabel(address);
  for (auto _ : state) {
    benchmark::DoNotOptimize(list.Matches(address));
  }
}
BENCHMARK(BM_AddressListMatches)->DenseRange(0, 1);

}  // namespace
}  // namespace milter::manager::conditions
