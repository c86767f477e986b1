#include "keel/app/history_sampler.hpp"

#include <chrono>

#include "keel/app/process_memory.hpp"
#include "keel/http/message.hpp"

namespace keel::app {

namespace asio = net::asio;

namespace {

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

float ms_or_unknown(const std::optional<double>& ms) {
    return ms ? static_cast<float>(*ms) : -1.0f;
}

std::uint32_t clamp32(std::uint64_t n) {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(n, UINT32_MAX));
}

}  // namespace

HistoryPoint sample_node(NodeContext& node, NodeHistory& history) {
    HistoryPoint p;
    p.unix_ms = unix_ms_now();
    p.node_state = node.monitor.node_state();
    p.connections = clamp32(node.host.connections().size());
    p.routing_table_size = clamp32(node.dht.routing_table().size());
    p.rss_bytes = resident_memory_bytes();
    p.inbound_accepted = node.host.stats().inbound_accepted;
    p.inbound_refused = node.host.stats().inbound_refused;
    if (node.relay) {
        p.relay_reservations = clamp32(node.relay->reservations());
        p.relay_circuits = clamp32(node.relay->circuits());
        p.relay_bytes = node.relay->stats().bytes_relayed;
    }
    const auto& stats = node.host.stats();
    for (std::size_t i = 0; i < all_refusals.size(); ++i)
        p.inbound_refused_by_reason[i] = stats.inbound_refused_by_reason[all_refusals[i]];
    for (const auto& [key, n] : node.dht.stats().served) {
        p.dht_requests_served += n;
        const auto type = kad::message_type_name(key.type);
        for (std::size_t i = 0; i < dht_types.size(); ++i)
            if (dht_types[i] == type) p.dht_served_by_type[i] += n;
    }
    for (const auto& b : node.monitor.snapshot()) {
        auto index = history.bootstrap_index(b.health.addr.to_string());
        if (!index) continue;
        BootstrapPoint bp;
        bp.bootstrap = *index;
        bp.state = b.health.state;
        bp.latency_ms = ms_or_unknown(b.health.latency_ms);
        bp.find_node_ms = ms_or_unknown(b.health.find_node_ms);
        bp.peer_count = clamp32(b.health.peer_count.value_or(0));
        bp.routing_table_size = clamp32(b.health.routing_table_size.value_or(0));
        p.bootstraps.push_back(bp);
    }
    return p;
}

void sample_history_periodically(NodeContext& node, NodeHistory& history, asio::steady_timer& timer,
                                 std::shared_ptr<bool> alive) {
    node.monitor.on_change(
        [&history, alive](const health::MonitoredBootstrap& b, health::HealthState previous) {
            // Called after every probe; only a change of state is a mark.
            if (!*alive || previous == b.health.state) return;
            auto index = history.bootstrap_index(b.health.addr.to_string());
            if (index) history.mark({unix_ms_now(), *index, previous, b.health.state});
        });
    asio::co_spawn(
        node.host.get_executor(),
        [&node, &history, &timer, alive]() -> net::awaitable<void> {
            while (*alive) {
                auto point = sample_node(node, history);
                node.events.publish("history", http::json_text(history.point_json(point)));
                history.record(std::move(point));
                timer.expires_after(history.limits().step);
                auto [ec] = co_await timer.async_wait(net::use_result);
                if (ec || !*alive) co_return;
            }
        },
        asio::detached);
}

}  // namespace keel::app
