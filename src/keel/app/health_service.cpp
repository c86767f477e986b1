#include "keel/app/health_service.hpp"

#include "keel/net/deadline.hpp"
#include "keel/net/log.hpp"
#include "keel/protocols/keel_health.hpp"
#include "keel/protocols/ping.hpp"

namespace keel::app {

namespace {

// Opens a ping stream to the requester on its own connection and pings it once.
net::awaitable<net::result<net::Clock::duration>> ping_requester(Host& host,
                                                                 std::shared_ptr<Connection> conn) {
    std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
    auto stream = co_await host.new_stream(conn, std::move(wanted));
    if (!stream) co_return stream.error().error;
    auto rtt = co_await protocols::ping_once(**stream);
    co_await (*stream)->close_write();
    co_return rtt;
}

}  // namespace

void serve_health_protocol(kad::Dht& dht, HealthServiceConfig config) {
    auto started = net::Clock::now();
    auto limiter =
        std::make_shared<protocols::PerPeerRateLimiter>(protocols::health_request_interval);
    auto in_flight = std::make_shared<std::size_t>(0);
    dht.host().set_handler(
        std::string(protocols::health_protocol_id),
        [&dht, started, limiter, in_flight, config](
            std::shared_ptr<net::YamuxStream> stream,
            std::shared_ptr<Connection> conn) -> net::awaitable<void> {
            // One request per peer per second, ping back or not: a ping back costs a stream and
            // a round trip, no more than a ping the peer could ask for itself.
            if (!limiter->allow(conn->peer)) {
                log().debug("event=health_rate_limited peer={}", conn->peer);
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
            std::weak_ptr<Connection> weak = conn;
            protocols::PingBack ping_back =
                [&dht, weak, in_flight,
                 config]() -> net::awaitable<net::result<net::Clock::duration>> {
                auto target = weak.lock();
                if (!target || !target->is_open())
                    co_return make_error_code(net::net_errc::connection_closed);
                if (*in_flight >= config.max_ping_backs_in_flight)
                    co_return make_error_code(net::net_errc::stream_limit);
                ++*in_flight;
                auto rtt = co_await net::with_deadline(ping_requester(dht.host(), target),
                                                       config.ping_back_timeout);
                --*in_flight;
                log().debug("event=health_ping_back peer={} ok={}", target->peer, bool(rtt));
                co_return rtt;
            };
            auto ec = co_await net::with_deadline(
                protocols::serve_health(*stream, stats, std::move(ping_back)),
                config.request_timeout + config.ping_back_timeout);
            if (ec) stream->reset();
        });
}

}  // namespace keel::app
