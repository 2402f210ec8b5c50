// S25R (Selective SMTP Rejection): whether an SMTP client looks like an
// end-user host (a dynamic or residential address, where spam bots live)
// rather than a mail server, judged from its reverse-resolved host name.
//
// The six published rules, each a case-insensitive RE2 regex searched from
// the start of the host name (without a final dot):
//   1  ^[^.]*[0-9][^0-9.]+[0-9].*\.
//      a digit, non-digits and a digit in the lowest label, in a name of
//      two or more labels
//   2  ^[^.]*[0-9]{5}
//      five digits in a row in the lowest label
//   3  ^([^.]+\.)?[0-9][^.]*\.[^.]+\..+\.[a-z]
//      the lowest or second-lowest label starts with a digit and three or
//      more labels follow it, the third or a later one starting with a
//      letter
//   4  ^[^.]*[0-9]\.[^.]*[0-9]-[0-9]
//      the lowest label ends with a digit, the next has digit-dash-digit
//   5  ^[^.]*[0-9]\.[^.]*[0-9]\.[^.]+\..+\.
//      the two lowest labels end with a digit, in five or more labels
//   6  ^(dhcp|dialup|ppp|[achrsvx]?dsl)[^.]*[0-9]
//      the name starts with dhcp, dialup, ppp or (a|c|h|r|s|v|x)dsl and its
//      lowest label has a digit
//
// Classify() decides, in this order:
//   - a name on the allow list is not suspicious;
//   - a name on the deny list is suspicious;
//   - a name on the default allow list (large senders whose outbound hosts
//     have dynamic-looking names; see DefaultAllowList()) is not
//     suspicious, unless that list is turned off;
//   - an IPv6 client is not suspicious unless check_ipv6 is set (S25R was
//     designed on IPv4 reverse names);
//   - an unresolved client (no name, "unknown", or the MTA's "[192.0.2.1]"
//     form) is suspicious;
//   - otherwise the client is suspicious when a rule matches its name.
// The lists only apply to resolved names. The client is IPv6 when its
// address is (an IPv4-mapped IPv6 address counts as IPv4); without an
// address, when its "[IPv6:...]" name says so.
//
// Pure and I/O-free. An S25r does not change after construction; Classify
// may be called from any number of threads at once.

#ifndef MANAGER_CONDITIONS_S25R_H_
#define MANAGER_CONDITIONS_S25R_H_

#include <string>
#include <string_view>
#include <vector>

#include "manager/conditions/name_list.h"

namespace milter::manager::conditions {

class S25r {
 public:
  struct Options {
    NameList allow_list;  // names never suspicious
    NameList deny_list;   // names always suspicious
    bool check_ipv6 = false;
    bool use_default_allow_list = true;
  };

  struct Result {
    bool suspicious = false;
    // Why, for the log: "rule 2 matches 'p1234567-ipngn.example.ne.jp'",
    // "unresolved client [192.0.2.1]", "allow list: '.example.com'",
    // "default allow list: '.google.com'", "IPv6 client not checked",
    // "no rule matches 'mail.example.com'".
    std::string reason;
  };

  // Default options.
  S25r();
  explicit S25r(Options options);

  // `host_name`: the client's name as the MTA gives it (Postfix: "unknown"
  // when unresolved; Sendmail: "[192.0.2.1]"). `address`: its address
  // ("192.0.2.1", "IPv6:2001:db8::1", ...; may be empty).
  Result Classify(std::string_view host_name, std::string_view address) const;

  // The rule (1 to 6) of the lowest number that matches `host_name`, or 0.
  static int MatchingRule(std::string_view host_name);

  // The entries of the default allow list (all ".domain" entries).
  static const std::vector<std::string>& DefaultAllowList();

 private:
  Options options_;
  NameList default_allow_list_;
};

}  // namespace milter::manager::conditions

#endif  // MANAGER_CONDITIONS_S25R_H_
