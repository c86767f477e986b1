#include "keel/protocols/keel_health.hpp"

#include <keel/proto/health.pb.h>

#include <cmath>

#include "keel/net/framing.hpp"
#include "keel/net/net_errc.hpp"

namespace keel::protocols {

net::awaitable<net::error_code> serve_health(net::ByteStream& stream, const HealthStats& stats,
                                             PingBack ping_back) {
    auto bytes = co_await net::read_length_prefixed(stream, max_health_message);
    if (!bytes) co_return bytes.error();
    pb::HealthRequest request;
    if (!request.ParseFromArray(bytes->data(), static_cast<int>(bytes->size())))
        co_return make_error_code(net::net_errc::malformed_message);
    pb::HealthResponse response;
    if (request.ping_back() && ping_back) {
        auto rtt = co_await ping_back();
        response.set_ping_back_ok(bool(rtt));
        if (rtt) response.set_ping_back_ms(std::chrono::duration<double, std::milli>(*rtt).count());
    }
    response.set_connected_peers(stats.connected_peers);
    response.set_routing_table_size(stats.routing_table_size);
    response.set_provider_records(stats.provider_records);
    response.set_stored_values(stats.stored_values);
    response.set_uptime_seconds(stats.uptime_seconds);
    response.set_agent_version(stats.agent_version);
    response.set_dht_server(stats.dht_server);
    if (auto ec =
            co_await net::write_length_prefixed(stream, to_bytes(response.SerializeAsString())))
        co_return ec;
    co_return co_await stream.close_write();
}

net::awaitable<net::result<HealthStats>> request_health(net::ByteStream& stream, bool ping_back) {
    pb::HealthRequest request;
    request.set_ping_back(ping_back);
    if (auto ec =
            co_await net::write_length_prefixed(stream, to_bytes(request.SerializeAsString())))
        co_return ec;
    auto bytes = co_await net::read_length_prefixed(stream, max_health_message);
    if (!bytes) co_return bytes.error();
    pb::HealthResponse response;
    if (!response.ParseFromArray(bytes->data(), static_cast<int>(bytes->size())))
        co_return make_error_code(net::net_errc::malformed_message);
    HealthStats stats;
    stats.connected_peers = response.connected_peers();
    stats.routing_table_size = response.routing_table_size();
    stats.provider_records = response.provider_records();
    stats.stored_values = response.stored_values();
    stats.uptime_seconds = response.uptime_seconds();
    stats.agent_version = response.agent_version().substr(0, 256);
    stats.dht_server = response.dht_server();
    stats.ping_back_ok = ping_back && response.ping_back_ok();
    if (stats.ping_back_ok && std::isfinite(response.ping_back_ms()) &&
        response.ping_back_ms() >= 0)
        stats.ping_back_ms = response.ping_back_ms();
    co_return stats;
}

net::awaitable<void> HealthRequestPacer::turn(PeerId peer) {
    auto now = net::Clock::now();
    if (next_.size() >= 1024) std::erase_if(next_, [&](const auto& e) { return e.second <= now; });
    auto& next = next_[peer];
    const auto at = std::max(now, next);
    next = at + spacing;
    if (at <= now) co_return;
    net::asio::steady_timer wait(co_await net::asio::this_coro::executor, at);
    co_await wait.async_wait(net::use_result);
}

bool PerPeerRateLimiter::allow(const PeerId& peer, net::Clock::time_point now) {
    auto it = last_.find(peer);
    if (it != last_.end() && now - it->second < interval_) return false;
    if (it == last_.end() && last_.size() >= max_peers_) {
        // Forget peers we have not heard from for a while rather than growing without bound.
        std::erase_if(last_, [&](const auto& entry) { return now - entry.second >= interval_; });
        if (last_.size() >= max_peers_) return false;
    }
    last_[peer] = now;
    return true;
}

}  // namespace keel::protocols
