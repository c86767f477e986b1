#pragma once
// One way to bound any network wait: run the operation against a timer; whichever finishes first
// wins and the other is cancelled. Operations must honour cancellation (all of Keel's do).
#include <optional>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/net/asio.hpp"
#include "keel/net/net_errc.hpp"

namespace keel::net {

template <class T>
awaitable<result<T>> with_deadline(awaitable<result<T>> op, Duration timeout) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    auto winner = co_await (std::move(op) || timer.async_wait(use_result));
    if (winner.index() == 0) co_return std::move(std::get<0>(winner));
    co_return make_error_code(net_errc::timeout);
}

inline awaitable<error_code> with_deadline(awaitable<error_code> op, Duration timeout) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    auto winner = co_await (std::move(op) || timer.async_wait(use_result));
    if (winner.index() == 0) co_return std::get<0>(winner);
    co_return make_error_code(net_errc::timeout);
}

// For an operation whose value is not an error_code-carrying result (a HostResult, a vector of
// what was found): nullopt when the deadline fired first.
template <class T>
awaitable<std::optional<T>> within_deadline(awaitable<T> op, Duration timeout) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    auto winner = co_await (std::move(op) || timer.async_wait(use_result));
    if (winner.index() == 0) co_return std::move(std::get<0>(winner));
    co_return std::nullopt;
}

}  // namespace keel::net
