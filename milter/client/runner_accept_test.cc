// Accepting with max_sessions over several listeners: every accept loop
// waits for a free slot on its own, so waiting loops do not wake each other
// (no busy loop), and a waiting connection is served once a slot frees.

#include <memory>
#include <string>

#include "examples/sample/sample_filter.h"
#include "gtest/gtest.h"
#include "milter/client/runner.h"
#include "milter/client/runner_test_util.h"
#include "milter/codec/encoder.h"

namespace milter::client {
namespace {

using test::ArgList;
using test::ConnectTcp;
using test::FreeInet;
using test::kOffer;
using test::Served;

TEST(RunnerAcceptTest, TwoListenersAtMaxSessionsWaitWithoutWakingEachOther) {
  RunnerOptions o;
  o.listen = {FreeInet(), FreeInet()};
  o.max_sessions = 1;
  Served s(sample::MakeSampleFactory(), o);
  ASSERT_TRUE(s.listen_status().ok()) << s.listen_status();
  auto first = ConnectTcp(s.port(0));
  first->Send(kOffer);
  ASSERT_EQ(first->ReadUntilVerdict(), "O");
  auto second = ConnectTcp(s.port(1));
  second->Send(kOffer);
  // The first loop waits since its accept; the second once its listener
  // has a connection it may not take.
  ASSERT_TRUE(s.events().WaitForCount("accept-slot-wait", 2));
  // Many turns of the event loop later, neither loop has woken up.
  std::string from = ArgList("<a@example.net>");
  for (int i = 0; i < 50; ++i) {
    first->Send(codec::Mail{codec::StringList(from)});
    ASSERT_EQ(first->ReadUntilVerdict(), "c");
    first->Send(codec::Abort{});
  }
  EXPECT_EQ(s.events().Count("accept-slot-wake"), 0u);
  EXPECT_EQ(s.events().Count("accept-slot-wait"), 2u);
  EXPECT_EQ(s.runner().total_sessions(), 1u);
  // The first session ends: the second connection is served.
  first->Send(codec::Quit{});
  EXPECT_TRUE(first->ClosedByPeer());
  EXPECT_EQ(second->ReadUntilVerdict(), "O");
  EXPECT_EQ(s.runner().total_sessions(), 2u);
  second->Send(codec::Quit{});
  EXPECT_TRUE(second->ClosedByPeer());
}

}  // namespace
}  // namespace milter::client
