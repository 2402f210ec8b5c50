// Resolver: A lookups on an AresChannel (c-ares on the event loop).
//
// Each lookup's state holds a timer that expires at its overall deadline and
// is cancelled when the answer is in: waiters wait on that timer, so both
// the answer and the deadline wake them.

#include "manager/dns/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "asio/redirect_error.hpp"
#include "asio/steady_timer.hpp"
#include "asio/use_awaitable.hpp"
#include "manager/dns/ares_channel.h"

namespace milter::manager::dns {

struct PendingLookup::State {
  State(const asio::any_io_executor& executor, std::string_view name)
      : timer(executor), name(name) {}
  asio::steady_timer timer;  // the deadline; cancelled when the result is in
  std::string name;
  std::optional<ALookupResult> result;
};

namespace {

absl::string_view View(std::string_view s) { return {s.data(), s.size()}; }

constexpr int kMaxRecords = 64;

ALookupResult ParseA(const unsigned char* answer, int length,
                     const std::string& name) {
  hostent* host = nullptr;
  ares_addrttl ttls[kMaxRecords];
  int count = kMaxRecords;
  int status = ares_parse_a_reply(answer, length, &host, ttls, &count);
  if (host != nullptr) ares_free_hostent(host);
  if (status == ARES_ENODATA) return std::vector<ARecord>();
  if (status != ARES_SUCCESS) {
    return absl::UnavailableError(
        absl::StrCat("bad DNS answer for ", name, ": ", ares_strerror(status)));
  }
  std::vector<ARecord> records;
  records.reserve(count);
  for (int i = 0; i < count; ++i) {
    ARecord record;
    record.ipv4 = ntohl(ttls[i].ipaddr.s_addr);
    record.ttl = absl::Seconds(std::max(0, ttls[i].ttl));
    records.push_back(record);
  }
  return records;
}

ALookupResult ToResult(int status, const unsigned char* answer, int length,
                       const std::string& name) {
  switch (status) {
    case ARES_SUCCESS:
      return ParseA(answer, length, name);
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
      return std::vector<ARecord>();
    case ARES_ETIMEOUT:
      return absl::DeadlineExceededError(
          absl::StrCat("no answer in time to the DNS query for ", name));
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
      return absl::CancelledError(
          absl::StrCat("DNS query for ", name, " cancelled"));
    case ARES_EBADNAME:
      return absl::InvalidArgumentError(
          absl::StrCat("not a valid DNS name: \"", name, "\""));
    case ARES_ENOMEM:
      return absl::ResourceExhaustedError(
          absl::StrCat("out of memory querying ", name));
    default:
      return absl::UnavailableError(absl::StrCat(
          "DNS query for ", name, " failed: ", ares_strerror(status)));
  }
}

// c-ares' completion callback; `arg` owns a reference to the lookup.
void OnQueryDone(void* arg, int status, int /*timeouts*/, unsigned char* answer,
                 int length) {
  std::unique_ptr<std::shared_ptr<PendingLookup::State>> owner(
      static_cast<std::shared_ptr<PendingLookup::State>*>(arg));
  PendingLookup::State& state = **owner;
  if (!state.result) {
    state.result = ToResult(status, answer, length, state.name);
  }
  state.timer.cancel();
}

asio::awaitable<ALookupResult> WaitFor(
    std::shared_ptr<PendingLookup::State> state) {
  if (!state->result) {
    asio::error_code ec;
    co_await state->timer.async_wait(
        asio::redirect_error(asio::use_awaitable, ec));
    if (!state->result) {
      // The deadline passed (every waiter, now and later, sees that) or
      // this waiter alone was cancelled.
      if (ec) {
        co_return absl::CancelledError(absl::StrCat(
            "wait for the DNS query for ", state->name, " cancelled"));
      }
      state->result = absl::DeadlineExceededError(
          absl::StrCat("no answer in time to the DNS query for ", state->name));
    }
  }
  ALookupResult result = *state->result;
  co_return result;
}

absl::Status BadNameserver(std::string_view spec, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad nameserver \"", View(spec), "\": ", View(why),
                   " (expected IP, IP:PORT or [IPv6]:PORT)"));
}

// "IP", "IPv4:PORT", "IPv6", "[IPv6]" or "[IPv6]:PORT".
absl::StatusOr<ares_addr_port_node> ParseNameserver(std::string_view spec) {
  std::string_view host = spec;
  std::optional<std::string_view> port;
  if (!spec.empty() && spec.front() == '[') {
    size_t close = spec.find(']');
    if (close == std::string_view::npos) return BadNameserver(spec, "no ]");
    host = spec.substr(1, close - 1);
    std::string_view rest = spec.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return BadNameserver(spec, "junk after ]");
      port = rest.substr(1);
    }
  } else if (std::count(spec.begin(), spec.end(), ':') == 1) {
    size_t colon = spec.find(':');
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
  }
  ares_addr_port_node node = {};
  std::string host_text(host);
  if (inet_pton(AF_INET, host_text.c_str(), &node.addr.addr4) == 1) {
    node.family = AF_INET;
  } else if (inet_pton(AF_INET6, host_text.c_str(), &node.addr.addr6) == 1) {
    node.family = AF_INET6;
  } else {
    return BadNameserver(spec, "not an IP address");
  }
  if (port) {
    int number = 0;
    if (!absl::SimpleAtoi(View(*port), &number) || number < 1 ||
        number > 65535) {
      return BadNameserver(spec, "the port must be 1 to 65535");
    }
    node.udp_port = node.tcp_port = number;
  }
  return node;
}

// How many nameservers the system configuration gives c-ares.
int SystemNameserverCount() {
  ares_channel probe = nullptr;
  if (ares_init(&probe) != ARES_SUCCESS) return 1;
  ares_addr_port_node* servers = nullptr;
  int count = 0;
  if (ares_get_servers_ports(probe, &servers) == ARES_SUCCESS) {
    for (ares_addr_port_node* s = servers; s != nullptr; s = s->next) ++count;
    ares_free_data(servers);
  }
  ares_destroy(probe);
  return std::max(count, 1);
}

// c-ares waits `base << round` for each nameserver in round 0 .. tries-1:
// the base that makes all of them fit in `timeout`.
int PerTryTimeoutMs(absl::Duration timeout, int tries, int servers) {
  int64_t rounds_weight = (int64_t{1} << tries) - 1;
  int64_t ms = absl::ToInt64Milliseconds(timeout) / (rounds_weight * servers);
  return static_cast<int>(std::clamp<int64_t>(ms, 1, 1 << 30));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Resolver>> Resolver::Create(
    asio::any_io_executor executor, ResolverOptions options) {
  static const int library = ares_library_init(ARES_LIB_INIT_ALL);
  if (library != ARES_SUCCESS) {
    return absl::InternalError(
        absl::StrCat("c-ares initialisation failed: ", ares_strerror(library)));
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the DNS timeout must be positive");
  }
  if (options.tries < 1 || options.tries > 8) {
    return absl::InvalidArgumentError("DNS tries must be 1 to 8");
  }
  std::vector<ares_addr_port_node> servers;
  for (const std::string& spec : options.nameservers) {
    absl::StatusOr<ares_addr_port_node> node = ParseNameserver(spec);
    if (!node.ok()) return node.status();
    servers.push_back(*node);
  }
  for (size_t i = 0; i + 1 < servers.size(); ++i) {
    servers[i].next = &servers[i + 1];
  }
  int server_count = servers.empty() ? SystemNameserverCount()
                                     : static_cast<int>(servers.size());

  ares_options ares = {};
  ares.timeout = PerTryTimeoutMs(options.timeout, options.tries, server_count);
  ares.tries = options.tries;
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  if (options.use_tcp) {
    ares.flags = ARES_FLAG_USEVC;
    mask |= ARES_OPT_FLAGS;
  }
  absl::StatusOr<std::shared_ptr<AresChannel>> channel =
      AresChannel::Create(std::move(executor), ares, mask);
  if (!channel.ok()) return channel.status();
  if (!servers.empty()) {
    int status = ares_set_servers_ports((*channel)->get(), servers.data());
    if (status != ARES_SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(
          "c-ares refused the nameservers: ", ares_strerror(status)));
    }
  }
  return std::unique_ptr<Resolver>(
      new Resolver(*std::move(channel), options.timeout));
}

Resolver::Resolver(std::shared_ptr<AresChannel> channel, absl::Duration timeout)
    : channel_(std::move(channel)), timeout_(timeout) {}

Resolver::~Resolver() { channel_->Shutdown(); }

const asio::any_io_executor& Resolver::executor() const {
  return channel_->executor();
}

PendingLookup Resolver::StartLookupA(std::string_view name) {
  auto state =
      std::make_shared<PendingLookup::State>(channel_->executor(), name);
  state->timer.expires_after(absl::ToChronoNanoseconds(timeout_));
  // c-ares calls OnQueryDone exactly once (at the latest from ares_destroy),
  // which frees this reference; possibly before ares_query returns.
  auto* reference = new std::shared_ptr<PendingLookup::State>(state);
  ares_query(channel_->get(), state->name.c_str(), ns_c_in, ns_t_a,
             &OnQueryDone, reference);
  channel_->ScheduleTimeout();
  return PendingLookup(std::move(state));
}

asio::awaitable<ALookupResult> Resolver::LookupA(std::string name) {
  PendingLookup lookup = StartLookupA(name);
  ALookupResult result = co_await lookup.Wait();
  co_return result;
}

asio::awaitable<ALookupResult> PendingLookup::Wait() const {
  return WaitFor(state_);
}

bool PendingLookup::done() const { return state_->result.has_value(); }

}  // namespace milter::manager::dns
