#include "keel/net/stream_pipe.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

namespace keel::net {

std::string_view pipe_end_name(PipeEnd end) {
    switch (end) {
        case PipeEnd::closed:
            return "closed";
        case PipeEnd::idle:
            return "idle";
        case PipeEnd::duration:
            return "duration";
        case PipeEnd::bytes:
            return "bytes";
    }
    return "closed";
}
namespace {

constexpr std::size_t pipe_chunk = 16 * 1024;

struct PipeState {
    Clock::time_point last_activity = Clock::now();
    bool over_bytes = false;
};

awaitable<void> copy_one_way(ByteStream& from, ByteStream& to, std::uint64_t& copied,
                             std::uint64_t max_bytes, PipeState& state) {
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
        state.last_activity = Clock::now();
        std::size_t allowed = *n;
        if (max_bytes > 0 && copied + allowed > max_bytes) {
            allowed = static_cast<std::size_t>(max_bytes - copied);
            state.over_bytes = true;
        }
        if (allowed > 0) {
            if (auto ec = co_await to.write_all(BytesView(buffer.data(), allowed))) {
                from.reset();
                to.reset();
                co_return;
            }
            copied += allowed;
        }
        if (state.over_bytes) {
            from.reset();
            to.reset();
            co_return;
        }
        state.last_activity = Clock::now();
    }
}

// Returns once nothing has moved for idle_timeout (PipeEnd::idle) or max_duration has passed
// (PipeEnd::duration).
awaitable<PipeEnd> watch_limits(const PipeLimits& limits, const PipeState& state) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto started = Clock::now();
    for (;;) {
        auto wake = state.last_activity + limits.idle_timeout;
        if (limits.max_duration) wake = std::min(wake, started + *limits.max_duration);
        timer.expires_at(wake);
        auto [ec] = co_await timer.async_wait(use_result);
        if (ec) co_return PipeEnd::closed;  // cancelled: the copies ended first
        const auto now = Clock::now();
        if (limits.max_duration && now - started >= *limits.max_duration)
            co_return PipeEnd::duration;
        if (now - state.last_activity >= limits.idle_timeout) co_return PipeEnd::idle;
    }
}

}  // namespace

awaitable<PipeResult> pipe_streams(ByteStream& a, ByteStream& b, PipeLimits limits) {
    using namespace asio::experimental::awaitable_operators;
    PipeResult result;
    PipeState state;
    auto outcome =
        co_await ((copy_one_way(a, b, result.a_to_b, limits.max_bytes_each_way, state) &&
                   copy_one_way(b, a, result.b_to_a, limits.max_bytes_each_way, state)) ||
                  watch_limits(limits, state));
    if (outcome.index() == 1) {
        result.end = std::get<1>(outcome);
        a.reset();
        b.reset();
    } else if (state.over_bytes) {
        result.end = PipeEnd::bytes;
    }
    result.idle_timeout = result.end == PipeEnd::idle;
    co_return result;
}

}  // namespace keel::net
