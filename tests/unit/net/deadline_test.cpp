#include "keel/net/deadline.hpp"

#include <gtest/gtest.h>

#include "keel/net/memory_stream.hpp"
#include "keel/net/net_errc.hpp"
#include "support/net_test_util.hpp"

namespace keel::net {
namespace {

using test::run;

TEST(Deadline, FiresOnAReadThatNeverCompletes) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        std::array<std::uint8_t, 8> buf{};
        auto start = Clock::now();
        auto n = co_await with_deadline(pair.second->read_some(buf), Duration{50});
        auto elapsed = Clock::now() - start;
        KEEL_CO_ASSERT(!n);
        EXPECT_EQ(n.error(), net_errc::timeout);
        EXPECT_GE(elapsed, Duration{50});
        EXPECT_LT(elapsed, Duration{2000});

        // The cancelled read left the stream usable.
        Bytes hello = to_bytes("hello");
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->write_all(hello));
        auto again = co_await with_deadline(pair.second->read_some(buf), Duration{1000});
        KEEL_CO_ASSERT_OK(again);
        EXPECT_EQ(as_chars(BytesView(buf.data(), *again)), "hello");
    });
}

TEST(Deadline, PassesAQuickResultThrough) {
    run([]() -> awaitable<void> {
        auto pair = make_memory_stream_pair(co_await asio::this_coro::executor);
        Bytes data = to_bytes("abc");
        auto start = Clock::now();
        // error_code overload
        KEEL_CO_ASSERT_NO_ERROR(
            co_await with_deadline(pair.first->write_all(data), Duration{5000}));
        // result<T> overload
        std::array<std::uint8_t, 8> buf{};
        auto n = co_await with_deadline(pair.second->read_some(buf), Duration{5000});
        KEEL_CO_ASSERT_OK(n);
        EXPECT_EQ(*n, 3u);
        EXPECT_LT(Clock::now() - start, Duration{1000});  // did not wait for the timer

        // An error from the operation passes through as itself, not as a timeout.
        KEEL_CO_ASSERT_NO_ERROR(co_await pair.first->close_write());
        auto eof = co_await with_deadline(pair.second->read_some(buf), Duration{5000});
        KEEL_CO_ASSERT(!eof);
        EXPECT_EQ(eof.error(), asio::error::eof);
    });
}

}  // namespace
}  // namespace keel::net
