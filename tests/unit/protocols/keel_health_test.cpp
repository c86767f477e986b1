// /keel/health/1.0.0: one request, one response; the ping back when asked for; what either side
// does with bad input; and the per-peer rate limit.
#include "keel/protocols/keel_health.hpp"

#include <keel/proto/health.pb.h>

#include <array>
#include <cmath>
#include <limits>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/base/varint.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/net/net_errc.hpp"
#include "support/net_test_util.hpp"

namespace keel::protocols {
namespace {

namespace asio = net::asio;
using namespace std::chrono_literals;
using net::awaitable;
using net::test::ProbeStream;
using net::test::read_to_end;
using net::test::run;

HealthStats sample_stats() {
    HealthStats stats;
    stats.connected_peers = 42;
    stats.routing_table_size = 17;
    stats.provider_records = 1234;
    stats.stored_values = 5;
    stats.uptime_seconds = 86400 * 3 + 1;
    stats.agent_version = "keel/1.2.3";
    stats.dht_server = true;
    return stats;
}

struct Exchange {
    net::error_code served;
    net::result<HealthStats> answer;
};

// serve_health on one end of a memory stream, request_health on the other.
awaitable<Exchange> exchange(const HealthStats& stats, PingBack ping_back, bool ask_ping_back) {
    auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
    auto& client = *streams.first;
    auto& server = *streams.second;
    auto serve = [&]() -> awaitable<net::error_code> {
        co_return co_await serve_health(server, stats, ping_back);
    };
    auto request = [&]() -> awaitable<net::result<HealthStats>> {
        co_return co_await request_health(client, ask_ping_back);
    };
    using namespace asio::experimental::awaitable_operators;
    auto [served, answer] = co_await (serve() && request());
    co_return Exchange{served, std::move(answer)};
}

// A server that answers any request with `raw` (already framed) and closes.
awaitable<net::result<HealthStats>> request_from_fake(Bytes raw, bool ask_ping_back = false) {
    auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
    auto& client = *streams.first;
    auto& server = *streams.second;
    auto fake = [&]() -> awaitable<void> {
        auto request = co_await net::read_length_prefixed(server, max_health_message);
        if (!request) co_return;
        co_await server.write_all(raw);
        co_await server.close_write();
    };
    auto request = [&]() -> awaitable<net::result<HealthStats>> {
        co_return co_await request_health(client, ask_ping_back);
    };
    using namespace asio::experimental::awaitable_operators;
    co_return co_await (fake() && request());
}

Bytes framed(const pb::HealthResponse& response) {
    return net::length_prefixed(to_bytes(response.SerializeAsString()));
}

// ---- request and response ---------------------------------------------------------------------

TEST(KeelHealth, StatsArriveIntact) {
    run([]() -> awaitable<void> {
        const auto stats = sample_stats();
        auto ex = co_await exchange(stats, {}, false);
        KEEL_CO_ASSERT_NO_ERROR(ex.served);
        KEEL_CO_ASSERT_OK(ex.answer);
        EXPECT_EQ(ex.answer->connected_peers, stats.connected_peers);
        EXPECT_EQ(ex.answer->routing_table_size, stats.routing_table_size);
        EXPECT_EQ(ex.answer->provider_records, stats.provider_records);
        EXPECT_EQ(ex.answer->stored_values, stats.stored_values);
        EXPECT_EQ(ex.answer->uptime_seconds, stats.uptime_seconds);
        EXPECT_EQ(ex.answer->agent_version, stats.agent_version);
        EXPECT_EQ(ex.answer->dht_server, stats.dht_server);
        EXPECT_FALSE(ex.answer->ping_back_ok);
        EXPECT_FALSE(ex.answer->ping_back_ms.has_value());
    });
}

TEST(KeelHealth, ServerClosesAfterItsAnswer) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& client = *streams.first;
        auto& server = *streams.second;
        const auto stats = sample_stats();
        auto serve = [&]() -> awaitable<net::error_code> {
            co_return co_await serve_health(server, stats);
        };
        auto request = [&]() -> awaitable<net::result<Bytes>> {
            auto answer = co_await request_health(client);
            if (!answer) co_return answer.error();
            co_return co_await read_to_end(client);  // nothing more, then end of stream
        };
        using namespace asio::experimental::awaitable_operators;
        auto [served, rest] = co_await (serve() && request());
        KEEL_CO_ASSERT_NO_ERROR(served);
        KEEL_CO_ASSERT_OK(rest);
        EXPECT_TRUE(rest->empty());
    });
}

TEST(KeelHealth, PingBackRunsWhenAskedAndReportsTheRoundTrip) {
    run([]() -> awaitable<void> {
        int calls = 0;
        PingBack ping_back = [&calls]() -> awaitable<net::result<net::Clock::duration>> {
            ++calls;
            co_return std::chrono::microseconds(12'500);
        };
        auto ex = co_await exchange(sample_stats(), ping_back, true);
        KEEL_CO_ASSERT_NO_ERROR(ex.served);
        KEEL_CO_ASSERT_OK(ex.answer);
        EXPECT_EQ(calls, 1);
        EXPECT_TRUE(ex.answer->ping_back_ok);
        KEEL_CO_ASSERT(ex.answer->ping_back_ms.has_value());
        EXPECT_DOUBLE_EQ(*ex.answer->ping_back_ms, 12.5);
        EXPECT_EQ(ex.answer->connected_peers, 42u);  // the stats come with it
    });
}

TEST(KeelHealth, FailedPingBackIsReportedAsSuch) {
    run([]() -> awaitable<void> {
        PingBack ping_back = []() -> awaitable<net::result<net::Clock::duration>> {
            co_return make_error_code(net::net_errc::timeout);
        };
        auto ex = co_await exchange(sample_stats(), ping_back, true);
        KEEL_CO_ASSERT_NO_ERROR(ex.served);
        KEEL_CO_ASSERT_OK(ex.answer);
        EXPECT_FALSE(ex.answer->ping_back_ok);
        EXPECT_FALSE(ex.answer->ping_back_ms.has_value());
    });
}

TEST(KeelHealth, PingBackAskedOfAServerWithoutOne) {
    run([]() -> awaitable<void> {
        auto ex = co_await exchange(sample_stats(), {}, true);
        KEEL_CO_ASSERT_NO_ERROR(ex.served);
        KEEL_CO_ASSERT_OK(ex.answer);
        EXPECT_FALSE(ex.answer->ping_back_ok);
        EXPECT_FALSE(ex.answer->ping_back_ms.has_value());
        EXPECT_EQ(ex.answer->agent_version, "keel/1.2.3");
    });
}

TEST(KeelHealth, PingBackNotAskedIsNotRun) {
    run([]() -> awaitable<void> {
        int calls = 0;
        PingBack ping_back = [&calls]() -> awaitable<net::result<net::Clock::duration>> {
            ++calls;
            co_return std::chrono::milliseconds(1);
        };
        auto ex = co_await exchange(sample_stats(), ping_back, false);
        KEEL_CO_ASSERT_NO_ERROR(ex.served);
        KEEL_CO_ASSERT_OK(ex.answer);
        EXPECT_EQ(calls, 0);
        EXPECT_FALSE(ex.answer->ping_back_ok);
    });
}

// ---- bad input at the server ------------------------------------------------------------------

// serve_health against raw request bytes (then a half-close); returns its error and what it wrote.
struct Served {
    net::error_code error;
    Bytes written;
};
awaitable<Served> serve_raw(Bytes raw) {
    auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
    ProbeStream server(std::move(streams.second));
    auto& client = *streams.first;
    if (auto ec = co_await client.write_all(raw)) co_return Served{ec, {}};
    co_await client.close_write();
    auto ec = co_await serve_health(server, sample_stats());
    co_return Served{ec, server.log()->written};
}

TEST(KeelHealth, ServerRefusesAnOversizedRequestWithoutAnswering) {
    run([]() -> awaitable<void> {
        Bytes raw;
        append_uvarint(raw, max_health_message + 1);
        raw.resize(raw.size() + 16, 0);
        auto served = co_await serve_raw(raw);
        EXPECT_EQ(served.error, net::net_errc::message_too_large);
        EXPECT_TRUE(served.written.empty());
    });
}

TEST(KeelHealth, ServerRefusesAMalformedRequestWithoutAnswering) {
    run([]() -> awaitable<void> {
        const Bytes junk{0x08, 0x80};  // field 1, a varint that never ends
        auto served = co_await serve_raw(net::length_prefixed(junk));
        EXPECT_EQ(served.error, net::net_errc::malformed_message);
        EXPECT_TRUE(served.written.empty());
    });
}

TEST(KeelHealth, ServerRefusesATruncatedOrMissingRequest) {
    run([]() -> awaitable<void> {
        auto truncated = net::length_prefixed(Bytes{0x08, 0x01});
        truncated.pop_back();
        auto served = co_await serve_raw(truncated);
        EXPECT_TRUE(served.error);
        EXPECT_TRUE(served.written.empty());

        Bytes nothing;
        served = co_await serve_raw(nothing);
        EXPECT_TRUE(served.error);
        EXPECT_TRUE(served.written.empty());
    });
}

TEST(KeelHealth, EmptyRequestIsAPlainRequest) {
    // proto3: every field at its default, so zero bytes ask for the stats without a ping back.
    run([]() -> awaitable<void> {
        const Bytes empty;
        auto served = co_await serve_raw(net::length_prefixed(empty));
        KEEL_CO_ASSERT_NO_ERROR(served.error);
        KEEL_CO_ASSERT(!served.written.empty());
    });
}

// ---- bad input at the client ------------------------------------------------------------------

TEST(KeelHealth, ClientRefusesAnOversizedResponse) {
    run([]() -> awaitable<void> {
        pb::HealthResponse response;
        response.set_agent_version(std::string(max_health_message, 'x'));
        auto answer = co_await request_from_fake(framed(response));
        KEEL_CO_ASSERT(!answer);
        EXPECT_EQ(answer.error(), net::net_errc::message_too_large);
    });
}

TEST(KeelHealth, ClientRefusesAMalformedResponse) {
    run([]() -> awaitable<void> {
        const Bytes junk{0x0a, 0x09, 0x01};  // a 9-byte field with 1 byte
        auto answer = co_await request_from_fake(net::length_prefixed(junk));
        KEEL_CO_ASSERT(!answer);
        EXPECT_EQ(answer.error(), net::net_errc::malformed_message);
    });
}

TEST(KeelHealth, ClientFailsWhenTheServerClosesWithoutAnswer) {
    run([]() -> awaitable<void> {
        Bytes nothing;
        auto answer = co_await request_from_fake(nothing);
        EXPECT_FALSE(answer);
    });
}

TEST(KeelHealth, ClientCapsTheAgentVersion) {
    run([]() -> awaitable<void> {
        pb::HealthResponse response;
        response.set_agent_version(std::string(1000, 'v'));
        auto answer = co_await request_from_fake(framed(response));
        KEEL_CO_ASSERT_OK(answer);
        EXPECT_EQ(answer->agent_version, std::string(256, 'v'));
    });
}

TEST(KeelHealth, ClientIgnoresAPingBackItDidNotAskFor) {
    run([]() -> awaitable<void> {
        pb::HealthResponse response;
        response.set_ping_back_ok(true);
        response.set_ping_back_ms(3.0);
        auto answer = co_await request_from_fake(framed(response), false);
        KEEL_CO_ASSERT_OK(answer);
        EXPECT_FALSE(answer->ping_back_ok);
        EXPECT_FALSE(answer->ping_back_ms.has_value());
    });
}

TEST(KeelHealth, ClientDropsAnImpossibleRoundTrip) {
    run([]() -> awaitable<void> {
        const std::array<double, 3> impossible{-1.0, std::numeric_limits<double>::quiet_NaN(),
                                               std::numeric_limits<double>::infinity()};
        for (double ms : impossible) {
            pb::HealthResponse response;
            response.set_ping_back_ok(true);
            response.set_ping_back_ms(ms);
            auto answer = co_await request_from_fake(framed(response), true);
            KEEL_CO_ASSERT_OK(answer);
            EXPECT_TRUE(answer->ping_back_ok) << ms;
            EXPECT_FALSE(answer->ping_back_ms.has_value()) << ms;
        }
    });
}

// ---- the requester's pacing -------------------------------------------------------------------

TEST(HealthRequestPacer, PacesAtLeastAsSlowlyAsTheServersLimit) {
    EXPECT_GE(HealthRequestPacer::spacing, health_request_interval);
}

TEST(HealthRequestPacer, FirstTurnIsAtOnceTheNextWaitsTheSpacing) {
    run([]() -> awaitable<void> {
        HealthRequestPacer pacer;
        const auto a = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
        const auto b = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
        const auto t0 = net::Clock::now();
        co_await pacer.turn(a);
        co_await pacer.turn(b);  // another peer: its own turns
        EXPECT_LT(net::Clock::now() - t0, HealthRequestPacer::spacing);
        co_await pacer.turn(a);
        EXPECT_GE(net::Clock::now() - t0, HealthRequestPacer::spacing);
    });
}

TEST(HealthRequestPacer, ConcurrentAskersQueueUp) {
    run([]() -> awaitable<void> {
        HealthRequestPacer pacer;
        const auto a = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
        const auto t0 = net::Clock::now();
        std::vector<net::Clock::duration> done;
        auto ask = [&]() -> awaitable<void> {
            co_await pacer.turn(a);
            done.push_back(net::Clock::now() - t0);
        };
        using namespace asio::experimental::awaitable_operators;
        co_await (ask() && ask() && ask());
        KEEL_CO_ASSERT(done.size() == 3u);
        EXPECT_LT(done[0], HealthRequestPacer::spacing);
        EXPECT_GE(done[1], HealthRequestPacer::spacing);
        EXPECT_GE(done[2], 2 * HealthRequestPacer::spacing);
    });
}

// ---- the rate limit ---------------------------------------------------------------------------

PeerId some_peer() {
    return PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
}

TEST(PerPeerRateLimiter, OneRequestPerPeerPerInterval) {
    PerPeerRateLimiter limiter(1000ms);
    const auto a = some_peer();
    const auto t0 = net::Clock::now();
    EXPECT_TRUE(limiter.allow(a, t0));
    EXPECT_FALSE(limiter.allow(a, t0));
    EXPECT_FALSE(limiter.allow(a, t0 + 999ms));
    EXPECT_TRUE(limiter.allow(a, t0 + 1000ms));
    EXPECT_FALSE(limiter.allow(a, t0 + 1500ms));  // the interval counts from the last allowed
    EXPECT_TRUE(limiter.allow(a, t0 + 2000ms));
}

TEST(PerPeerRateLimiter, PeersAreLimitedSeparately) {
    PerPeerRateLimiter limiter(1000ms);
    const auto a = some_peer();
    const auto b = some_peer();
    const auto t0 = net::Clock::now();
    EXPECT_TRUE(limiter.allow(a, t0));
    EXPECT_TRUE(limiter.allow(b, t0));
    EXPECT_FALSE(limiter.allow(a, t0 + 10ms));
    EXPECT_FALSE(limiter.allow(b, t0 + 10ms));
}

TEST(PerPeerRateLimiter, FullTableForgetsQuietPeersOnly) {
    PerPeerRateLimiter limiter(1000ms, 2);
    const auto a = some_peer();
    const auto b = some_peer();
    const auto c = some_peer();
    const auto t0 = net::Clock::now();
    EXPECT_TRUE(limiter.allow(a, t0));
    EXPECT_TRUE(limiter.allow(b, t0 + 500ms));
    // Full, and both were heard from within the interval: a new peer is refused.
    EXPECT_FALSE(limiter.allow(c, t0 + 600ms));
    // Once a's interval has passed, it is forgotten to make room; b, still recent, is not.
    EXPECT_TRUE(limiter.allow(c, t0 + 1200ms));
    EXPECT_FALSE(limiter.allow(b, t0 + 1300ms));
    EXPECT_FALSE(limiter.allow(c, t0 + 1300ms));
}

}  // namespace
}  // namespace keel::protocols
