// OffLoop: runs a blocking function on another executor (a thread pool) and resumes the awaiting
// coroutine on its own executor (the event loop) with the function's result. How the event loop
// calls what blocks — a store's query, a NATS call that waits for the server — without blocking.
//
// `R` may be any movable type (Result<T> included: nothing is default-constructed). The caller's
// event loop keeps outstanding work while `f` runs, as any asio operation does.
#pragma once

#include <utility>

#include <boost/asio.hpp>

namespace hotrod {

template <class R, class Executor, class F>
boost::asio::awaitable<R> OffLoop(Executor pool, F f) {
  namespace asio = boost::asio;
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
      [pool, f = std::move(f)](auto handler) mutable {
        auto work = asio::make_work_guard(asio::get_associated_executor(handler));
        asio::post(pool, [f = std::move(f), handler = std::move(handler), work = std::move(work)]() mutable {
          R result = f();
          auto ex = work.get_executor();
          asio::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      asio::use_awaitable);
}

}  // namespace hotrod
