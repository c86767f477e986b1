// /ipfs/ping/1.0.0: the listener echoes 32-byte payloads until the dialer closes or goes silent;
// the dialer's ping_once is one round trip and refuses a reply that differs from what it sent.
#include "keel/protocols/ping.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/net/memory_stream.hpp"
#include "keel/net/net_errc.hpp"
#include "support/net_test_util.hpp"

namespace keel::protocols {
namespace {

namespace asio = net::asio;
using namespace std::chrono_literals;
using net::awaitable;
using net::test::pattern;
using net::test::read_to_end;
using net::test::run;

TEST(Ping, ListenerEchoesEachPayloadAndClosesAfterTheDialer) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *streams.first;
        auto& listener = *streams.second;
        bool served = false;
        auto serve = [&]() -> awaitable<void> {
            co_await serve_ping(listener, 5s);
            served = true;
        };
        auto dial = [&]() -> awaitable<net::result<Bytes>> {
            for (std::uint8_t seed = 0; seed < 3; ++seed) {
                auto sent = pattern(ping_payload_size, seed);
                if (auto ec = co_await dialer.write_all(sent)) co_return ec;
                Bytes echoed(ping_payload_size);
                if (auto ec = co_await net::read_exact(dialer, echoed)) co_return ec;
                if (echoed != sent) co_return make_error_code(net::net_errc::malformed_message);
            }
            if (auto ec = co_await dialer.close_write()) co_return ec;
            co_return co_await read_to_end(dialer);  // the listener's end of stream
        };
        using namespace asio::experimental::awaitable_operators;
        auto rest = co_await (serve() && dial());
        KEEL_CO_ASSERT_OK(rest);
        EXPECT_TRUE(rest->empty());
        EXPECT_TRUE(served);
    });
}

TEST(Ping, PingOnceMeasuresRoundTripsOnOneStream) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *streams.first;
        auto& listener = *streams.second;
        auto serve = [&]() -> awaitable<void> { co_await serve_ping(listener, 5s); };
        auto dial = [&]() -> awaitable<std::vector<net::result<net::Clock::duration>>> {
            std::vector<net::result<net::Clock::duration>> rtts;
            for (int i = 0; i < 3; ++i) rtts.push_back(co_await ping_once(dialer));
            co_await dialer.close_write();
            co_return rtts;
        };
        using namespace asio::experimental::awaitable_operators;
        auto rtts = co_await (serve() && dial());
        KEEL_CO_ASSERT(rtts.size() == 3u);
        for (const auto& rtt : rtts) {
            KEEL_CO_ASSERT_OK(rtt);
            EXPECT_GE(*rtt, net::Clock::duration::zero());
        }
    });
}

TEST(Ping, WrongEchoIsAnError) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *streams.first;
        auto& listener = *streams.second;
        // A listener that answers 32 bytes, but not the ones it got.
        auto liar = [&]() -> awaitable<void> {
            Bytes payload(ping_payload_size);
            if (co_await net::read_exact(listener, payload)) co_return;
            payload[7] ^= 0x01;
            co_await listener.write_all(payload);
        };
        auto dial = [&]() -> awaitable<net::result<net::Clock::duration>> {
            co_return co_await ping_once(dialer);
        };
        using namespace asio::experimental::awaitable_operators;
        auto rtt = co_await (liar() && dial());
        KEEL_CO_ASSERT(!rtt);
        EXPECT_EQ(rtt.error(), net::net_errc::malformed_message);
    });
}

TEST(Ping, ShortReplyIsAnError) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *streams.first;
        auto& listener = *streams.second;
        // Reads the payload, echoes half of it and closes.
        auto listener_task = [&]() -> awaitable<void> {
            Bytes payload(ping_payload_size);
            if (co_await net::read_exact(listener, payload)) co_return;
            payload.resize(ping_payload_size / 2);
            co_await listener.write_all(payload);
            co_await listener.close_write();
        };
        auto dial = [&]() -> awaitable<net::result<net::Clock::duration>> {
            co_return co_await ping_once(dialer);
        };
        using namespace asio::experimental::awaitable_operators;
        auto rtt = co_await (listener_task() && dial());
        EXPECT_FALSE(rtt);
    });
}

TEST(Ping, PartialPayloadIsNotEchoed) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *streams.first;
        auto& listener = *streams.second;
        auto serve = [&]() -> awaitable<void> { co_await serve_ping(listener, 5s); };
        auto dial = [&]() -> awaitable<net::result<Bytes>> {
            if (auto ec = co_await dialer.write_all(pattern(ping_payload_size - 1))) co_return ec;
            if (auto ec = co_await dialer.close_write()) co_return ec;
            co_return co_await read_to_end(dialer);
        };
        using namespace asio::experimental::awaitable_operators;
        auto echoed = co_await (serve() && dial());
        KEEL_CO_ASSERT_OK(echoed);
        EXPECT_TRUE(echoed->empty()) << echoed->size() << " bytes echoed";
    });
}

TEST(Ping, SilentDialerIsDroppedAfterTheIdleTimeout) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *streams.first;
        auto& listener = *streams.second;
        auto started = net::Clock::now();
        auto serve = [&]() -> awaitable<void> { co_await serve_ping(listener, 100ms); };
        // The dialer sends nothing; the listener's end of stream is what ends this read.
        auto dial = [&]() -> awaitable<net::result<Bytes>> {
            co_return co_await read_to_end(dialer);
        };
        using namespace asio::experimental::awaitable_operators;
        auto got = co_await (serve() && dial());
        KEEL_CO_ASSERT_OK(got);
        EXPECT_TRUE(got->empty());
        EXPECT_GE(net::Clock::now() - started, 100ms);
    });
}

TEST(Ping, ResetStreamIsAnError) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        streams.second->reset();
        auto rtt = co_await ping_once(*streams.first);
        EXPECT_FALSE(rtt);
    });
}

}  // namespace
}  // namespace keel::protocols
