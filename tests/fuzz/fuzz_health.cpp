// /keel/health/1.0.0 on both sides against a peer whose bytes are the input: the first byte picks
// Keel's role (server: serve_health reads the request, maybe pings back, answers; client:
// request_health reads the answer). Properties: the client's figures come from one message of at
// most max_health_message bytes and a ping back time, when present, is a finite non-negative
// number; the server answers (or fails) without waiting on anything but the request bytes.
#include <cmath>

#include <boost/asio/io_context.hpp>

#include "fuzz_util.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/protocols/keel_health.hpp"

using namespace keel;
using namespace keel::protocols;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t mode = in.byte();
    BytesView wire = in.rest();
    net::asio::io_context io;
    auto pair = net::make_memory_stream_pair(io.get_executor());
    auto& local = pair.first;
    auto& remote = pair.second;
    bool finished = fuzz::drive(io, [&]() -> net::awaitable<void> {
        co_await remote->write_all(wire);
        co_await remote->close_write();
        if (mode & 1) {
            HealthStats stats;
            stats.connected_peers = 3;
            stats.agent_version = "keel/fuzz";
            PingBack ping_back;
            if (mode & 2) {
                ping_back = []() -> net::awaitable<net::result<net::Clock::duration>> {
                    co_return net::Clock::duration(std::chrono::milliseconds(5));
                };
            }
            co_await serve_health(*local, stats, ping_back);
        } else {
            auto stats = co_await request_health(*local, (mode & 2) != 0);
            if (!stats) co_return;
            KEEL_FUZZ_CHECK(wire.size() >= 1);
            if (stats->ping_back_ms)
                KEEL_FUZZ_CHECK(std::isfinite(*stats->ping_back_ms) && *stats->ping_back_ms >= 0);
        }
    });
    KEEL_FUZZ_CHECK(finished);
    return 0;
}
