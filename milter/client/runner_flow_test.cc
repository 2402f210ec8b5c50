// What reaches the MTA, over real sockets: backpressure against an MTA that
// pipelines commands without reading the answers, progress strictly before
// its stage's verdict (coroutine filter, inline and pooled synchronous
// filters).

#include <sys/socket.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "asio/post.hpp"
#include "asio/this_coro.hpp"
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

// Records the status of a Progress() call made after a stage was answered.
class LateCall {
 public:
  void Record(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    changed_.notify_all();
  }
  std::optional<absl::Status> Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait_for(lock, test::kSafetyTimeout,
                      [&] { return status_.has_value(); });
    return status_;
  }
  void Go() {
    std::lock_guard<std::mutex> lock(mu_);
    go_ = true;
    changed_.notify_all();
  }
  void WaitForGo() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait_for(lock, test::kSafetyTimeout, [&] { return go_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::optional<absl::Status> status_;
  bool go_ = false;
};

LateCall* late_call = nullptr;

// Progress twice, then the verdict; HELO "late" also calls Progress once
// the stage has been answered (from a handler it posts).
class CoroutineProgress : public CoroutineFilter {
 public:
  asio::awaitable<Status> OnHelo(Context& ctx, std::string_view name) override {
    EXPECT_TRUE(ctx.Progress().ok());
    EXPECT_TRUE(ctx.Progress().ok());
    if (name == "late") {
      asio::post(co_await asio::this_coro::executor,
                 [&ctx] { late_call->Record(ctx.Progress()); });
    }
    co_return Status::kContinue;
  }
};

// The same as a synchronous filter; the late call comes from a thread of
// the filter's own, once the test says go.
class SyncProgress : public Filter {
 public:
  ~SyncProgress() override {
    if (thread_.joinable()) thread_.join();
  }
  Status OnHelo(Context& ctx, std::string_view name) override {
    EXPECT_TRUE(ctx.Progress().ok());
    EXPECT_TRUE(ctx.Progress().ok());
    if (name == "late") {
      thread_ = std::thread([&ctx] {
        late_call->WaitForGo();
        late_call->Record(ctx.Progress());
      });
    }
    return Status::kContinue;
  }

 private:
  std::thread thread_;
};

void ExpectProgressBeforeVerdictOnly(FilterFactory factory, int workers) {
  LateCall late;
  late_call = &late;
  RunnerOptions o;
  o.listen = {FreeInet()};
  o.worker_threads = workers;
  Served s(std::move(factory), o);
  auto mta = ConnectTcp(s.port());
  mta->Send(kOffer);
  ASSERT_EQ(mta->ReadUntilVerdict(), "O");
  mta->Send(codec::Helo{"late"});
  EXPECT_EQ(mta->ReadUntilVerdict(), "ppc");
  late.Go();
  std::optional<absl::Status> refused = late.Wait();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code(), absl::StatusCode::kFailedPrecondition);
  // Nothing stray reached the wire before the next answer.
  mta->Send(codec::Helo{"again"});
  EXPECT_EQ(mta->ReadUntilVerdict(), "ppc");
  mta->Send(codec::Quit{});
  EXPECT_TRUE(mta->ClosedByPeer());
  s.Stop();
  late_call = nullptr;
}

TEST(RunnerFlowTest, ProgressBeforeTheVerdictOnlyCoroutineFilter) {
  ExpectProgressBeforeVerdictOnly(MakeFilterFactory<CoroutineProgress>(), 8);
}

TEST(RunnerFlowTest, ProgressBeforeTheVerdictOnlyInlineCallbacks) {
  ExpectProgressBeforeVerdictOnly(MakeFilterFactory<SyncProgress>(), 0);
}

TEST(RunnerFlowTest, ProgressBeforeTheVerdictOnlyWorkerPool) {
  ExpectProgressBeforeVerdictOnly(MakeFilterFactory<SyncProgress>(), 2);
}

}  // namespace
}  // namespace milter::client
