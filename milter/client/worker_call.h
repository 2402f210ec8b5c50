// Runs a blocking callable on a worker pool and resumes the awaiting
// coroutine on its own executor with the result; with no pool, runs it
// inline. Used to call synchronous Filter callbacks from the event loop.
// An exception thrown by the callable is rethrown in the awaiting coroutine
// (the engine reports it and answers tempfail). While the call is on the
// pool, a work guard keeps the home event loop from running out of work.

#ifndef MILTER_CLIENT_WORKER_CALL_H_
#define MILTER_CLIENT_WORKER_CALL_H_

#include <exception>
#include <type_traits>
#include <utility>

#include "asio/any_io_executor.hpp"
#include "asio/async_result.hpp"
#include "asio/awaitable.hpp"
#include "asio/executor_work_guard.hpp"
#include "asio/post.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"

namespace milter::client::internal {

// `R` must be default-constructible and copyable.
template <class R, class Fn>
asio::awaitable<R> CallOnWorker(const asio::any_io_executor* pool, Fn& fn) {
  if (pool == nullptr) co_return fn();
  asio::any_io_executor home = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable),
                                          void(std::exception_ptr, R)>(
      [pool, &fn, home](auto handler) {
        asio::post(*pool, [&fn, home, work = asio::make_work_guard(home),
                           handler = std::move(handler)]() mutable {
          std::exception_ptr error;
          R result{};
          try {
            result = fn();
          } catch (...) {
            error = std::current_exception();
          }
          asio::post(home,
                     [error, result, handler = std::move(handler)]() mutable {
                       std::move(handler)(error, result);
                     });
          work.reset();
        });
      },
      asio::use_awaitable);
}

}  // namespace milter::client::internal

#endif  // MILTER_CLIENT_WORKER_CALL_H_
