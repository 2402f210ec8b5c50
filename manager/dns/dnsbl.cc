// DnsblChecker: the cache, the queries, and how answers become a result.
//
// The checker's state is shared with the checks in flight, so that a check
// can finish after the checker is gone. Check itself is not a coroutine: it
// consults the cache and sends the queries before returning, and hands the
// waiting to a coroutine that owns everything it uses.

#include "manager/dns/dnsbl.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "manager/dns/address.h"

namespace milter::manager::dns {

namespace {

absl::string_view View(std::string_view s) { return {s.data(), s.size()}; }

struct Zone {
  std::string name;
  std::vector<IPv4Range> expected;  // empty: any answer lists

  bool Lists(uint32_t answer) const {
    if (expected.empty()) return true;
    return std::any_of(expected.begin(), expected.end(),
                       [&](const IPv4Range& r) { return r.Contains(answer); });
  }
};

// What one zone said about one address.
struct ZoneAnswer {
  bool listed = false;
  std::string matched;  // the answer that lists the address
  std::string answers;  // all answers, comma-separated
};

struct CacheEntry {
  absl::Time expires;
  ZoneAnswer answer;
};

// One zone within one check.
struct Slot {
  size_t zone = 0;
  std::string name;                  // the query name
  std::optional<ZoneAnswer> answer;  // from the cache or the DNS
  std::optional<PendingLookup> lookup;
  absl::Status error;
};

absl::StatusOr<Zone> ParseZone(const DnsblZone& config) {
  std::string_view name = config.zone;
  if (!name.empty() && name.front() == '.') name.remove_prefix(1);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return absl::InvalidArgumentError("empty DNSBL zone");
  Zone zone;
  zone.name = absl::AsciiStrToLower(View(name));
  for (const std::string& text : config.expected) {
    absl::StatusOr<IPv4Range> range = ParseIPv4Range(text);
    if (!range.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "DNSBL zone ", zone.name, ": ", range.status().message()));
    }
    zone.expected.push_back(*range);
  }
  return zone;
}

asio::awaitable<DnsblResult> Ready(DnsblResult result) { co_return result; }

}  // namespace

struct internal::DnsblState {
  std::vector<Zone> zones;
  absl::Duration max_ttl;
  absl::Duration negative_ttl;
  size_t max_entries = 0;
  std::function<absl::Time()> clock;
  absl::flat_hash_map<std::string, CacheEntry> cache;
  absl::flat_hash_map<std::string, PendingLookup> in_flight;
  DnsblStats stats;

  absl::Time Now() const { return clock ? clock() : absl::Now(); }

  // The unexpired entry for `name`, or null (an expired one is dropped).
  const CacheEntry* Find(std::string_view name, absl::Time now);
  void Store(const std::string& name, const ZoneAnswer& answer,
             absl::Duration ttl);
  void Evict(absl::Time now);

  // Fills `slots` from the cache; returns the result if the cache decides
  // it (then `slots` may be partly filled).
  std::optional<DnsblResult> Scan(std::string_view address,
                                  std::vector<Slot>& slots);
  // Takes a finished lookup's result into `slot` and the cache.
  void Settle(Slot& slot, const ALookupResult& result);
  DnsblResult Combine(std::string_view address, const std::vector<Slot>& slots,
                      bool from_cache) const;
};

const CacheEntry* internal::DnsblState::Find(std::string_view name,
                                             absl::Time now) {
  auto it = cache.find(View(name));
  if (it == cache.end()) return nullptr;
  if (it->second.expires <= now) {
    cache.erase(it);
    return nullptr;
  }
  return &it->second;
}

void internal::DnsblState::Store(const std::string& name,
                                 const ZoneAnswer& answer, absl::Duration ttl) {
  if (ttl <= absl::ZeroDuration() || max_entries == 0) return;
  absl::Time now = Now();
  if (cache.size() >= max_entries && !cache.contains(name)) Evict(now);
  CacheEntry& entry = cache[name];
  entry.expires = now + ttl;
  entry.answer = answer;
}

void internal::DnsblState::Evict(absl::Time now) {
  absl::erase_if(cache,
                 [&](const auto& kv) { return kv.second.expires <= now; });
  if (cache.size() < max_entries) return;
  size_t keep = max_entries / 4 * 3;
  for (auto it = cache.begin(); it != cache.end() && cache.size() > keep;) {
    cache.erase(it++);
  }
}

std::optional<DnsblResult> internal::DnsblState::Scan(
    std::string_view address, std::vector<Slot>& slots) {
  std::string prefix;
  if (absl::Status status = AppendReversedAddress(address, prefix);
      !status.ok()) {
    DnsblResult result;
    result.error = status;
    result.reason = std::string(status.message());
    return result;
  }
  absl::Time now = Now();
  bool decided = true;
  slots.resize(zones.size());
  for (size_t i = 0; i < zones.size(); ++i) {
    Slot& slot = slots[i];
    slot.zone = i;
    slot.name = absl::StrCat(prefix, ".", zones[i].name);
    const CacheEntry* entry = Find(slot.name, now);
    if (entry == nullptr) {
      decided = false;
      continue;
    }
    slot.answer = entry->answer;
    if (entry->answer.listed) {
      slots.resize(i + 1);
      return Combine(address, slots, true);
    }
  }
  if (!decided) return std::nullopt;
  return Combine(address, slots, true);
}

void internal::DnsblState::Settle(Slot& slot, const ALookupResult& result) {
  auto it = in_flight.find(slot.name);
  if (it != in_flight.end() && it->second == *slot.lookup) in_flight.erase(it);
  if (!result.ok()) {
    slot.error = result.status();
    return;
  }
  const Zone& zone = zones[slot.zone];
  ZoneAnswer answer;
  absl::Duration ttl = result->empty() ? negative_ttl : max_ttl;
  for (const ARecord& record : *result) {
    ttl = std::min(ttl, record.ttl);
    std::string text = FormatIPv4(record.ipv4);
    if (!answer.listed && zone.Lists(record.ipv4)) {
      answer.listed = true;
      answer.matched = text;
    }
    absl::StrAppend(&answer.answers, answer.answers.empty() ? "" : ",", text);
  }
  Store(slot.name, answer, ttl);
  slot.answer = std::move(answer);
}

DnsblResult internal::DnsblState::Combine(std::string_view address,
                                          const std::vector<Slot>& slots,
                                          bool from_cache) const {
  DnsblResult result;
  result.from_cache = from_cache;
  std::string unexpected;  // zones whose answers list nothing
  for (const Slot& slot : slots) {
    const std::string& zone = zones[slot.zone].name;
    if (!slot.error.ok()) {
      if (absl::IsDeadlineExceeded(slot.error)) result.timed_out = true;
      if (result.error.ok()) {
        result.error = slot.error;
        if (!result.listed) result.zone = zone;
      }
      continue;
    }
    if (!slot.answer) continue;
    if (slot.answer->listed && !result.listed) {
      result.listed = true;
      result.zone = zone;
      result.answer = slot.answer->matched;
    } else if (!slot.answer->listed && !slot.answer->answers.empty()) {
      absl::StrAppend(&unexpected, "; ", zone, " answered ",
                      slot.answer->answers, ", not an expected answer");
    }
  }
  if (result.listed) {
    result.reason = absl::StrCat(View(address), " is listed by ", result.zone,
                                 " (", result.answer, ")");
  } else if (!result.error.ok()) {
    result.reason = absl::StrCat("could not check ", View(address), " with ",
                                 result.zone, ": ", result.error.message());
  } else {
    result.reason = absl::StrCat(View(address), " is not listed", unexpected);
  }
  return result;
}

namespace {

asio::awaitable<DnsblResult> Finish(std::shared_ptr<internal::DnsblState> state,
                                    std::string address,
                                    std::vector<Slot> slots) {
  for (Slot& slot : slots) {
    if (!slot.lookup) continue;
    ALookupResult result = co_await slot.lookup->Wait();
    state->Settle(slot, result);
  }
  DnsblResult result = state->Combine(address, slots, false);
  co_return result;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DnsblChecker>> DnsblChecker::Create(
    DnsblOptions options, Resolver* resolver) {
  if (resolver == nullptr) {
    return absl::InvalidArgumentError("a DNSBL checker needs a resolver");
  }
  if (options.zones.empty()) {
    return absl::InvalidArgumentError("no DNSBL zones");
  }
  if (options.max_ttl < absl::ZeroDuration() ||
      options.negative_ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("DNSBL cache TTLs must not be negative");
  }
  auto state = std::make_shared<internal::DnsblState>();
  absl::flat_hash_set<std::string> seen;
  for (const DnsblZone& config : options.zones) {
    absl::StatusOr<Zone> zone = ParseZone(config);
    if (!zone.ok()) return zone.status();
    if (!seen.insert(zone->name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("DNSBL zone ", zone->name, " given twice"));
    }
    state->zones.push_back(*std::move(zone));
  }
  state->max_ttl = options.max_ttl;
  state->negative_ttl = options.negative_ttl;
  state->max_entries = options.max_cache_entries;
  state->clock = std::move(options.now);
  return std::unique_ptr<DnsblChecker>(
      new DnsblChecker(std::move(state), resolver));
}

DnsblChecker::DnsblChecker(std::shared_ptr<internal::DnsblState> state,
                           Resolver* resolver)
    : state_(std::move(state)), resolver_(resolver) {}

DnsblChecker::~DnsblChecker() = default;

asio::awaitable<DnsblResult> DnsblChecker::Check(
    std::string_view client_address) {
  ++state_->stats.checks;
  std::vector<Slot> slots;
  std::optional<DnsblResult> decided = state_->Scan(client_address, slots);
  if (decided) {
    if (decided->from_cache) ++state_->stats.cache_hits;
    return Ready(*std::move(decided));
  }
  for (Slot& slot : slots) {
    if (slot.answer) continue;
    auto it = state_->in_flight.find(slot.name);
    if (it != state_->in_flight.end()) {
      ++state_->stats.joined;
      slot.lookup = it->second;
      continue;
    }
    ++state_->stats.queries;
    slot.lookup = resolver_->StartLookupA(slot.name);
    state_->in_flight.emplace(slot.name, *slot.lookup);
  }
  return Finish(state_, std::string(client_address), std::move(slots));
}

std::optional<DnsblResult> DnsblChecker::CachedResult(
    std::string_view client_address) {
  std::vector<Slot> slots;
  std::optional<DnsblResult> decided = state_->Scan(client_address, slots);
  if (decided && !decided->from_cache) return std::nullopt;  // a bad address
  return decided;
}

const DnsblStats& DnsblChecker::stats() const { return state_->stats; }

size_t DnsblChecker::cache_size() const { return state_->cache.size(); }

}  // namespace milter::manager::dns
