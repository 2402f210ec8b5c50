#include "manager/conditions/network_set.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace milter::manager::conditions {
namespace {

using ::testing::HasSubstr;

NetworkSet ParseOrDie(const std::vector<std::string>& entries) {
  absl::StatusOr<NetworkSet> set = NetworkSet::Parse(entries);
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? *std::move(set) : NetworkSet();
}

TEST(ParseAddressTest, Forms) {
  std::optional<IpAddress> v4 = NetworkSet::ParseAddress("192.0.2.1");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->family, IpAddress::Family::kIpv4);
  EXPECT_EQ(v4->ToString(), "192.0.2.1");
  for (const char* text : {"[192.0.2.1]", " 192.0.2.1 ", "[ 192.0.2.1 ]"}) {
    EXPECT_EQ(NetworkSet::ParseAddress(text), v4) << text;
  }
  std::optional<IpAddress> v6 = NetworkSet::ParseAddress("2001:db8::1");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->family, IpAddress::Family::kIpv6);
  EXPECT_EQ(v6->ToString(), "2001:db8::1");
  for (const char* text :
       {"IPv6:2001:db8::1", "ipv6:2001:DB8::1", "[IPv6:2001:db8::1]",
        "[2001:db8::1]", "2001:0db8:0:0:0:0:0:1", "2001:db8::1%eth0"}) {
    EXPECT_EQ(NetworkSet::ParseAddress(text), v6) << text;
  }
  std::optional<IpAddress> mapped =
      NetworkSet::ParseAddress("::ffff:192.0.2.1");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_EQ(mapped->family, IpAddress::Family::kIpv6);
  EXPECT_TRUE(mapped->IsIpv4Mapped());
  EXPECT_FALSE(v6->IsIpv4Mapped());
}

TEST(ParseAddressTest, NotAddresses) {
  for (const char* text :
       {"", "unknown", "mail.example.com", "192.0.2", "192.0.2.256",
        "192.0.2.1.5", "01.2.3.4", "2001:db8::1::2", "[192.0.2.1",
        "IPv6:192.0.2.1", "192.0.2.1%eth0", "[]", "gggg::1",
        "1234567890123456789012345678901234567890123456789012345678901"}) {
    EXPECT_FALSE(NetworkSet::ParseAddress(text).has_value()) << text;
  }
}

TEST(NetworkSetTest, EmptyContainsNothing) {
  NetworkSet set;
  EXPECT_TRUE(set.empty());
  EXPECT_FALSE(set.Contains("10.0.0.1"));
  EXPECT_FALSE(set.Contains("::1"));
}

TEST(NetworkSetTest, Ipv4Ranges) {
  NetworkSet set =
      ParseOrDie({"10.0.0.0/8", "192.168.1.7", " 198.51.100.0/24 "});
  EXPECT_FALSE(set.empty());
  EXPECT_TRUE(set.Contains("10.0.0.0"));
  EXPECT_TRUE(set.Contains("10.255.255.255"));
  EXPECT_FALSE(set.Contains("11.0.0.0"));
  EXPECT_FALSE(set.Contains("9.255.255.255"));
  EXPECT_TRUE(set.Contains("192.168.1.7"));
  EXPECT_FALSE(set.Contains("192.168.1.6"));
  EXPECT_FALSE(set.Contains("192.168.1.8"));
  EXPECT_TRUE(set.Contains("[198.51.100.200]"));
  EXPECT_FALSE(set.Contains("198.51.101.0"));
  EXPECT_FALSE(set.Contains("unknown"));
  EXPECT_FALSE(set.Contains(""));
  // IPv4 ranges do not contain IPv6 addresses other than mapped ones.
  EXPECT_FALSE(set.Contains("::a00:1"));
}

TEST(NetworkSetTest, Ipv6Ranges) {
  NetworkSet set = ParseOrDie({"::1/128", "fe80::/10", "2001:db8::/32"});
  EXPECT_TRUE(set.Contains("::1"));
  EXPECT_FALSE(set.Contains("::2"));
  EXPECT_TRUE(set.Contains("fe80::1"));
  EXPECT_TRUE(set.Contains("febf:ffff::1"));
  EXPECT_FALSE(set.Contains("fec0::1"));
  EXPECT_TRUE(set.Contains("IPv6:2001:db8:ffff::1"));
  EXPECT_TRUE(set.Contains("[IPv6:2001:db8::25]"));
  EXPECT_FALSE(set.Contains("2001:db9::1"));
  EXPECT_FALSE(set.Contains("127.0.0.1"));
}

TEST(NetworkSetTest, WholeSpaces) {
  NetworkSet set = ParseOrDie({"0.0.0.0/0", "::/0"});
  EXPECT_TRUE(set.Contains("0.0.0.0"));
  EXPECT_TRUE(set.Contains("255.255.255.255"));
  EXPECT_TRUE(set.Contains("::"));
  EXPECT_TRUE(set.Contains("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
}

TEST(NetworkSetTest, OverlappingAndAdjacentRangesMerge) {
  NetworkSet set =
      ParseOrDie({"10.1.0.0/16", "10.0.0.0/8", "11.0.0.0/8", "255.255.255.255",
                  "255.255.255.254/31", "2001:db8::/48", "2001:db8:1::/48"});
  EXPECT_TRUE(set.Contains("10.1.2.3"));
  EXPECT_TRUE(set.Contains("10.200.0.1"));
  EXPECT_TRUE(set.Contains("11.255.0.1"));
  EXPECT_FALSE(set.Contains("12.0.0.0"));
  EXPECT_TRUE(set.Contains("255.255.255.255"));
  EXPECT_FALSE(set.Contains("255.255.255.253"));
  EXPECT_TRUE(set.Contains("2001:db8:0:ffff::1"));
  EXPECT_TRUE(set.Contains("2001:db8:1:ffff::1"));
  EXPECT_FALSE(set.Contains("2001:db8:2::1"));
}

TEST(NetworkSetTest, Ipv4MappedAddressesTestAsIpv4) {
  NetworkSet set = ParseOrDie({"10.0.0.0/8"});
  EXPECT_TRUE(set.Contains("::ffff:10.1.2.3"));
  EXPECT_TRUE(set.Contains("IPv6:::ffff:10.1.2.3"));
  EXPECT_TRUE(set.Contains("::ffff:a01:203"));
  EXPECT_FALSE(set.Contains("::ffff:11.1.2.3"));
  // Not mapped: ::a01:203 is an (obsolete) IPv4-compatible address.
  EXPECT_FALSE(set.Contains("::a01:203"));
}

TEST(NetworkSetTest, Ipv4MappedEntriesAreIpv4) {
  NetworkSet set = ParseOrDie({"::ffff:10.0.0.0/104", "::ffff:192.0.2.1"});
  EXPECT_TRUE(set.Contains("10.20.30.40"));
  EXPECT_TRUE(set.Contains("::ffff:10.20.30.40"));
  EXPECT_FALSE(set.Contains("11.0.0.1"));
  EXPECT_TRUE(set.Contains("192.0.2.1"));
  EXPECT_FALSE(set.Contains("192.0.2.2"));
}

TEST(NetworkSetTest, Ipv6RangeCoveringMappedSpaceContainsMapped) {
  NetworkSet set = ParseOrDie({"::/0"});
  EXPECT_TRUE(set.Contains("::ffff:192.0.2.1"));
  EXPECT_FALSE(set.Contains("192.0.2.1"));
}

TEST(NetworkSetTest, ParsedAddressOverload) {
  NetworkSet set = NetworkSet::PrivateDefault();
  std::optional<IpAddress> address = NetworkSet::ParseAddress("10.9.8.7");
  ASSERT_TRUE(address.has_value());
  EXPECT_TRUE(set.Contains(*address));
  address = NetworkSet::ParseAddress("2001:db8::1");
  ASSERT_TRUE(address.has_value());
  EXPECT_FALSE(set.Contains(*address));
}

TEST(NetworkSetTest, PrivateDefault) {
  NetworkSet set = NetworkSet::PrivateDefault();
  for (const char* inside :
       {"127.0.0.1", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1",
        "169.254.1.1", "100.64.0.1", "100.127.255.255", "::1", "fc00::1",
        "fd12:3456::1", "fe80::1", "::ffff:192.168.1.1"}) {
    EXPECT_TRUE(set.Contains(inside)) << inside;
  }
  for (const char* outside :
       {"192.0.2.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "8.8.8.8",
        "2001:db8::1", "fec0::1", "::2", "::ffff:8.8.8.8"}) {
    EXPECT_FALSE(set.Contains(outside)) << outside;
  }
}

TEST(NetworkSetTest, ErrorsNameTheEntry) {
  struct Case {
    std::vector<std::string> entries;
    std::string message;
  };
  const Case cases[] = {
      {{"10.0.0.0/8", "10.0.0.0/33"},
       "invalid network '10.0.0.0/33': the prefix length must be 0 to 32"},
      {{"::/129"},
       "invalid network '::/129': the prefix length must be 0 to "
       "128"},
      {{"10.0.0.0/"}, "invalid network '10.0.0.0/'"},
      {{"10.0.0.0/-1"}, "invalid network '10.0.0.0/-1'"},
      {{"10.0.0.0/8/8"}, "invalid network '10.0.0.0/8/8'"},
      {{"10.0.0/8"}, "invalid network '10.0.0/8': not an IPv4 or IPv6 address"},
      {{"example.com"},
       "invalid network 'example.com': not an IPv4 or IPv6 address"},
      {{"[10.0.0.1]"}, "invalid network '[10.0.0.1]'"},
      {{"  "}, "empty entry"},
      {{"10.1.0.0/8"},
       "invalid network '10.1.0.0/8': host bits set (the network is "
       "10.0.0.0/8)"},
      {{"2001:db8::1/32"},
       "invalid network '2001:db8::1/32': host bits set (the network is "
       "2001:db8::/32)"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<NetworkSet> set = NetworkSet::Parse(c.entries);
    ASSERT_FALSE(set.ok()) << c.entries.back();
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(set.status().message()), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace milter::manager::conditions
