// The built-in conditions on names, networks and DNS.

#include "manager/conditions/builtin.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "manager/conditions/basic.h"
#include "manager/conditions/dnsbl_condition.h"
#include "manager/conditions/name_list.h"
#include "manager/conditions/network_set.h"
#include "manager/conditions/s25r.h"

namespace milter::manager::conditions {
namespace {

// Entries from the configuration and from list files into `list`.
template <typename List>
absl::StatusOr<List> LoadList(
    const google::protobuf::RepeatedPtrField<std::string>& entries,
    const google::protobuf::RepeatedPtrField<std::string>& files,
    const char* field) {
  List list;
  for (const std::string& e : entries) {
    if (absl::Status s = list.Add(e); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", s.message()));
    }
  }
  for (const std::string& f : files) {
    if (absl::Status s = list.AddFile(f); !s.ok()) return s;
  }
  return list;
}

// The domain of "<user@Example.COM>" in lower case; "" if none.
std::string DomainOf(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string_view d = address.substr(at + 1);
  while (!d.empty() && (d.back() == '>' || d.back() == ' ')) d.remove_suffix(1);
  return absl::AsciiStrToLower(absl::string_view(d.data(), d.size()));
}

class S25rCondition : public Condition {
 public:
  S25rCondition(std::string name, S25r s25r)
      : Condition(std::move(name)), s25r_(std::move(s25r)) {}
  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override {
    if (stage != config::CONNECT) co_return Decision::Undecided();
    S25r::Result r = s25r_.Classify(facts.client_host, facts.client_address);
    if (r.suspicious) co_return Decision::Holds(r.reason);
    co_return Decision::Fails(r.reason);
  }

 private:
  S25r s25r_;
};

class RemoteNetworkCondition : public Condition {
 public:
  RemoteNetworkCondition(std::string name, NetworkSet local, bool for_local)
      : Condition(std::move(name)),
        local_(std::move(local)),
        for_local_(for_local) {}
  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override {
    if (stage != config::CONNECT) co_return Decision::Undecided();
    // A client without an IP address (a unix socket) is local.
    bool local =
        facts.client_address.empty() || local_.Contains(facts.client_address);
    std::string reason =
        absl::StrCat("client [", std::string(facts.client_address), "] is ",
                     local ? "local" : "remote");
    if (local == for_local_) co_return Decision::Holds(reason);
    co_return Decision::Fails(reason);
  }

 private:
  NetworkSet local_;
  bool for_local_;
};

class TrustedSenderDomainsCondition : public Condition {
 public:
  TrustedSenderDomainsCondition(std::string name, NameList domains)
      : Condition(std::move(name)), domains_(std::move(domains)) {}
  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override {
    if (EnvelopeOrder(stage) < EnvelopeOrder(config::ENVELOPE_FROM)) {
      co_return Decision::Undecided();
    }
    std::string domain = DomainOf(facts.envelope_from);
    const ListEntry* e = domain.empty() ? nullptr : domains_.Find(domain);
    if (e != nullptr) {
      co_return Decision::Fails(absl::StrCat("sender domain ", domain,
                                             " is trusted: ", e->Describe()));
    }
    co_return Decision::Holds(absl::StrCat(
        "sender domain ", domain.empty() ? "(none)" : domain, " not trusted"));
  }

 private:
  NameList domains_;
};

class RestrictAccountsCondition : public Condition {
 public:
  RestrictAccountsCondition(std::string name, AddressList accounts)
      : Condition(std::move(name)), accounts_(std::move(accounts)) {}
  bool per_recipient() const override { return true; }
  asio::awaitable<Decision> Evaluate(Stage stage,
                                     const Facts& facts) const override {
    int order = EnvelopeOrder(stage);
    if (order < EnvelopeOrder(config::ENVELOPE_RECIPIENT)) {
      co_return Decision::Undecided();
    }
    if (stage == config::ENVELOPE_RECIPIENT) {
      const ListEntry* e = accounts_.Find(facts.recipient);
      if (e != nullptr) {
        co_return Decision::Holds(absl::StrCat(std::string(facts.recipient),
                                               " matches ", e->Describe()));
      }
      co_return Decision::Fails(
          absl::StrCat(std::string(facts.recipient), " is not listed"));
    }
    // After the recipients: the child keeps the message if one matched.
    if (facts.recipients != nullptr) {
      for (const std::string& r : *facts.recipients) {
        if (const ListEntry* e = accounts_.Find(r)) {
          co_return Decision::Holds(
              absl::StrCat(r, " matches ", e->Describe()));
        }
      }
    }
    co_return Decision::Fails("no recipient is listed");
  }

 private:
  AddressList accounts_;
};

absl::StatusOr<std::unique_ptr<Condition>> BuildS25r(
    const std::string& name, const config::S25rCondition& c) {
  S25r::Options o;
  absl::StatusOr<NameList> allow =
      LoadList<NameList>(c.allow(), c.allow_file(), "allow");
  if (!allow.ok()) return allow.status();
  absl::StatusOr<NameList> deny =
      LoadList<NameList>(c.deny(), c.deny_file(), "deny");
  if (!deny.ok()) return deny.status();
  o.allow_list = *std::move(allow);
  o.deny_list = *std::move(deny);
  o.check_ipv6 = c.check_ipv6();
  o.use_default_allow_list = c.default_allow_list();
  return std::make_unique<S25rCondition>(name, S25r(std::move(o)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Condition>> BuildBuiltin(
    const config::ApplicableCondition& c) {
  switch (c.kind_case()) {
    case config::ApplicableCondition::kS25R:
      return BuildS25r(c.name(), c.s25r());
    case config::ApplicableCondition::kRemoteNetwork: {
      const auto& r = c.remote_network();
      NetworkSet local = NetworkSet::PrivateDefault();
      if (r.local_network_size() > 0) {
        absl::StatusOr<NetworkSet> parsed = NetworkSet::Parse(
            {r.local_network().begin(), r.local_network().end()});
        if (!parsed.ok()) return parsed.status();
        local = *std::move(parsed);
      }
      return std::make_unique<RemoteNetworkCondition>(
          c.name(), std::move(local), r.local());
    }
    case config::ApplicableCondition::kTrustedSenderDomains: {
      absl::StatusOr<NameList> domains =
          LoadList<NameList>(c.trusted_sender_domains().domain(),
                             c.trusted_sender_domains().file(), "domain");
      if (!domains.ok()) return domains.status();
      return std::make_unique<TrustedSenderDomainsCondition>(
          c.name(), *std::move(domains));
    }
    case config::ApplicableCondition::kRestrictAccounts: {
      absl::StatusOr<AddressList> accounts =
          LoadList<AddressList>(c.restrict_accounts().account(),
                                c.restrict_accounts().file(), "account");
      if (!accounts.ok()) return accounts.status();
      return std::make_unique<RestrictAccountsCondition>(c.name(),
                                                         *std::move(accounts));
    }
    case config::ApplicableCondition::kDnsbl:
      return BuildDnsbl(c.name(), c.dnsbl());
    default:
      return absl::InvalidArgumentError("unknown kind of condition");
  }
}

}  // namespace milter::manager::conditions
