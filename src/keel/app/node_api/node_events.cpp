// What the event stream (GET /api/v1/events) carries besides verification progress: connections
// opening and closing, peers identified, health changes and reachability changes, each with
// everything a page needs to redraw what changed without asking again.
#include "keel/app/node_api/api_json.hpp"
#include "keel/app/node_api/routes.hpp"

namespace keel::app::node_api {

void publish_node_events(NodeContext& node) {
    auto* n = &node;
    node.host.observe_connections([n](const std::shared_ptr<Connection>& c, bool opened) {
        n->events.publish(
            opened ? "peer_connected" : "peer_disconnected",
            http::json_text(
                json{{"peer_id", c->peer.to_base58()},
                     {"addr", c->remote_addr.to_string()},
                     {"direction", c->direction == Direction::inbound ? "inbound" : "outbound"},
                     {"limited", c->limited}}));
    });
    node.host.observe_identified([n](const std::shared_ptr<Connection>& c) {
        if (auto info = n->host.peer_store().get(c->peer))
            n->events.publish("peer_discovered", http::json_text(peer_json(*n, *info)));
    });
    node.monitor.on_change([n](const health::MonitoredBootstrap& b, health::HealthState previous) {
        auto j = monitored_json(b);
        j["previous"] = health::state_name(previous);
        j["node_state"] = health::state_name(n->monitor.node_state());
        j["node_routing_table_size"] = n->dht.routing_table().size();
        j["reconnect_attempt"] = b.reconnect.attempt;
        n->events.publish("health", http::json_text(j));
    });
    if (node.relay_client)
        node.relay_client->on_change(
            [n] { n->events.publish("reachability", http::json_text(reachability_json(*n))); });
}

}  // namespace keel::app::node_api
