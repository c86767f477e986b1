// GET /metrics: the Prometheus text exposition of a node's counters (docs/operations.md lists
// every series; deploy/grafana's dashboards query them, checked by a test).
#include "keel/app/node_api/prometheus_text.hpp"
#include "keel/app/node_api/routes.hpp"
#include "keel/app/process_memory.hpp"
#include "keel/host/inbound_admission.hpp"

namespace keel::app {

namespace {

using node_api::PrometheusText;
using Type = PrometheusText::Type;

void host_metrics(PrometheusText& out, NodeContext& node) {
    const auto& hs = node.host.stats();
    out.gauge("keel_connections", "Open libp2p connections", node.host.connections().size());
    out.gauge("keel_known_peers",
              "Peers in the peer store: connected, in the routing table, or gone for less than "
              "limits.forget_peers_after",
              node.host.peer_store().size());
    out.counter("keel_inbound_accepted_total", "Inbound TCP connections accepted",
                hs.inbound_accepted);
    // Every reason, zeros included, so that a series exists before its first refusal.
    out.family("keel_inbound_refused_total", Type::counter,
               "Inbound connections refused, by the limit that refused them");
    for (auto reason : all_refusals)
        out.sample({{"reason", refusal_name(reason)}}, hs.inbound_refused_by_reason[reason]);
    out.counter("keel_handshakes_total", "Completed connection upgrades", hs.upgrades_ok);
    out.counter("keel_handshake_failures_total", "Failed connection upgrades", hs.upgrade_failures);
    out.counter("keel_handshakes_evicted_total",
                "Inbound handshakes ended to make room for one from a less crowded network",
                hs.handshakes_evicted);
    out.family("keel_dial_failures_total", Type::counter, "Failed dials by phase");
    for (auto phase : all_phases)
        if (auto count = hs.dial_failures_by_phase[phase])
            out.sample({{"phase", phase_name(phase)}}, count);
}

void dht_metrics(PrometheusText& out, NodeContext& node) {
    out.gauge("keel_routing_table_size", "Peers in the Kademlia routing table",
              node.dht.routing_table().size());
    out.gauge("keel_provider_records", "Provider records held",
              node.dht.provider_store().record_count());
    out.family("keel_dht_requests_total", Type::counter,
               "DHT requests by direction, type and result");
    auto rpcs = [&](std::string_view direction, const kad::RpcCounts& counts) {
        for (const auto& [key, count] : counts)
            out.sample({{"direction", direction},
                        {"type", kad::message_type_name(key.type)},
                        {"result", kad::rpc_outcome_name(key.outcome)}},
                       count);
    };
    rpcs("served", node.dht.stats().served);
    rpcs("sent", node.dht.stats().sent);
}

void health_metrics(PrometheusText& out, NodeContext& node) {
    auto state = node.monitor.node_state();
    out.family("keel_health_state", Type::gauge, "Node health (1 for the current state)");
    for (auto s : {health::HealthState::connecting, health::HealthState::healthy,
                   health::HealthState::degraded, health::HealthState::down})
        out.sample({{"state", health::state_name(s)}}, s == state ? 1 : 0);
    const auto bootstraps = node.monitor.snapshot();
    out.family("keel_bootstrap_up", Type::gauge, "Bootstrap health (1 healthy)");
    for (const auto& b : bootstraps)
        out.sample({{"addr", b.health.addr.to_string()}},
                   b.health.state == health::HealthState::healthy ? 1 : 0);
    // The last probe's times, in seconds as Prometheus prefers; absent until measured.
    auto seconds = [&](std::string_view name, std::string_view help, auto field) {
        out.family(name, Type::gauge, help);
        for (const auto& b : bootstraps)
            if (auto ms = b.health.*field)
                out.sample({{"addr", b.health.addr.to_string()}}, *ms / 1000.0);
    };
    seconds("keel_bootstrap_ping_seconds", "Bootstrap ping round trip at the last probe",
            &health::BootstrapHealth::latency_ms);
    seconds("keel_bootstrap_find_node_seconds", "Bootstrap FIND_NODE answer time at the last probe",
            &health::BootstrapHealth::find_node_ms);
    if (const auto& self = node.self_probe) {
        out.gauge("keel_self_probe_up", "This bootstrap's probe of itself (1 healthy)",
                  self->state == health::HealthState::healthy ? 1 : 0);
        if (self->find_node_ms)
            out.gauge("keel_self_probe_find_node_seconds",
                      "FIND_NODE answer time of this bootstrap's probe of itself",
                      *self->find_node_ms / 1000.0);
    }
}

void relay_metrics(PrometheusText& out, const relay::RelayService& relay) {
    const auto& s = relay.stats();
    out.gauge("keel_relay_reservations", "Circuit Relay v2 reservations held",
              relay.reservations());
    out.gauge("keel_relay_circuits", "Relayed circuits open", relay.circuits());
    out.counter("keel_relay_reservations_granted_total", "Reservations granted or refreshed",
                s.reservations_granted);
    out.counter("keel_relay_circuits_opened_total", "Relayed circuits opened", s.circuits_opened);
    out.counter("keel_relay_bytes_total", "Bytes relayed (both directions, ended circuits)",
                s.bytes_relayed);
    // Every reason and end, zeros included, so that a series exists before its first count.
    out.family("keel_relay_refused_total", Type::counter, "Relay requests refused, by reason");
    for (auto r : relay::all_refusals)
        out.sample({{"reason", relay::refusal_name(r)}}, s.refused_by_reason[r]);
    out.family("keel_relay_circuits_ended_total", Type::counter,
               "Relayed circuits ended: closed by a peer, or cut at a limit");
    for (auto end : net::all_pipe_ends)
        out.sample({{"end", net::pipe_end_name(end)}}, s.circuits_ended_by[end]);
}

}  // namespace

std::string render_metrics(NodeContext& node) {
    PrometheusText out;
    host_metrics(out, node);
    dht_metrics(out, node);
    health_metrics(out, node);
    out.gauge("process_resident_memory_bytes", "Resident memory size in bytes",
              resident_memory_bytes());
    if (node.relay) relay_metrics(out, *node.relay);
    return out.str();
}

void node_api::install_metrics_route(http::HttpServer& server, NodeContext& node) {
    auto* n = &node;
    server.route("GET", "/metrics", [n](http::HttpRequest) -> net::awaitable<http::HttpResponse> {
        co_return http::HttpResponse{200, "text/plain; version=0.0.4", render_metrics(*n)};
    });
}

}  // namespace keel::app
