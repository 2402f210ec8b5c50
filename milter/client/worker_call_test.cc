// CallOnWorker: the result comes back on the awaiting coroutine's executor,
// an exception thrown on the pool is rethrown there, and the event loop
// keeps outstanding work while the call is on the pool.

#include "milter/client/worker_call.h"

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>

#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "asio/thread_pool.hpp"
#include "gtest/gtest.h"

namespace milter::client::internal {
namespace {

// Lets the test hold a call on the pool.
struct Hold {
  std::mutex mu;
  std::condition_variable changed;
  bool entered = false;
  bool released = false;
  void Enter() {
    std::unique_lock<std::mutex> lock(mu);
    entered = true;
    changed.notify_all();
    changed.wait(lock, [&] { return released; });
  }
  void WaitEntered() {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return entered; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    changed.notify_all();
  }
};

TEST(WorkerCallTest, EventLoopKeepsWorkWhileTheCallIsOnThePool) {
  asio::io_context io;
  asio::thread_pool pool(1);
  asio::any_io_executor pool_executor = pool.get_executor();
  Hold hold;
  int result = 0;
  auto fn = [&] {
    hold.Enter();
    return 7;
  };
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        result = co_await CallOnWorker<int>(&pool_executor, fn);
      },
      [](std::exception_ptr) {});
  io.poll();  // runs the coroutine up to the hand-off
  hold.WaitEntered();
  io.poll();  // nothing ready: without outstanding work this stops the loop
  EXPECT_FALSE(io.stopped());
  hold.Release();
  io.run();  // returns once the result is delivered
  EXPECT_EQ(result, 7);
  pool.join();
}

TEST(WorkerCallTest, ExceptionsComeBackToTheAwaitingCoroutine) {
  asio::io_context io;
  asio::thread_pool pool(1);
  asio::any_io_executor pool_executor = pool.get_executor();
  std::string caught;
  auto fn = []() -> int { throw std::runtime_error("on the pool"); };
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await CallOnWorker<int>(&pool_executor, fn);
        } catch (const std::exception& e) {
          caught = e.what();
        }
      },
      [](std::exception_ptr) {});
  io.run();
  EXPECT_EQ(caught, "on the pool");
  // Inline (no pool) too.
  caught.clear();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await CallOnWorker<int>(nullptr, fn);
        } catch (const std::exception& e) {
          caught = e.what();
        }
      },
      [](std::exception_ptr) {});
  io.restart();
  io.run();
  EXPECT_EQ(caught, "on the pool");
  pool.join();
}

}  // namespace
}  // namespace milter::client::internal
