// GET /api/v1/node (who and how this node is) and GET /api/v1/history (its last hour or day).
#include <chrono>

#include "keel/app/health_json.hpp"
#include "keel/app/node_api/api_json.hpp"
#include "keel/app/node_api/request_parsing.hpp"
#include "keel/app/node_api/routes.hpp"
#include "keel/app/node_history.hpp"

namespace keel::app::node_api {

using http::HttpRequest;
using http::HttpResponse;

namespace {

json node_json(NodeContext& n) {
    return {
        {"peer_id", n.host.peer_id().to_base58()},
        {"state", health::state_name(n.monitor.node_state())},
        {"listen_addrs", addrs_json(n.host.listen_addrs())},
        {"connections", n.host.connections().size()},
        {"routing_table_size", n.dht.routing_table().size()},
        {"dht_mode", n.dht.config().server_mode ? "server" : "client"},
        {"kad_protocol", n.dht.config().profile.kad_protocol},
        {"agent_version", n.host.config().agent_version},
        {"uptime_s",
         std::chrono::duration_cast<std::chrono::seconds>(net::Clock::now() - n.started).count()},
        {"local_peers", local_peers_json(n)},
        {"role", n.is_bootstrap ? "bootstrap" : "node"},
        {"self_probe", n.self_probe ? health_to_json(*n.self_probe) : json()},
        {"relay", n.relay ? relay_json(*n.relay) : json()},
        {"reachability", reachability_json(n)}};
}

}  // namespace

void install_node_routes(http::HttpServer& server, NodeContext& node) {
    auto* n = &node;
    server.route("GET", "/api/v1/node",
                 [n](HttpRequest) -> net::awaitable<HttpResponse> { co_return ok(node_json(*n)); });

    server.route("GET", "/api/v1/history", [n](HttpRequest req) -> net::awaitable<HttpResponse> {
        if (!n->history) co_return http::json_error(404, "no history kept");
        const auto range = query_value(req.query, "range").value_or("1h");
        if (range != "1h" && range != "24h")
            co_return http::json_error(400, "range must be 1h or 24h");
        co_return ok(n->history->to_json(range == "1h" ? HistoryRange::hour : HistoryRange::day));
    });
}

}  // namespace keel::app::node_api
