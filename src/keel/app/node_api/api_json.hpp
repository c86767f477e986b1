#pragma once
// How the API spells the node's objects in JSON (docs/api.md), shared by the routes and the
// events that redraw the same objects on a page.
#include <nlohmann/json.hpp>
#include <vector>

#include "keel/app/node_api.hpp"
#include "keel/http/message.hpp"

namespace keel::app::node_api {

using nlohmann::json;

// A 200 (or `status`) JSON answer, its body as http::json_text (bytes that are not UTF-8
// replaced).
http::HttpResponse ok(const json& body, unsigned status = 200);

json addrs_json(const std::vector<Multiaddr>& addrs);
json local_peers_json(const NodeContext& node);
json peer_json(NodeContext& node, const PeerInfo& info);
json relay_json(const relay::RelayService& relay);
// How others reach this node: at its public addresses, or through the relays it holds
// reservations on (until when, within what limits).
json reachability_json(NodeContext& node);
// One monitored bootstrap: its health, reconnect status and probe count.
json monitored_json(const health::MonitoredBootstrap& b);
json health_snapshot(NodeContext& node);
double elapsed_ms(net::Clock::time_point since);

}  // namespace keel::app::node_api
