#include "keel/app/health_service.hpp"

#include "keel/net/log.hpp"
#include "keel/protocols/keel_health.hpp"

namespace keel::app {

void serve_health_protocol(kad::Dht& dht) {
    auto started = net::Clock::now();
    auto limiter = std::make_shared<protocols::PerPeerRateLimiter>(std::chrono::seconds(1));
    dht.host().set_handler(
        std::string(protocols::health_protocol_id),
        [&dht, started, limiter](std::shared_ptr<net::YamuxStream> stream,
                                 std::shared_ptr<Connection> conn) -> net::awaitable<void> {
            if (!limiter->allow(conn->peer)) {
                log().debug("event=health_rate_limited peer={}", conn->peer.short_string());
                stream->reset();
                co_return;
            }
            protocols::HealthStats stats;
            stats.connected_peers = dht.host().connections().size();
            stats.routing_table_size = dht.routing_table().size();
            stats.provider_records = dht.provider_store().record_count();
            stats.stored_values = dht.record_count();
            stats.uptime_seconds = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::seconds>(net::Clock::now() - started)
                    .count());
            stats.agent_version = dht.host().config().agent_version;
            stats.dht_server = dht.config().server_mode;
            co_await protocols::serve_health(*stream, stats);
        });
}

}  // namespace keel::app
