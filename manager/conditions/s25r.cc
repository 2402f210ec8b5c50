// The S25R classifier; see s25r.h.

#include "manager/conditions/s25r.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "manager/conditions/network_set.h"
#include "manager/conditions/text_util.h"
#include "re2/re2.h"
#include "re2/set.h"

namespace milter::manager::conditions {
namespace {

using internal::EqualsNoCase;
using internal::StripFinalDot;
using internal::Trim;

constexpr const char* kRules[] = {
    R"(^[^.]*[0-9][^0-9.]+[0-9].*\.)",
    R"(^[^.]*[0-9]{5})",
    R"(^([^.]+\.)?[0-9][^.]*\.[^.]+\..+\.[a-z])",
    R"(^[^.]*[0-9]\.[^.]*[0-9]-[0-9])",
    R"(^[^.]*[0-9]\.[^.]*[0-9]\.[^.]+\..+\.)",
    R"(^(dhcp|dialup|ppp|[achrsvx]?dsl)[^.]*[0-9])",
};

struct CompiledRules {
  std::vector<std::unique_ptr<const re2::RE2>> each;
  // All six in one automaton: one pass over the name finds every rule
  // that matches.
  std::unique_ptr<re2::RE2::Set> all;
};

// The rules, compiled once (never destroyed, as they may be used until
// the process ends).
const CompiledRules& Rules() {
  static const CompiledRules* rules = [] {
    re2::RE2::Options options;
    options.set_case_sensitive(false);
    auto* compiled = new CompiledRules;
    compiled->all =
        std::make_unique<re2::RE2::Set>(options, re2::RE2::UNANCHORED);
    bool added = true;
    for (const char* rule : kRules) {
      compiled->each.push_back(std::make_unique<const re2::RE2>(rule, options));
      added = added && compiled->all->Add(rule, nullptr) >= 0;
    }
    // Without the set, the rules are tried in turn.
    if (!added || !compiled->all->Compile()) compiled->all.reset();
    return compiled;
  }();
  return *rules;
}

// The default allow list as a NameList, built once.
const NameList& DefaultAllowNameList() {
  static const NameList* list = [] {
    absl::StatusOr<NameList> parsed =
        NameList::FromEntries(S25r::DefaultAllowList());
    // The entries are constants, checked by the tests.
    return new NameList(parsed.ok() ? *std::move(parsed) : NameList());
  }();
  return *list;
}

// `name` (trimmed, no final dot) is a name the client's address resolved
// to, not the MTA's stand-in for none.
bool IsResolved(std::string_view name) {
  return !name.empty() && !EqualsNoCase(name, "unknown") &&
         name.front() != '[' && !NetworkSet::ParseAddress(name).has_value();
}

std::string UnresolvedReason(std::string_view name,
                             const std::optional<IpAddress>& address) {
  if (address) {
    return absl::StrCat("unresolved client [", address->ToString(), "]");
  }
  if (!name.empty()) {
    return absl::StrCat("unresolved client '", std::string(name), "'");
  }
  return "unresolved client";
}

}  // namespace

const std::vector<std::string>& S25r::DefaultAllowList() {
  static const auto* list = new std::vector<std::string>{
      // Mail services and providers.
      ".google.com",
      ".outlook.com",
      ".protection.outlook.com",
      ".yahoo.com",
      ".yahoo.co.jp",
      ".apple.com",
      ".icloud.com",
      ".mail.ru",
      ".qq.com",
      ".163.com",
      ".gmx.net",
      ".web.de",
      ".naver.com",
      // Bulk and transactional senders.
      ".amazonses.com",
      ".sendgrid.net",
      ".mailgun.net",
      ".mcsv.net",
      ".rsgsv.net",
      ".mandrillapp.com",
      ".sparkpostmail.com",
      ".salesforce.com",
      ".exacttarget.com",
      // Social networks.
      ".facebook.com",
      ".linkedin.com",
      ".twitter.com",
  };
  return *list;
}

S25r::S25r() : S25r(Options()) {}

S25r::S25r(Options options) : options_(std::move(options)) {}

int S25r::MatchingRule(std::string_view host_name) {
  std::string_view name = StripFinalDot(Trim(host_name));
  re2::StringPiece subject(name.data(), name.size());
  const CompiledRules& rules = Rules();
  if (rules.all != nullptr) {
    std::vector<int> matched;
    re2::RE2::Set::ErrorInfo error;
    if (rules.all->Match(subject, &matched, &error)) {
      return *std::min_element(matched.begin(), matched.end()) + 1;
    }
    if (error.kind == re2::RE2::Set::kNoError) return 0;
    // Out of memory for the automaton: try the rules one by one.
  }
  for (size_t i = 0; i < rules.each.size(); ++i) {
    if (re2::RE2::PartialMatch(subject, *rules.each[i])) {
      return static_cast<int>(i) + 1;
    }
  }
  return 0;
}

S25r::Result S25r::Classify(std::string_view host_name,
                            std::string_view address) const {
  std::string_view name = StripFinalDot(Trim(host_name));
  bool resolved = IsResolved(name);
  std::optional<IpAddress> ip = NetworkSet::ParseAddress(address);
  if (!ip && !resolved) ip = NetworkSet::ParseAddress(name);
  if (resolved) {
    if (const ListEntry* entry = options_.allow_list.Find(name)) {
      return {false, absl::StrCat("allow list: ", entry->Describe())};
    }
    if (const ListEntry* entry = options_.deny_list.Find(name)) {
      return {true, absl::StrCat("deny list: ", entry->Describe())};
    }
    if (options_.use_default_allow_list) {
      if (const ListEntry* entry = DefaultAllowNameList().Find(name)) {
        return {false, absl::StrCat("default allow list: ", entry->Describe())};
      }
    }
  }
  if (ip && ip->family == IpAddress::Family::kIpv6 && !ip->IsIpv4Mapped() &&
      !options_.check_ipv6) {
    return {false, "IPv6 client not checked"};
  }
  if (!resolved) return {true, UnresolvedReason(name, ip)};
  if (int rule = MatchingRule(name); rule != 0) {
    return {true,
            absl::StrCat("rule ", rule, " matches '", std::string(name), "'")};
  }
  return {false, absl::StrCat("no rule matches '", std::string(name), "'")};
}

}  // namespace milter::manager::conditions
