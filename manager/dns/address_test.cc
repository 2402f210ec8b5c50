// Query names of client addresses, and expected-answer ranges.

#include "manager/dns/address.h"

#include "gtest/gtest.h"

namespace milter::manager::dns {
namespace {

constexpr char kReversed2001db8_1[] =
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2";

std::string Reversed(std::string_view address) {
  absl::StatusOr<std::string> name = ReversedAddress(address);
  return name.ok() ? *name : "error: " + std::string(name.status().message());
}

TEST(ReversedAddressTest, IPv4) {
  EXPECT_EQ(Reversed("192.0.2.1"), "1.2.0.192");
  EXPECT_EQ(Reversed("127.0.0.2"), "2.0.0.127");
  EXPECT_EQ(Reversed("255.0.10.100"), "100.10.0.255");
  EXPECT_EQ(Reversed("[192.0.2.1]"), "1.2.0.192");
}

TEST(ReversedAddressTest, IPv6IsNibbleReversed) {
  EXPECT_EQ(Reversed("2001:db8::1"), kReversed2001db8_1);
  EXPECT_EQ(Reversed("2001:DB8:0:0:0:0:0:1"), kReversed2001db8_1);
  EXPECT_EQ(Reversed("IPv6:2001:db8::1"), kReversed2001db8_1);
  EXPECT_EQ(Reversed("ipv6:2001:db8::1"), kReversed2001db8_1);
  EXPECT_EQ(Reversed("[IPv6:2001:db8::1]"), kReversed2001db8_1);
  EXPECT_EQ(Reversed("[2001:db8::1]"), kReversed2001db8_1);
  EXPECT_EQ(Reversed("2001:db8:1234:5678:9abc:def0:fedc:ba98"),
            "8.9.a.b.c.d.e.f.0.f.e.d.c.b.a.9.8.7.6.5.4.3.2.1.8.b.d.0.1.0.0.2");
}

TEST(ReversedAddressTest, IPv4MappedIPv6IsLookedUpAsIPv4) {
  EXPECT_EQ(Reversed("::ffff:192.0.2.1"), "1.2.0.192");
  EXPECT_EQ(Reversed("IPv6:::ffff:192.0.2.1"), "1.2.0.192");
}

TEST(ReversedAddressTest, RejectsWhatIsNotAnAddress) {
  for (const char* bad :
       {"", "[]", "localhost", "192.0.2", "192.0.2.256", "192.0.2.1.5",
        "1.2.3.4 ", "2001:db8::1::2", "IPv6:", "IPv6:192.0.2.1x", "[192.0.2.1",
        "fe80::1%eth0", "unknown"}) {
    absl::StatusOr<std::string> name = ReversedAddress(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(name.status())) << bad;
  }
}

TEST(ReversedAddressTest, AppendLeavesOutputAloneOnError) {
  std::string out = "x.";
  EXPECT_FALSE(AppendReversedAddress("nope", out).ok());
  EXPECT_EQ(out, "x.");
  EXPECT_TRUE(AppendReversedAddress("10.0.0.1", out).ok());
  EXPECT_EQ(out, "x.1.0.0.10");
}

TEST(FormatIPv4Test, DottedQuad) {
  EXPECT_EQ(FormatIPv4(0x7f000002), "127.0.0.2");
  EXPECT_EQ(FormatIPv4(0xffffffff), "255.255.255.255");
  EXPECT_EQ(FormatIPv4(0), "0.0.0.0");
}

TEST(ParseIPv4RangeTest, AddressesAndPrefixes) {
  absl::StatusOr<IPv4Range> one = ParseIPv4Range("127.0.0.2");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_TRUE(one->Contains(0x7f000002));
  EXPECT_FALSE(one->Contains(0x7f000003));

  absl::StatusOr<IPv4Range> net = ParseIPv4Range("127.0.0.0/24");
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_TRUE(net->Contains(0x7f000000));
  EXPECT_TRUE(net->Contains(0x7f0000ff));
  EXPECT_FALSE(net->Contains(0x7f000100));

  absl::StatusOr<IPv4Range> all = ParseIPv4Range("0.0.0.0/0");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->Contains(0xc0000201));

  absl::StatusOr<IPv4Range> host = ParseIPv4Range("127.0.0.2/32");
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_TRUE(host->Contains(0x7f000002));
  EXPECT_FALSE(host->Contains(0x7f000003));
}

TEST(ParseIPv4RangeTest, RejectsMalformedRanges) {
  for (const char* bad :
       {"", "127.0.0", "127.0.0.1/", "127.0.0.0/33", "127.0.0.0/-1",
        "127.0.0.0/+8", "127.0.0.1/24", "127.0.0.0/2x", "::1", "x/8"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseIPv4Range(bad).status())) << bad;
  }
}

}  // namespace
}  // namespace milter::manager::dns
