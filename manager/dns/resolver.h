// Resolver: asynchronous DNS lookups of A records with c-ares, driven by an
// Asio event loop, for coroutines on that loop.
//
// Nothing blocks: c-ares' sockets are watched by the event loop and its
// retransmission deadlines run on an asio::steady_timer. Each lookup has one
// overall deadline (`timeout`), within which c-ares makes `tries` attempts
// per nameserver with doubling per-attempt waits.
//
// What a lookup yields:
//   - OK with the A records (address and TTL) of the answer;
//   - OK and empty when the name does not exist (NXDOMAIN) or has no A record
//     (NODATA): for a DNS list both mean "not listed";
//   - DeadlineExceeded when no answer came within `timeout`;
//   - Unavailable when the servers failed (SERVFAIL, REFUSED, connection
//     refused, a malformed answer), InvalidArgument for a malformed name;
//   - Cancelled when the Resolver was destroyed first.
//
// Threading: not thread-safe. One Resolver per single-threaded executor (an
// io_context run by one thread, or a strand); create it, start lookups and
// destroy it on that thread. Destroy it before its io_context.
//
// Lifetime: the Resolver may be destroyed with lookups in flight; their
// waiters then resume with Cancelled. Sockets, timers and queries are freed
// with it.

#ifndef MANAGER_DNS_RESOLVER_H_
#define MANAGER_DNS_RESOLVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"

namespace milter::manager::dns {

class AresChannel;

struct ResolverOptions {
  // "IP" or "IP:PORT" ("192.0.2.53", "127.0.0.1:5353", "2001:db8::53",
  // "[2001:db8::53]:5353"). Empty: the system's (/etc/resolv.conf).
  std::vector<std::string> nameservers;
  // Overall deadline of one lookup, from the moment it is started.
  absl::Duration timeout = absl::Seconds(2);
  // Attempts per nameserver within `timeout` (1 to 8).
  int tries = 2;
  // Query over TCP only. Otherwise UDP, and TCP when an answer does not fit.
  bool use_tcp = false;
};

// One A record of an answer.
struct ARecord {
  uint32_t ipv4 = 0;  // host byte order: 127.0.0.2 is 0x7f000002
  absl::Duration ttl;
};

using ALookupResult = absl::StatusOr<std::vector<ARecord>>;

// A lookup started by Resolver::StartLookupA. Copies share the lookup: any
// number of coroutines may wait for it, each getting the same result. Safe
// to keep and wait on after the Resolver is gone (the result is then
// Cancelled unless it had arrived).
class PendingLookup {
 public:
  struct State;
  explicit PendingLookup(std::shared_ptr<State> state)
      : state_(std::move(state)) {}

  // Resumes when the answer is in, at the lookup's deadline, or when the
  // Resolver is destroyed; at once when that already happened. Must be
  // awaited on the Resolver's executor.
  asio::awaitable<ALookupResult> Wait() const;
  // Whether the result is in (Wait would not suspend).
  bool done() const;

  friend bool operator==(const PendingLookup& a, const PendingLookup& b) {
    return a.state_ == b.state_;
  }

 private:
  std::shared_ptr<State> state_;
};

class Resolver {
 public:
  // InvalidArgument for a malformed nameserver or option, Internal when
  // c-ares cannot be set up (no /etc/resolv.conf is not an error: c-ares
  // then uses 127.0.0.1).
  static absl::StatusOr<std::unique_ptr<Resolver>> Create(
      asio::any_io_executor executor, ResolverOptions options = {});
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Sends the query for `name`'s A records now (search domains are not
  // applied; a trailing dot is optional) and returns the lookup to wait on.
  PendingLookup StartLookupA(std::string_view name);

  // StartLookupA and Wait in one: the query is sent when this is awaited.
  asio::awaitable<ALookupResult> LookupA(std::string name);

  const asio::any_io_executor& executor() const;

 private:
  Resolver(std::shared_ptr<AresChannel> channel, absl::Duration timeout);
  std::shared_ptr<AresChannel> channel_;
  absl::Duration timeout_;
};

}  // namespace milter::manager::dns

#endif  // MANAGER_DNS_RESOLVER_H_
