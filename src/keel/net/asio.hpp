#pragma once
// Asio vocabulary shared by the network layer: C++20 coroutines that report errors as values.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>

namespace keel::net {

namespace asio = boost::asio;
using boost::system::error_code;
using boost::system::result;
template <class T>
using awaitable = asio::awaitable<T>;
using Clock = std::chrono::steady_clock;
using Duration = std::chrono::milliseconds;

// Completion token for "await, and give me the error code instead of throwing".
inline constexpr auto use_result = asio::as_tuple(asio::use_awaitable);

// True when the calling coroutine has been asked to stop (e.g. its deadline fired), given its
// `co_await asio::this_coro::cancellation_state`. Not a coroutine of its own: once the caller is
// cancelled, awaiting another coroutine throws operation_aborted (Asio's throw_if_cancelled, on by
// default), so a helper coroutine answered "yes" with an exception, and only a caller that had
// turned that off got `true`.
inline bool cancelled(const asio::cancellation_state& state) {
    return state.cancelled() != asio::cancellation_type::none;
}

}  // namespace keel::net
