#include "manager/conditions/s25r.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "manager/conditions/name_list.h"

namespace milter::manager::conditions {
namespace {

NameList Names(const std::vector<std::string>& entries) {
  absl::StatusOr<NameList> list = NameList::FromEntries(entries);
  EXPECT_TRUE(list.ok()) << list.status();
  return list.ok() ? *std::move(list) : NameList();
}

// What the published rules say about typical names: the lowest-numbered
// rule that matches, or 0.
TEST(S25rRulesTest, PublishedRules) {
  struct Case {
    const char* name;
    int rule;
  };
  const Case cases[] = {
      // Rule 1: digit, non-digits, digit in the lowest label.
      {"p1139-ipad02kochi.kochi.ocn.ne.jp", 1},
      {"ab1cd2.example", 1},
      {"host-1-2.example.com.", 1},
      {"adsl-1-2-3.example.com", 1},  // rule 6 matches too
      {"mail-yw1-f170.google.com", 1},
      {"a8-30.smtp-out.amazonses.com", 1},
      {"ab1cd2", 0},  // rule 1 wants a dot after the label
      // Rule 2: five digits in a row in the lowest label.
      {"p1234567-ipngn.example.ne.jp", 2},
      {"host12345.example.com", 2},
      {"host1234.example.com", 0},
      // Rule 3: lowest or second-lowest label starts with a digit, and
      // three or more labels follow it.
      {"12.34.56.78.dynamic.example.net", 3},
      {"123.dsl.example.com", 3},
      {"host.123.dsl.example.com", 3},
      {"123.example.com", 0},  // only two labels after the digit one
      // Rule 4: lowest label ends with a digit, next has digit-dash-digit.
      {"c1.12-34-56.example.net", 4},
      // Rule 5: two lowest labels end with a digit, five or more labels.
      {"a1.b2.example.ne.jp", 5},
      {"mx1.mail2.example.co.jp", 5},  // a server name the rule catches
      {"mx1.mail2.example.com", 0},    // four labels: too few for rule 5
      // Rule 6: dhcp, dialup, ppp, [achrsvx]?dsl, then a digit.
      {"dhcp-123.example.com", 6},
      {"DHCP-123.Example.COM", 6},
      {"ppp12.example.com", 6},
      {"dialup9.example.net", 6},
      {"xdsl7.example.net", 6},
      {"dhcp.example.com", 0},
      // Names of mail servers.
      {"mail.example.com", 0},
      {"smtp.example.co.jp", 0},
      {"mx1.example.com", 0},
      // A dynamic-looking name none of the rules catches: no digit after
      // "adsl" (rule 1), four digits only (rule 2), the lowest label does
      // not start with dhcp/dialup/ppp/dsl (rule 6).
      {"p1139-adsl.example.ne.jp", 0},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(S25r::MatchingRule(c.name), c.rule) << c.name;
  }
}

TEST(S25rTest, SuspiciousByRule) {
  S25r s25r;
  S25r::Result result =
      s25r.Classify("p1234567-ipngn.example.ne.jp", "192.0.2.1");
  EXPECT_TRUE(result.suspicious);
  EXPECT_EQ(result.reason, "rule 2 matches 'p1234567-ipngn.example.ne.jp'");
  result = s25r.Classify(" dhcp-123.example.com. ", "192.0.2.1");
  EXPECT_TRUE(result.suspicious);
  EXPECT_EQ(result.reason, "rule 6 matches 'dhcp-123.example.com'");
  result = s25r.Classify("12.34.56.78.dynamic.example.net", "");
  EXPECT_TRUE(result.suspicious);
  EXPECT_EQ(result.reason, "rule 3 matches '12.34.56.78.dynamic.example.net'");
}

TEST(S25rTest, Legitimate) {
  S25r s25r;
  for (const char* name :
       {"mail.example.com", "smtp.example.co.jp", "mx1.example.com"}) {
    S25r::Result result = s25r.Classify(name, "192.0.2.1");
    EXPECT_FALSE(result.suspicious) << name;
    EXPECT_EQ(result.reason, std::string("no rule matches '") + name + "'");
  }
}

TEST(S25rTest, UnresolvedClients) {
  S25r s25r;
  struct Case {
    const char* name;
    const char* address;
    const char* reason;
  };
  const Case cases[] = {
      {"[203.0.113.5]", "203.0.113.5", "unresolved client [203.0.113.5]"},
      {"[203.0.113.5]", "", "unresolved client [203.0.113.5]"},
      {"unknown", "203.0.113.5", "unresolved client [203.0.113.5]"},
      {"UNKNOWN", "[203.0.113.5]", "unresolved client [203.0.113.5]"},
      {"", "203.0.113.5", "unresolved client [203.0.113.5]"},
      {"203.0.113.5", "", "unresolved client [203.0.113.5]"},
      {"", "::ffff:203.0.113.5", "unresolved client [::ffff:203.0.113.5]"},
      {"unknown", "", "unresolved client 'unknown'"},
      {"", "", "unresolved client"},
  };
  for (const Case& c : cases) {
    S25r::Result result = s25r.Classify(c.name, c.address);
    EXPECT_TRUE(result.suspicious) << c.name << " " << c.address;
    EXPECT_EQ(result.reason, c.reason);
  }
}

TEST(S25rTest, Ipv6ClientsAreNotCheckedByDefault) {
  S25r s25r;
  for (const auto& [name, address] :
       std::vector<std::pair<const char*, const char*>>{
           {"dhcp-123.example.com", "2001:db8::1"},
           {"dhcp-123.example.com", "IPv6:2001:db8::1"},
           {"[IPv6:2001:db8::1]", "IPv6:2001:db8::1"},
           {"[IPv6:2001:db8::1]", ""},
           {"unknown", "2001:db8::1"},
       }) {
    S25r::Result result = s25r.Classify(name, address);
    EXPECT_FALSE(result.suspicious) << name << " " << address;
    EXPECT_EQ(result.reason, "IPv6 client not checked");
  }
  // IPv4-mapped addresses are IPv4 clients.
  EXPECT_TRUE(
      s25r.Classify("dhcp-123.example.com", "::ffff:192.0.2.1").suspicious);
}

TEST(S25rTest, Ipv6ClientsCheckedOnRequest) {
  S25r::Options options;
  options.check_ipv6 = true;
  S25r s25r(std::move(options));
  S25r::Result result = s25r.Classify("dhcp-123.example.com", "2001:db8::1");
  EXPECT_TRUE(result.suspicious);
  EXPECT_EQ(result.reason, "rule 6 matches 'dhcp-123.example.com'");
  result = s25r.Classify("[IPv6:2001:db8::1]", "IPv6:2001:db8::1");
  EXPECT_TRUE(result.suspicious);
  EXPECT_EQ(result.reason, "unresolved client [2001:db8::1]");
  EXPECT_FALSE(s25r.Classify("mail.example.com", "2001:db8::1").suspicious);
}

TEST(S25rTest, DefaultAllowList) {
  const std::vector<std::string>& entries = S25r::DefaultAllowList();
  EXPECT_TRUE(NameList::FromEntries(entries).ok());
  for (const std::string& entry : entries) {
    EXPECT_EQ(entry.front(), '.') << entry;
  }
  S25r s25r;
  S25r::Result result =
      s25r.Classify("mail-yw1-f170.google.com", "209.85.128.170");
  EXPECT_FALSE(result.suspicious);
  EXPECT_EQ(result.reason, "default allow list: '.google.com'");
  result = s25r.Classify("a8-30.smtp-out.amazonses.com", "54.240.8.30");
  EXPECT_FALSE(result.suspicious);
  EXPECT_EQ(result.reason, "default allow list: '.amazonses.com'");

  S25r::Options options;
  options.use_default_allow_list = false;
  S25r without(std::move(options));
  result = without.Classify("mail-yw1-f170.google.com", "209.85.128.170");
  EXPECT_TRUE(result.suspicious);
  EXPECT_EQ(result.reason, "rule 1 matches 'mail-yw1-f170.google.com'");
}

TEST(S25rTest, AllowAndDenyLists) {
  S25r::Options options;
  options.allow_list = Names({".example.ne.jp", "both.example.com"});
  options.deny_list =
      Names({"mail.example.com", ".google.com", "both.example.com"});
  S25r s25r(std::move(options));

  S25r::Result result =
      s25r.Classify("p1234567-ipngn.example.ne.jp", "192.0.2.1");
  EXPECT_FALSE(result.suspicious);
  EXPECT_EQ(result.reason, "allow list: '.example.ne.jp'");

  result = s25r.Classify("mail.example.com", "192.0.2.1");
  EXPECT_TRUE(result.suspicious);
  EXPECT_EQ(result.reason, "deny list: 'mail.example.com'");

  // The deny list wins over the default allow list...
  result = s25r.Classify("mail-yw1-f170.google.com", "209.85.128.170");
  EXPECT_TRUE(result.suspicious);
  EXPECT_EQ(result.reason, "deny list: '.google.com'");
  // ...and the allow list over the deny list.
  result = s25r.Classify("both.example.com", "192.0.2.1");
  EXPECT_FALSE(result.suspicious);
  EXPECT_EQ(result.reason, "allow list: 'both.example.com'");

  // The lists apply to IPv6 clients' names too.
  result = s25r.Classify("mail.example.com", "2001:db8::1");
  EXPECT_TRUE(result.suspicious);
  EXPECT_EQ(result.reason, "deny list: 'mail.example.com'");
}

TEST(S25rTest, ListsDoNotApplyToUnresolvedClients) {
  S25r::Options options;
  options.allow_list = Names({"/203/", "unknown"});
  S25r s25r(std::move(options));
  EXPECT_TRUE(s25r.Classify("[203.0.113.5]", "203.0.113.5").suspicious);
  EXPECT_TRUE(s25r.Classify("unknown", "203.0.113.5").suspicious);
}

}  // namespace
}  // namespace milter::manager::conditions
