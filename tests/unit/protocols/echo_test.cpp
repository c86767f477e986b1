// /keel/echo/1.0.0: everything the dialer writes comes back, then the listener closes its side
// once the dialer has closed its own (or stayed silent past the idle timeout).
#include "keel/protocols/echo.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/net/memory_stream.hpp"
#include "support/net_test_util.hpp"

namespace keel::protocols {
namespace {

namespace asio = net::asio;
using namespace std::chrono_literals;
using net::awaitable;
using net::test::pattern;
using net::test::read_to_end;
using net::test::run;

TEST(Echo, EchoesBulkDataUntilTheDialerCloses) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *streams.first;
        auto& listener = *streams.second;
        const auto data = pattern(200 * 1024 + 7, 3);  // several of the listener's 16 KiB reads
        bool served = false;
        auto serve = [&]() -> awaitable<void> {
            co_await serve_echo(listener, 5s);
            served = true;
        };
        auto dial = [&]() -> awaitable<net::result<Bytes>> {
            // In pieces of odd sizes, then the half-close.
            for (std::size_t at = 0; at < data.size(); at += 5000) {
                auto n = std::min<std::size_t>(5000, data.size() - at);
                if (auto ec = co_await dialer.write_all(BytesView(data.data() + at, n)))
                    co_return ec;
            }
            if (auto ec = co_await dialer.close_write()) co_return ec;
            co_return co_await read_to_end(dialer);
        };
        using namespace asio::experimental::awaitable_operators;
        auto echoed = co_await (serve() && dial());
        KEEL_CO_ASSERT_OK(echoed);
        EXPECT_EQ(*echoed, data);
        EXPECT_TRUE(served);
    });
}

TEST(Echo, EmptyExchangeEndsCleanly) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *streams.first;
        auto& listener = *streams.second;
        auto serve = [&]() -> awaitable<void> { co_await serve_echo(listener, 5s); };
        auto dial = [&]() -> awaitable<net::result<Bytes>> {
            if (auto ec = co_await dialer.close_write()) co_return ec;
            co_return co_await read_to_end(dialer);
        };
        using namespace asio::experimental::awaitable_operators;
        auto echoed = co_await (serve() && dial());
        KEEL_CO_ASSERT_OK(echoed);
        EXPECT_TRUE(echoed->empty());
    });
}

TEST(Echo, SilentDialerIsDroppedAfterTheIdleTimeout) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *streams.first;
        auto& listener = *streams.second;
        auto started = net::Clock::now();
        auto serve = [&]() -> awaitable<void> { co_await serve_echo(listener, 100ms); };
        auto dial = [&]() -> awaitable<net::result<Bytes>> {
            if (auto ec = co_await dialer.write_all(pattern(10))) co_return ec;
            co_return co_await read_to_end(dialer);  // never closes: the listener must
        };
        using namespace asio::experimental::awaitable_operators;
        auto echoed = co_await (serve() && dial());
        KEEL_CO_ASSERT_OK(echoed);
        EXPECT_EQ(*echoed, pattern(10));
        EXPECT_GE(net::Clock::now() - started, 100ms);
    });
}

TEST(Echo, ResetByTheDialerEndsTheListener) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *streams.first;
        auto& listener = *streams.second;
        // An idle timeout longer than run()'s limit: only the reset can end the listener in time.
        bool served = false;
        auto serve = [&]() -> awaitable<void> {
            co_await serve_echo(listener, 60s);
            served = true;
        };
        auto dial = [&]() -> awaitable<bool> {
            co_await dialer.write_all(pattern(100));
            dialer.reset();
            co_return true;
        };
        using namespace asio::experimental::awaitable_operators;
        auto done = co_await (serve() && dial());
        EXPECT_TRUE(done);
        EXPECT_TRUE(served);
    });
}

}  // namespace
}  // namespace keel::protocols
