// What reaches the MTA, over real sockets: backpressure against an MTA that
// pipelines commands without reading the answers.

#include <sys/socket.h>

#include <optional>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "milter/client/filter_factory.h"
#include "milter/client/runner.h"
#include "milter/client/runner_test_util.h"
#include "milter/client/session.h"
#include "milter/codec/encoder.h"

namespace milter::client {
namespace {

using test::ConnectTcp;
using test::FreeInet;
using test::kOffer;
using test::Served;

constexpr size_t kHeaderSize = 8000;

// Adds a large numbered header at every end of message.
class BigAnswers : public CoroutineFilter {
 public:
  asio::awaitable<Status> OnEndOfMessage(Context& ctx) override {
    std::string value = std::to_string(count_++) + ":";
    value.resize(kHeaderSize, 'x');
    EXPECT_TRUE(ctx.AddHeader("X-Seq", value).ok());
    co_return Status::kContinue;
  }

 private:
  int count_ = 0;
};

void SendAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n =
        ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

TEST(RunnerFlowTest, MtaNotReadingAnswersKeepsWhatIsQueuedBounded) {
  RunnerOptions o;
  o.listen = {FreeInet()};
  Served s(MakeFilterFactory<BigAnswers>(), o);
  ASSERT_TRUE(s.listen_status().ok()) << s.listen_status();
  auto mta = ConnectTcp(s.port());
  mta->Send(kOffer);
  ASSERT_EQ(mta->ReadUntilVerdict(), "O");

  // Thousands of end-of-message packets (5 bytes each, ~8 KB of answers
  // each: 32 MB in all), pipelined; nothing is read meanwhile.
  constexpr int kCommands = 4000;
  std::string commands;
  for (int i = 0; i < kCommands; ++i) {
    commands += codec::Encode(codec::EndOfMessage{""});
  }
  std::thread writer([&] { SendAll(mta->socket().native_handle(), commands); });
  // The filter stopped handling commands to wait for the MTA to read.
  ASSERT_TRUE(s.events().WaitForCount("output-full", 1));

  // Now every answer arrives, in order.
  for (int i = 0; i < kCommands; ++i) {
    std::optional<codec::Response> header = mta->Next();
    ASSERT_TRUE(header.has_value()) << i;
    const auto* h = std::get_if<codec::AddHeader>(&*header);
    ASSERT_NE(h, nullptr) << i;
    ASSERT_EQ(h->value.substr(0, h->value.find(':')), std::to_string(i));
    std::optional<codec::Response> verdict = mta->Next();
    ASSERT_TRUE(verdict.has_value()) << i;
    ASSERT_TRUE(std::holds_alternative<codec::Continue>(*verdict)) << i;
  }
  writer.join();
  // At most the bound plus one command's answers was ever queued.
  EXPECT_GT(s.runner().max_queued_output(), 0u);
  EXPECT_LE(s.runner().max_queued_output(),
            Session::kMaxQueuedOutput + kHeaderSize + 64);
  mta->Send(codec::Quit{});
  EXPECT_TRUE(mta->ClosedByPeer());
}

}  // namespace
}  // namespace milter::client
