#include "keel/net/stream_pipe.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

namespace keel::net {
namespace {

constexpr std::size_t pipe_chunk = 16 * 1024;

awaitable<void> copy_one_way(ByteStream& from, ByteStream& to, std::uint64_t& copied,
                             Clock::time_point& last_activity) {
    Bytes buffer(pipe_chunk);
    for (;;) {
        auto n = co_await from.read_some(buffer);
        if (!n) {
            if (n.error() == asio::error::eof) {
                co_await to.close_write();
            } else {
                from.reset();
                to.reset();
            }
            co_return;
        }
        last_activity = Clock::now();
        if (auto ec = co_await to.write_all(BytesView(buffer.data(), *n))) {
            from.reset();
            to.reset();
            co_return;
        }
        copied += *n;
        last_activity = Clock::now();
    }
}

// Returns once nothing has moved for `idle_timeout`.
awaitable<void> watch_idle(Duration idle_timeout, const Clock::time_point& last_activity) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        timer.expires_at(last_activity + idle_timeout);
        auto [ec] = co_await timer.async_wait(use_result);
        if (ec) co_return;  // cancelled: the copies ended first
        if (Clock::now() - last_activity >= idle_timeout) co_return;
    }
}

}  // namespace

awaitable<PipeResult> pipe_streams(ByteStream& a, ByteStream& b, Duration idle_timeout) {
    using namespace asio::experimental::awaitable_operators;
    PipeResult result;
    Clock::time_point last_activity = Clock::now();
    auto outcome = co_await ((copy_one_way(a, b, result.a_to_b, last_activity) &&
                              copy_one_way(b, a, result.b_to_a, last_activity)) ||
                             watch_idle(idle_timeout, last_activity));
    if (outcome.index() == 1) {
        result.idle_timeout = true;
        a.reset();
        b.reset();
    }
    co_return result;
}

}  // namespace keel::net
