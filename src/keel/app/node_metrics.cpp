// GET /metrics: the Prometheus text exposition of a node's counters (docs/operations.md lists
// every series; deploy/grafana's dashboards query them, checked by a test).
#include <sstream>

#include "keel/app/node_api.hpp"
#include "keel/app/process_memory.hpp"
#include "keel/host/inbound_admission.hpp"

namespace keel::app {

std::string render_metrics(NodeContext& node) {
    std::ostringstream out;
    auto gauge = [&](std::string_view name, std::string_view help, auto value) {
        out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n"
            << name << ' ' << value << '\n';
    };
    auto counter = [&](std::string_view name, std::string_view help, auto value) {
        out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n"
            << name << ' ' << value << '\n';
    };
    auto labelled_counter = [&](std::string_view name, std::string_view help,
                                std::string_view label,
                                const std::map<std::string, std::uint64_t>& values) {
        out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n";
        for (const auto& [key, value] : values)
            out << name << '{' << label << "=\"" << key << "\"} " << value << '\n';
    };
    const auto& hs = node.host.stats();
    gauge("keel_connections", "Open libp2p connections", node.host.connections().size());
    counter("keel_inbound_accepted_total", "Inbound TCP connections accepted", hs.inbound_accepted);
    // Every reason, zeros included, so that a series exists before its first refusal.
    out << "# HELP keel_inbound_refused_total Inbound connections refused, by the limit that "
           "refused them\n"
           "# TYPE keel_inbound_refused_total counter\n";
    for (auto reason : all_refusals) {
        auto name = refusal_name(reason);
        auto it = hs.inbound_refused_by_reason.find(std::string(name));
        out << "keel_inbound_refused_total{reason=\"" << name << "\"} "
            << (it == hs.inbound_refused_by_reason.end() ? 0 : it->second) << '\n';
    }
    counter("keel_handshakes_total", "Completed connection upgrades", hs.upgrades_ok);
    counter("keel_handshake_failures_total", "Failed connection upgrades", hs.upgrade_failures);
    out << "# HELP keel_dial_failures_total Failed dials by phase\n"
           "# TYPE keel_dial_failures_total counter\n";
    for (const auto& [phase, count] : hs.dial_failures_by_phase)
        out << "keel_dial_failures_total{phase=\"" << phase << "\"} " << count << '\n';
    gauge("keel_routing_table_size", "Peers in the Kademlia routing table",
          node.dht.routing_table().size());
    gauge("keel_provider_records", "Provider records held",
          node.dht.provider_store().record_count());
    out << "# HELP keel_dht_requests_total DHT requests by direction, type and result\n"
           "# TYPE keel_dht_requests_total counter\n";
    auto rpc = [&](std::string_view direction, const std::map<std::string, std::uint64_t>& m) {
        for (const auto& [key, count] : m) {
            auto space = key.find(' ');
            out << "keel_dht_requests_total{direction=\"" << direction << "\",type=\""
                << key.substr(0, space) << "\",result=\"" << key.substr(space + 1) << "\"} "
                << count << '\n';
        }
    };
    rpc("served", node.dht.stats().served);
    rpc("sent", node.dht.stats().sent);
    auto state = node.monitor.node_state();
    out << "# HELP keel_health_state Node health (1 for the current state)\n"
           "# TYPE keel_health_state gauge\n";
    for (auto s : {health::HealthState::connecting, health::HealthState::healthy,
                   health::HealthState::degraded, health::HealthState::down})
        out << "keel_health_state{state=\"" << health::state_name(s) << "\"} "
            << (s == state ? 1 : 0) << '\n';
    const auto bootstraps = node.monitor.snapshot();
    out << "# HELP keel_bootstrap_up Bootstrap health (1 healthy)\n"
           "# TYPE keel_bootstrap_up gauge\n";
    for (const auto& b : bootstraps)
        out << "keel_bootstrap_up{addr=\"" << b.health.addr.to_string() << "\"} "
            << (b.health.state == health::HealthState::healthy ? 1 : 0) << '\n';
    // The last probe's times, in seconds as Prometheus prefers; absent until measured.
    auto seconds = [&](std::string_view name, std::string_view help, auto field) {
        out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n";
        for (const auto& b : bootstraps)
            if (auto ms = b.health.*field)
                out << name << "{addr=\"" << b.health.addr.to_string() << "\"} " << *ms / 1000.0
                    << '\n';
    };
    seconds("keel_bootstrap_ping_seconds", "Bootstrap ping round trip at the last probe",
            &health::BootstrapHealth::latency_ms);
    seconds("keel_bootstrap_find_node_seconds", "Bootstrap FIND_NODE answer time at the last probe",
            &health::BootstrapHealth::find_node_ms);
    gauge("process_resident_memory_bytes", "Resident memory size in bytes",
          resident_memory_bytes());
    if (const auto* relay = node.relay) {
        const auto& s = relay->stats();
        gauge("keel_relay_reservations", "Circuit Relay v2 reservations held",
              relay->reservations());
        gauge("keel_relay_circuits", "Relayed circuits open", relay->circuits());
        counter("keel_relay_reservations_granted_total", "Reservations granted or refreshed",
                s.reservations_granted);
        counter("keel_relay_circuits_opened_total", "Relayed circuits opened", s.circuits_opened);
        counter("keel_relay_bytes_total", "Bytes relayed (both directions, ended circuits)",
                s.bytes_relayed);
        // Every reason and end, zeros included, so that a series exists before its first count.
        auto refused = s.refused_by_reason;
        for (auto r : relay::all_refusals)
            refused.try_emplace(std::string(relay::refusal_name(r)), 0);
        labelled_counter("keel_relay_refused_total", "Relay requests refused, by reason", "reason",
                         refused);
        auto ended = s.circuits_ended_by;
        for (const char* end : {"closed", "idle", "duration", "bytes"}) ended.try_emplace(end, 0);
        labelled_counter("keel_relay_circuits_ended_total",
                         "Relayed circuits ended: closed by a peer, or cut at a limit", "end",
                         ended);
    }
    if (const auto& self = node.self_probe) {
        gauge("keel_self_probe_up", "This bootstrap's probe of itself (1 healthy)",
              self->state == health::HealthState::healthy ? 1 : 0);
        if (self->find_node_ms)
            gauge("keel_self_probe_find_node_seconds",
                  "FIND_NODE answer time of this bootstrap's probe of itself",
                  *self->find_node_ms / 1000.0);
    }
    return out.str();
}

}  // namespace keel::app
