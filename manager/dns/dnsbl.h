// DnsblChecker: whether a client address is listed by DNS block lists
// (DNSBLs), with a cache of their answers.
//
// For each configured zone the checker looks up the A records of the
// client's reversed address under the zone (192.0.2.1 in bl.example:
// "1.2.0.192.bl.example"; IPv6 by nibbles, see address.h). An address is
// listed by a zone when an answer is among the zone's expected answers
// (addresses or prefixes; none configured: any answer lists). Zones are
// asked concurrently; the address is listed when any zone lists it.
//
// Cache, keyed by query name: an answer is kept for the smallest TTL of its
// records, at most `max_ttl`; "no such name" (NXDOMAIN, or no A record) for
// `negative_ttl`. Failures (timeouts, server errors) are not kept. The cache
// holds at most `max_cache_entries`; when full, expired entries go first,
// then arbitrary ones, down to three quarters.
//
// Failures never make an address listed: a zone that times out or fails
// counts as not listing it, and the result says so (`timed_out`, `error`),
// so that the caller can tell "not listed" from "could not tell".
//
// Threading: not thread-safe; one checker per Resolver, used on the
// Resolver's executor thread. A Check in flight survives the checker's
// destruction (it completes, its answers are not cached) and the Resolver's
// (it completes with Cancelled errors).

#ifndef MANAGER_DNS_DNSBL_H_
#define MANAGER_DNS_DNSBL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/awaitable.hpp"
#include "manager/dns/resolver.h"

namespace milter::manager::dns {

namespace internal {
struct DnsblState;  // the cache and the lookups in flight
}  // namespace internal

struct DnsblZone {
  std::string zone;  // "bl.example" (a leading or trailing dot is dropped)
  // "127.0.0.2" or "127.0.0.0/24"; empty: any answer lists the address.
  std::vector<std::string> expected;
};

struct DnsblOptions {
  std::vector<DnsblZone> zones;
  absl::Duration max_ttl = absl::Hours(1);
  absl::Duration negative_ttl = absl::Minutes(5);
  size_t max_cache_entries = 100000;
  // The cache's clock; absl::Now when empty. Tests pass a fake one.
  std::function<absl::Time()> now;
};

struct DnsblResult {
  bool listed = false;
  std::string zone;    // the zone that lists the address
  std::string answer;  // its answer that matched, e.g. "127.0.0.2"
  // One line for a log or an SMTP reply: why listed, or why not, or what
  // failed.
  std::string reason;
  bool from_cache = false;  // no DNS query was needed
  bool timed_out = false;   // some zone did not answer in time
  // OK when every zone asked answered; otherwise the first failure (in
  // zone order): DeadlineExceeded, Unavailable, Cancelled, or
  // InvalidArgument for an address that is not an IP address. A listing
  // stands whatever the other zones did.
  absl::Status error;
};

struct DnsblStats {
  uint64_t checks = 0;      // calls of Check
  uint64_t cache_hits = 0;  // checks answered from the cache alone
  uint64_t queries = 0;     // DNS queries sent
  uint64_t joined = 0;      // lookups shared with a check already waiting
};

class DnsblChecker {
 public:
  // InvalidArgument for no zones, an empty zone, a malformed expected
  // answer or a negative TTL. `resolver` must outlive the checker.
  static absl::StatusOr<std::unique_ptr<DnsblChecker>> Create(
      DnsblOptions options, Resolver* resolver);
  ~DnsblChecker();
  DnsblChecker(const DnsblChecker&) = delete;
  DnsblChecker& operator=(const DnsblChecker&) = delete;

  // Checks `client_address` ("192.0.2.1", "2001:db8::1", "[192.0.2.1]",
  // "IPv6:2001:db8::1"). The cache is consulted and the queries are sent
  // when Check is called (the address is not needed after it returns); the
  // awaitable collects the answers. A query name already being looked up by
  // another check is not asked again: both wait for the same answer.
  asio::awaitable<DnsblResult> Check(std::string_view client_address);

  // The result if the cache alone decides it: a zone's cached answer lists
  // the address, or every zone's cached answer does not. Never waits.
  std::optional<DnsblResult> CachedResult(std::string_view client_address);

  const DnsblStats& stats() const;
  size_t cache_size() const;

 private:
  DnsblChecker(std::shared_ptr<internal::DnsblState> state, Resolver* resolver);

  std::shared_ptr<internal::DnsblState> state_;
  Resolver* resolver_;
};

}  // namespace milter::manager::dns

#endif  // MANAGER_DNS_DNSBL_H_
