// The shared allow and deny lists.

#include "manager/conditions/access_lists.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "manager/conditions/name_list.h"
#include "manager/conditions/network_set.h"

namespace milter::manager::conditions {

struct AccessLists::Lists {
  NetworkSet networks;
  std::vector<std::string> network_entries;  // for the log
  NameList hosts, helos;
  AddressList senders, recipients;
};

namespace {

using Field = google::protobuf::RepeatedPtrField<std::string>;

template <typename List>
absl::Status Fill(List* list, const Field& entries, const Field& files,
                  const char* what) {
  for (const std::string& e : entries) {
    if (absl::Status s = list->Add(e); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
    }
  }
  for (const std::string& f : files) {
    if (absl::Status s = list->AddFile(f); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Networks from the configuration and from files (one per line, '#'
// comments), as NetworkSet takes them.
absl::Status FillNetworks(const Field& entries, const Field& files,
                          std::vector<std::string>* out) {
  out->assign(entries.begin(), entries.end());
  for (const std::string& f : files) {
    absl::StatusOr<std::string> text = internal::ReadListFile(f);
    if (!text.ok()) return text.status();
    int line = 0;
    for (absl::string_view l : absl::StrSplit(*text, '\n')) {
      ++line;
      size_t hash = l.find('#');
      if (hash != absl::string_view::npos) l = l.substr(0, hash);
      l = absl::StripAsciiWhitespace(l);
      if (l.empty()) continue;
      absl::StatusOr<NetworkSet> one = NetworkSet::Parse({std::string(l)});
      if (!one.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(f, ":", line, ": ", one.status().message()));
      }
      out->push_back(std::string(l));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AccessLists::Lists>> Build(
    const config::AccessList& c, const char* which) {
  auto lists = std::make_unique<AccessLists::Lists>();
  std::string at = absl::StrCat("access ", which, " ");
  absl::Status s = FillNetworks(c.client_address(), c.client_address_file(),
                                &lists->network_entries);
  if (s.ok()) {
    absl::StatusOr<NetworkSet> n = NetworkSet::Parse(lists->network_entries);
    if (n.ok()) {
      lists->networks = *std::move(n);
    } else {
      s = n.status();
    }
  }
  if (s.ok()) {
    s = Fill(&lists->hosts, c.client_host(), c.client_host_file(),
             "client_host");
  }
  if (s.ok()) s = Fill(&lists->helos, c.helo(), c.helo_file(), "helo");
  if (s.ok()) s = Fill(&lists->senders, c.sender(), c.sender_file(), "sender");
  if (s.ok()) {
    s = Fill(&lists->recipients, c.recipient(), c.recipient_file(),
             "recipient");
  }
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(at, s.message()));
  }
  return lists;
}

}  // namespace

AccessLists::AccessLists() = default;
AccessLists::~AccessLists() = default;

absl::StatusOr<std::shared_ptr<const AccessLists>> AccessLists::Build(
    const config::AccessLists& config) {
  std::shared_ptr<AccessLists> a(new AccessLists());
  absl::StatusOr<std::unique_ptr<Lists>> allow =
      conditions::Build(config.allow(), "allow");
  if (!allow.ok()) return allow.status();
  absl::StatusOr<std::unique_ptr<Lists>> deny =
      conditions::Build(config.deny(), "deny");
  if (!deny.ok()) return deny.status();
  a->allow_ = *std::move(allow);
  a->deny_ = *std::move(deny);
  a->deny_reply_ = config.deny_reply();
  return std::shared_ptr<const AccessLists>(std::move(a));
}

namespace {

using Match = AccessLists::Match;

Match Found(Match::Kind kind, const char* what, const ListEntry* e) {
  if (e == nullptr) return {};
  return {kind, absl::StrCat(what, " ", e->Describe())};
}

}  // namespace

Match AccessLists::CheckClient(std::string_view address,
                               std::string_view host) const {
  for (auto [lists, kind] : {std::pair{allow_.get(), Match::kAllow},
                             std::pair{deny_.get(), Match::kDeny}}) {
    const char* name = kind == Match::kAllow ? "allow" : "deny";
    if (!address.empty() && lists->networks.Contains(address)) {
      return {kind, absl::StrCat(name, " client_address [",
                                 std::string(address), "]")};
    }
    Match m = Found(
        kind, kind == Match::kAllow ? "allow client_host" : "deny client_host",
        lists->hosts.Find(host));
    if (m.kind != Match::kNone) return m;
  }
  return {};
}

Match AccessLists::CheckHelo(std::string_view helo) const {
  Match m = Found(Match::kAllow, "allow helo", allow_->helos.Find(helo));
  if (m.kind != Match::kNone) return m;
  return Found(Match::kDeny, "deny helo", deny_->helos.Find(helo));
}

Match AccessLists::CheckSender(std::string_view address) const {
  Match m = Found(Match::kAllow, "allow sender", allow_->senders.Find(address));
  if (m.kind != Match::kNone) return m;
  return Found(Match::kDeny, "deny sender", deny_->senders.Find(address));
}

Match AccessLists::CheckRecipient(std::string_view address) const {
  Match m =
      Found(Match::kAllow, "allow recipient", allow_->recipients.Find(address));
  if (m.kind != Match::kNone) return m;
  return Found(Match::kDeny, "deny recipient", deny_->recipients.Find(address));
}

}  // namespace milter::manager::conditions
