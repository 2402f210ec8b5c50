// The dnsbl condition on c-ares (manager/dns), one checker per event loop.

#include "manager/conditions/dnsbl_condition.h"

#include <atomic>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asio/execution_context.hpp"
#include "asio/this_coro.hpp"
#include "manager/conditions/network_set.h"
#include "manager/dns/dnsbl.h"
#include "manager/dns/resolver.h"

namespace milter::manager::conditions {
namespace {

// The DNSBL checkers (and their resolvers) of one event loop, one per
// condition, owned by the loop: made on first use there, gone with it.
// Touched only from the loop's own thread.
class DnsblLoopService : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;
  explicit DnsblLoopService(asio::execution_context& context)
      : asio::execution_context::service(context) {}
  struct PerCondition {
    std::unique_ptr<dns::Resolver> resolver;
    std::unique_ptr<dns::DnsblChecker> checker;
  };
  absl::flat_hash_map<uint64_t, PerCondition> checkers;

 private:
  void shutdown() override {
    for (auto& [id, p] : checkers) p.checker.reset();  // before the resolver
    checkers.clear();
  }
};

uint64_t NextConditionId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

// Holds for listed clients. Each event loop has its own cache.
class DnsblCondition : public Condition {
 public:
  DnsblCondition(std::string name, const config::DnsblCondition& config)
      : Condition(std::move(name)), config_(config), id_(NextConditionId()) {}

  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override {
    if (stage != config::CONNECT) co_return Decision::Undecided();
    if (facts.client_address.empty()) {
      co_return Decision::Fails("client has no IP address");
    }
    asio::any_io_executor executor = co_await asio::this_coro::executor;
    absl::StatusOr<dns::DnsblChecker*> checker = CheckerFor(executor);
    if (!checker.ok()) {
      co_return Verdict(
          false, true,
          absl::StrCat("DNSBL not available: ", checker.status().message()));
    }
    std::optional<dns::DnsblResult> cached =
        (*checker)->CachedResult(facts.client_address);
    dns::DnsblResult r;
    if (cached.has_value()) {
      r = *std::move(cached);
    } else {
      r = co_await (*checker)->Check(facts.client_address);
    }
    co_return Verdict(r.listed, !r.listed && !r.error.ok(), r.reason);
  }

 private:
  Decision Verdict(bool listed, bool failed, std::string reason) const {
    if (listed || (failed && config_.holds_on_error())) {
      return Decision::Holds(std::move(reason));
    }
    return Decision::Fails(std::move(reason));
  }

  absl::StatusOr<dns::DnsblChecker*> CheckerFor(
      const asio::any_io_executor& executor) const {
    auto& service = asio::use_service<DnsblLoopService>(
        asio::query(executor, asio::execution::context));
    DnsblLoopService::PerCondition& p = service.checkers[id_];
    if (p.checker != nullptr) return p.checker.get();
    dns::ResolverOptions ro;
    ro.nameservers.assign(config_.nameserver().begin(),
                          config_.nameserver().end());
    ro.timeout = absl::Seconds(config_.timeout());
    absl::StatusOr<std::unique_ptr<dns::Resolver>> resolver =
        dns::Resolver::Create(executor, ro);
    if (!resolver.ok()) return resolver.status();
    dns::DnsblOptions o;
    for (const config::DnsblZone& z : config_.zone()) {
      o.zones.push_back({z.zone(), {z.expected().begin(), z.expected().end()}});
    }
    o.max_ttl = absl::Seconds(config_.cache_ttl());
    o.negative_ttl = absl::Seconds(config_.negative_cache_ttl());
    absl::StatusOr<std::unique_ptr<dns::DnsblChecker>> checker =
        dns::DnsblChecker::Create(std::move(o), resolver->get());
    if (!checker.ok()) return checker.status();
    p.resolver = *std::move(resolver);
    p.checker = *std::move(checker);
    return p.checker.get();
  }

  config::DnsblCondition config_;
  uint64_t id_;
};

// A check that the DNSBL configuration is usable, without a resolver.
absl::Status CheckDnsbl(const config::DnsblCondition& c) {
  for (const config::DnsblZone& z : c.zone()) {
    for (const std::string& e : z.expected()) {
      std::string entry = e.find('/') == std::string::npos ? e + "/32" : e;
      absl::StatusOr<NetworkSet> n = NetworkSet::Parse({entry});
      if (!n.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("dnsbl zone ", z.zone(),
                         ": expected answer: ", n.status().message()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Condition>> BuildDnsbl(
    const std::string& name, const config::DnsblCondition& config) {
  if (absl::Status s = CheckDnsbl(config); !s.ok()) return s;
  return std::make_unique<DnsblCondition>(name, config);
}

}  // namespace milter::manager::conditions
