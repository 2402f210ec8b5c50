// Runs a blocking callable on a worker pool and resumes the awaiting
// coroutine on its own executor with the result; with no pool, runs it
// inline. Used to call synchronous Filter callbacks from the event loop.

#ifndef MILTER_CLIENT_WORKER_CALL_H_
#define MILTER_CLIENT_WORKER_CALL_H_

#include <optional>
#include <type_traits>
#include <utility>

#include "asio/any_io_executor.hpp"
#include "asio/async_result.hpp"
#include "asio/awaitable.hpp"
#include "asio/post.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"

namespace milter::client::internal {

// `R` must be default-constructible; an exception thrown by `fn` on the pool
// yields `on_exception`.
template <class R, class Fn>
asio::awaitable<R> CallOnWorker(const asio::any_io_executor* pool, Fn& fn,
                                R on_exception) {
  if (pool == nullptr) co_return fn();
  asio::any_io_executor home = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable),
                                          void(R)>(
      [pool, &fn, home, on_exception](auto handler) {
        asio::post(*pool, [&fn, home, on_exception,
                           handler = std::move(handler)]() mutable {
          R result = on_exception;
          try {
            result = fn();
          } catch (...) {
          }
          asio::post(home, [result, handler = std::move(handler)]() mutable {
            std::move(handler)(result);
          });
        });
      },
      asio::use_awaitable);
}

}  // namespace milter::client::internal

#endif  // MILTER_CLIENT_WORKER_CALL_H_
