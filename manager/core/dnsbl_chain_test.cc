// The S25R -> DNSBL -> greylisting chain end to end: children built on
// milter/client behind a manager, the MTA played by milter/server, and a
// real DNS server (dnsmasq on 127.0.0.1) serving the block list. Greylisting
// runs only for clients that look dynamic and are listed; a DNS server that
// never answers costs one timeout and lets the mail through unchecked.

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/core/scripted_child.h"
#include "manager/core/test_manager.h"
#include "manager/dns/test_dns_server.h"
#include "milter/server/blocking_session.h"

namespace milter::manager {
namespace {

using server::BlockingSession;
using server::Decision;
using testing::ChildEntry;
using testing::Client;
using ::testing::Contains;
using ::testing::ElementsAre;
using testing::ManagerUnderTest;
using ::testing::Not;
using testing::ScriptedChild;
using testing::TempDir;

// The chain's configuration with the block list at `nameserver`.
std::string ChainConfig(const std::string& nameserver, double timeout) {
  return absl::StrCat(
      "applicable_condition { name: \"dynamic\" s25r {} }\n"
      "applicable_condition { name: \"listed\" dnsbl {"
      " zone { zone: \"bl.test\" expected: \"127.0.0.2\" }"
      " nameserver: \"",
      nameserver, "\" timeout: ", timeout,
      " } }\n"
      "applicable_condition { name: \"both\" all_of {"
      " name: \"dynamic\" name: \"listed\" } }\n");
}

Decision Connect(const std::string& spec, const std::string& host,
                 const std::string& address) {
  BlockingSession mta;
  EXPECT_TRUE(mta.Open(spec).ok());
  server::ConnectionInfo info = Client();
  info.hostname = host;
  info.address = address;
  auto v = mta.Connect(info);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? v->decision : Decision::kContinue;
}

TEST(DnsblChainTest, GreylistingOnlyForDynamicAndListedClients) {
  if (!dns::testing::Dnsmasq::Installed()) GTEST_SKIP() << "no dnsmasq";
  auto dnsmasq =
      dns::testing::Dnsmasq::Start({{"7.100.51.198.bl.test", "127.0.0.2"},
                                    {"8.100.51.198.bl.test", "127.0.0.2"},
                                    {"9.100.51.198.bl.test", "127.0.0.3"}},
                                   {"bl.test"});
  ASSERT_TRUE(dnsmasq.ok()) << dnsmasq.status();
  std::string dir = TempDir();
  ScriptedChild grey(dir, "grey", {}), spam(dir, "spam", {});
  ManagerUnderTest manager(
      dir,
      ChildEntry("grey", grey, "applicable_conditions: \"both\"") +
          ChildEntry("spam", spam),
      ChainConfig((*dnsmasq)->nameserver(), 2));
  // Dynamic and listed: greylisted.
  Connect(manager.spec(), "dhcp-7.example.net", "198.51.100.7");
  // Listed, not dynamic; dynamic, not listed; dynamic, other answer.
  Connect(manager.spec(), "mail.example.com", "198.51.100.8");
  Connect(manager.spec(), "dhcp-5.example.net", "198.51.100.5");
  Connect(manager.spec(), "dhcp-9.example.net", "198.51.100.9");
  // Dynamic and listed again: answered from the cache.
  (*dnsmasq)->Stop();
  Connect(manager.spec(), "dhcp-7.example.net", "198.51.100.7");
  EXPECT_THAT(grey.log().Events(), ElementsAre("connect dhcp-7.example.net",
                                               "connect dhcp-7.example.net"));
  // The unconditional child saw every session.
  EXPECT_EQ(spam.log().Events().size(), 5u);
}

TEST(DnsblChainTest, SilentDnsServerTimesOutAndTheChildIsSkipped) {
  auto silent = dns::testing::SilentDnsServer::Start();
  ASSERT_TRUE(silent.ok()) << silent.status();
  std::string dir = TempDir();
  ScriptedChild grey(dir, "grey", {});
  ManagerUnderTest manager(
      dir, ChildEntry("grey", grey, "applicable_conditions: \"both\""),
      ChainConfig((*silent)->nameserver(), 0.3));
  auto start = std::chrono::steady_clock::now();
  // No other child: the manager accepts once grey is skipped.
  EXPECT_EQ(Connect(manager.spec(), "dhcp-7.example.net", "198.51.100.7"),
            Decision::kAccept);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_GT((*silent)->CountQueries(), 0);
  EXPECT_THAT(grey.log().Events(), Not(Contains("connect dhcp-7.example.net")));
}

}  // namespace
}  // namespace milter::manager
