#include "keel/app/node_api/api_json.hpp"

#include <algorithm>
#include <chrono>

#include "keel/app/health_json.hpp"
#include "keel/host/tcp_address.hpp"

namespace keel::app::node_api {

namespace {

const LocalPeer* find_local(const NodeContext& node, const PeerId& id) {
    for (const auto& l : node.local_peers)
        if (l.peer_id == id) return &l;
    return nullptr;
}

std::int64_t epoch_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

http::HttpResponse ok(const json& body, unsigned status) {
    return {status, "application/json", http::json_text(body)};
}

double elapsed_ms(net::Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(net::Clock::now() - since).count();
}

json addrs_json(const std::vector<Multiaddr>& addrs) {
    json out = json::array();
    for (const auto& a : addrs) out.push_back(a.to_string());
    return out;
}

json local_peers_json(const NodeContext& node) {
    json out = json::array();
    for (const auto& l : node.local_peers)
        out.push_back({{"peer_id", l.peer_id.to_base58()}, {"role", l.role}, {"label", l.label}});
    return out;
}

json peer_json(NodeContext& node, const PeerInfo& info) {
    auto conns = node.host.connections_to(info.id);
    json j{{"peer_id", info.id.to_base58()},
           {"addrs", addrs_json(info.addrs)},
           {"agent_version", info.agent_version},
           {"protocol_version", info.protocol_version},
           {"protocols", info.protocols},
           {"connected", !conns.empty()},
           {"in_routing_table", node.dht.routing_table().contains(info.id)}};
    if (!conns.empty()) {
        j["direction"] = conns.front()->direction == Direction::inbound ? "inbound" : "outbound";
        // Only relayed connections (a relay's byte and time limits apply), or a direct one too.
        j["limited"] =
            std::all_of(conns.begin(), conns.end(), [](const auto& c) { return c->limited; });
    }
    const auto* local = find_local(node, info.id);
    j["local"] = local != nullptr;
    if (local) {
        j["local_role"] = local->role;
        j["label"] = local->label;
    }
    return j;
}

json relay_json(const relay::RelayService& relay) {
    const auto& s = relay.stats();
    json refused = json::object();
    for (auto r : relay::all_refusals)
        if (auto n = s.refused_by_reason[r]) refused[std::string(relay::refusal_name(r))] = n;
    json ended = json::object();
    for (auto end : net::all_pipe_ends)
        if (auto n = s.circuits_ended_by[end]) ended[std::string(net::pipe_end_name(end))] = n;
    const auto& c = relay.config();
    return {{"reservations", relay.reservations()},
            {"circuits", relay.circuits()},
            {"reservations_granted", s.reservations_granted},
            {"circuits_opened", s.circuits_opened},
            {"bytes_relayed", s.bytes_relayed},
            {"refused_by_reason", refused},
            {"circuits_ended_by", ended},
            {"limits",
             {{"max_reservations", c.max_reservations},
              {"max_circuits", c.max_circuits},
              {"circuit_bytes", c.circuit_bytes},
              {"circuit_duration_s",
               std::chrono::duration_cast<std::chrono::seconds>(c.circuit_duration).count()}}}};
}

json reachability_json(NodeContext& node) {
    json public_addrs = json::array();
    for (const auto& a : node.host.public_addrs())
        if (is_public_address(a)) public_addrs.push_back(a.to_string());
    json relayed = json::array();
    if (node.relay_client)
        for (const auto& r : node.relay_client->reservations())
            relayed.push_back({{"relay", r.relay.to_string()},
                               {"relay_peer", r.relay_peer.to_base58()},
                               {"expires_ms", epoch_ms(r.expires)},
                               {"addrs", addrs_json(r.circuit_addrs)},
                               {"limit_bytes", r.limit_bytes},
                               {"limit_duration_s", r.limit_duration_s}});
    const char* how = !public_addrs.empty() ? "public" : !relayed.empty() ? "relayed" : "private";
    return {{"status", how}, {"public_addrs", public_addrs}, {"relays", relayed}};
}

json monitored_json(const health::MonitoredBootstrap& b) {
    auto j = health_to_json(b.health);
    j["reconnect"] = {{"active", b.reconnect.active},
                      {"attempt", b.reconnect.attempt},
                      {"next_attempt_ms", epoch_ms(b.reconnect.next_attempt)}};
    j["probes"] = b.probes;
    return j;
}

json health_snapshot(NodeContext& node) {
    json list = json::array();
    for (const auto& b : node.monitor.snapshot()) list.push_back(monitored_json(b));
    return {{"node_state", health::state_name(node.monitor.node_state())},
            {"routing_table_size", node.dht.routing_table().size()},
            {"bootstraps", list}};
}

}  // namespace keel::app::node_api
