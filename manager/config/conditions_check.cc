// Applicable conditions and access lists: defaults and structural checks.

#include "manager/config/conditions_check.h"

#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace milter::manager::config_internal {
namespace {

using config::ApplicableCondition;
using config::ManagerConfig;

constexpr char kDefaultDenyReply[] = "550 5.7.1 Access denied";

void FillDefaults(ApplicableCondition* c) {
  if (!c->has_description()) c->set_description("");
  switch (c->kind_case()) {
    case ApplicableCondition::kS25R: {
      auto* s = c->mutable_s25r();
      if (!s->has_default_allow_list()) s->set_default_allow_list(true);
      if (!s->has_check_ipv6()) s->set_check_ipv6(false);
      break;
    }
    case ApplicableCondition::kRemoteNetwork:
      if (!c->remote_network().has_local()) {
        c->mutable_remote_network()->set_local(false);
      }
      break;
    case ApplicableCondition::kAuthentication:
      if (!c->authentication().has_authenticated()) {
        c->mutable_authentication()->set_authenticated(false);
      }
      break;
    case ApplicableCondition::kDnsbl: {
      auto* d = c->mutable_dnsbl();
      if (!(d->timeout() > 0)) d->set_timeout(2);
      if (!(d->cache_ttl() > 0)) d->set_cache_ttl(3600);
      if (!(d->negative_cache_ttl() > 0)) d->set_negative_cache_ttl(300);
      if (!d->has_holds_on_error()) d->set_holds_on_error(false);
      break;
    }
    case ApplicableCondition::kScript: {
      auto* s = c->mutable_script();
      if (s->time_limit() == 0) s->set_time_limit(0.1);
      if (!s->has_holds_on_error()) s->set_holds_on_error(true);
      break;
    }
    default:
      break;
  }
}

bool IsEnvelopeStage(config::Stage s) {
  return s == config::CONNECT || s == config::HELO ||
         s == config::ENVELOPE_FROM || s == config::ENVELOPE_RECIPIENT ||
         s == config::DATA || s == config::UNKNOWN;
}

// The condition names `c` refers to (not, any_of, all_of).
std::vector<std::string> References(const ApplicableCondition& c) {
  switch (c.kind_case()) {
    case ApplicableCondition::kNot:
      return {c.not_()};
    case ApplicableCondition::kAnyOf:
      return {c.any_of().name().begin(), c.any_of().name().end()};
    case ApplicableCondition::kAllOf:
      return {c.all_of().name().begin(), c.all_of().name().end()};
    default:
      return {};
  }
}

// Parameters that must be given, by kind.
absl::Status CheckParameters(const ApplicableCondition& c,
                             const std::string& where, const std::string& who) {
  switch (c.kind_case()) {
    case ApplicableCondition::KIND_NOT_SET:
      return Invalid(where, absl::StrCat(who,
                                         "says nothing to check (give "
                                         "one of s25r, remote_network, "
                                         "authentication, ...)"));
    case ApplicableCondition::kDnsbl:
      if (c.dnsbl().zone_size() == 0) {
        return Invalid(where, absl::StrCat(who, "dnsbl needs a zone"));
      }
      for (const auto& z : c.dnsbl().zone()) {
        if (z.zone().empty()) {
          return Invalid(where, absl::StrCat(who, "dnsbl zone without name"));
        }
      }
      if (!std::isfinite(c.dnsbl().timeout()) || c.dnsbl().timeout() > 60) {
        return Invalid(where, absl::StrCat(who,
                                           "dnsbl timeout must be "
                                           "between 0 and 60 seconds"));
      }
      return absl::OkStatus();
    case ApplicableCondition::kStress:
      if (c.stress().max_sessions() == 0) {
        return Invalid(where, absl::StrCat(who, "stress needs max_sessions"));
      }
      return absl::OkStatus();
    case ApplicableCondition::kMessageSize:
      if (c.message_size().max_bytes() == 0) {
        return Invalid(where,
                       absl::StrCat(who, "message_size needs max_bytes"));
      }
      return absl::OkStatus();
    case ApplicableCondition::kScript:
      if (c.script().file().empty()) {
        return Invalid(where, absl::StrCat(who, "script needs a file"));
      }
      if (!std::isfinite(c.script().time_limit()) ||
          c.script().time_limit() <= 0 || c.script().time_limit() > 60) {
        return Invalid(where, absl::StrCat(who,
                                           "script time_limit must be "
                                           "between 0 and 60 seconds"));
      }
      return absl::OkStatus();
    case ApplicableCondition::kAnyOf:
    case ApplicableCondition::kAllOf:
      if (References(c).empty()) {
        return Invalid(where, absl::StrCat(who, "names no condition"));
      }
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

// Depth-first search for a cycle through references; `state`: 0 unseen,
// 1 on the path, 2 done.
bool HasCycle(const std::string& name,
              const absl::flat_hash_map<std::string, int>& index,
              const ManagerConfig& c,
              absl::flat_hash_map<std::string, int>* state) {
  int& s = (*state)[name];
  if (s == 1) return true;
  if (s == 2) return false;
  s = 1;
  for (const std::string& r :
       References(c.applicable_condition(index.at(name)))) {
    if (index.contains(r) && HasCycle(r, index, c, state)) return true;
  }
  (*state)[name] = 2;
  return false;
}

absl::Status CheckChildResult(
    const ApplicableCondition& cond, const std::string& where,
    const std::string& who,
    const absl::flat_hash_map<std::string, int>& children) {
  const auto& r = cond.child_result();
  if (!children.contains(r.child())) {
    return Invalid(where, absl::StrCat(who, "child_result: no child named \"",
                                       r.child(), "\""));
  }
  if (!IsEnvelopeStage(r.stage())) {
    return Invalid(where, absl::StrCat(who,
                                       "child_result: stage must be one "
                                       "of CONNECT, HELO, ENVELOPE_FROM, "
                                       "ENVELOPE_RECIPIENT, DATA, "
                                       "UNKNOWN"));
  }
  if (r.verdict_size() == 0) {
    return Invalid(where, absl::StrCat(who, "child_result needs a verdict"));
  }
  return absl::OkStatus();
}

// The children that `name` (a condition) depends on through child_result.
void ChildDependencies(const std::string& name,
                       const absl::flat_hash_map<std::string, int>& index,
                       const ManagerConfig& c, std::vector<std::string>* out,
                       int depth = 0) {
  if (depth > 64 || !index.contains(name)) return;
  const ApplicableCondition& cond = c.applicable_condition(index.at(name));
  if (cond.has_child_result()) out->push_back(cond.child_result().child());
  for (const std::string& r : References(cond)) {
    ChildDependencies(r, index, c, out, depth + 1);
  }
}

absl::Status CheckAccess(const ManagerConfig& c, const Locator& at) {
  const std::string& reply = c.access().deny_reply();
  bool code_ok = reply.size() >= 3 && (reply[0] == '4' || reply[0] == '5') &&
                 std::isdigit(static_cast<unsigned char>(reply[1])) &&
                 std::isdigit(static_cast<unsigned char>(reply[2])) &&
                 (reply.size() == 3 || reply[3] == ' ' || reply[3] == '-');
  if (!code_ok) {
    return Invalid(at.WhereIn("access", "deny_reply"),
                   "access: deny_reply must start with a 4xx or 5xx code, "
                   "e.g. \"550 5.7.1 Access denied\"");
  }
  return absl::OkStatus();
}

}  // namespace

void FillConditionDefaults(ManagerConfig* c) {
  for (ApplicableCondition& cond : *c->mutable_applicable_condition()) {
    FillDefaults(&cond);
  }
  if (c->has_access() && !c->access().has_deny_reply()) {
    c->mutable_access()->set_deny_reply(kDefaultDenyReply);
  }
}

absl::Status CheckConditions(const ManagerConfig& c, const Locator& at) {
  absl::flat_hash_map<std::string, int> index;
  for (int i = 0; i < c.applicable_condition_size(); ++i) {
    const ApplicableCondition& cond = c.applicable_condition(i);
    std::string where = at.Where("applicable_condition", i, "name");
    if (!ValidName(cond.name())) {
      return Invalid(where, absl::StrCat("applicable_condition ", i + 1,
                                         ": name must be 1 to 64 letters, "
                                         "digits, '-', '_' or '.'"));
    }
    if (!index.emplace(cond.name(), i).second) {
      return Invalid(where, absl::StrCat("applicable_condition \"", cond.name(),
                                         "\": name used twice"));
    }
  }
  absl::flat_hash_map<std::string, int> children;
  for (int i = 0; i < c.child_size(); ++i) children[c.child(i).name()] = i;
  for (int i = 0; i < c.applicable_condition_size(); ++i) {
    const ApplicableCondition& cond = c.applicable_condition(i);
    std::string who =
        absl::StrCat("applicable_condition \"", cond.name(), "\": ");
    std::string where = at.Where("applicable_condition", i, nullptr);
    if (absl::Status s = CheckParameters(cond, where, who); !s.ok()) return s;
    for (const std::string& r : References(cond)) {
      if (!index.contains(r)) {
        return Invalid(where,
                       absl::StrCat(who, "no condition named \"", r, "\""));
      }
    }
    if (cond.has_child_result()) {
      absl::Status s = CheckChildResult(cond, where, who, children);
      if (!s.ok()) return s;
    }
    absl::flat_hash_map<std::string, int> state;
    if (HasCycle(cond.name(), index, c, &state)) {
      return Invalid(where, absl::StrCat(who,
                                         "refers to itself through "
                                         "not, any_of or all_of"));
    }
  }
  for (int i = 0; i < c.child_size(); ++i) {
    const config::ChildConfig& child = c.child(i);
    std::string where = at.Where("child", i, "applicable_conditions");
    std::string who = absl::StrCat("child \"", child.name(), "\": ");
    for (const std::string& name : child.applicable_conditions()) {
      if (!index.contains(name)) {
        return Invalid(
            where,
            absl::StrCat(who, "no applicable_condition named \"", name, "\""));
      }
      std::vector<std::string> deps;
      ChildDependencies(name, index, c, &deps);
      for (const std::string& d : deps) {
        if (children.at(d) >= i) {
          return Invalid(where, absl::StrCat(who, "condition \"", name,
                                             "\" depends on child \"", d,
                                             "\", which must be listed before "
                                             "it"));
        }
      }
    }
  }
  if (c.has_access()) return CheckAccess(c, at);
  return absl::OkStatus();
}

}  // namespace milter::manager::config_internal
