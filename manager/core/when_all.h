// Runs several coroutines concurrently on the calling coroutine's executor
// and resumes when every one has finished: how the manager asks its children
// the same envelope stage at once. No thread is involved; with a
// single-threaded executor the coroutines interleave at their suspension
// points.
//
//   std::vector<asio::awaitable<void>> tasks = ...;
//   co_await WhenAll(std::move(tasks));
//
// Each task must catch its own errors: an exception escaping a task is
// rethrown here after all have finished.

#ifndef MANAGER_CORE_WHEN_ALL_H_
#define MANAGER_CORE_WHEN_ALL_H_

#include <chrono>
#include <exception>
#include <memory>
#include <vector>

#include "asio/awaitable.hpp"
#include "asio/co_spawn.hpp"
#include "asio/redirect_error.hpp"
#include "asio/steady_timer.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"

namespace milter::manager {

inline asio::awaitable<void> WhenAll(std::vector<asio::awaitable<void>> tasks) {
  if (tasks.empty()) co_return;
  if (tasks.size() == 1) {
    co_await std::move(tasks.front());
    co_return;
  }
  auto executor = co_await asio::this_coro::executor;
  struct State {
    explicit State(asio::any_io_executor e)
        : done(e, std::chrono::steady_clock::time_point::max()) {}
    asio::steady_timer done;  // cancelled when the last task ends
    size_t left = 0;
    std::exception_ptr error;
  };
  auto state = std::make_shared<State>(executor);
  state->left = tasks.size();
  for (auto& task : tasks) {
    asio::co_spawn(executor, std::move(task), [state](std::exception_ptr e) {
      if (e && !state->error) state->error = e;
      if (--state->left == 0) state->done.cancel();
    });
  }
  std::error_code ec;
  while (state->left > 0) {
    co_await state->done.async_wait(
        asio::redirect_error(asio::use_awaitable, ec));
  }
  if (state->error) std::rethrow_exception(state->error);
}

}  // namespace milter::manager

#endif  // MANAGER_CORE_WHEN_ALL_H_
