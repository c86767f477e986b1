#pragma once
// The API's routes, one file per group (docs/api.md has every endpoint). install_node_api() in
// node_api.cpp calls each.
#include "keel/app/node_api.hpp"

namespace keel::app::node_api {

// GET /api/v1/node, GET /api/v1/history.
void install_node_routes(http::HttpServer& server, NodeContext& node);
// GET /api/v1/bootstrap/health, POST /api/v1/bootstrap/health/check.
void install_health_routes(http::HttpServer& server, NodeContext& node);
// POST /api/v1/connect, GET /api/v1/peers, POST /api/v1/peers/{id}/verify,
// GET /api/v1/dht/routing-table.
void install_peer_routes(http::HttpServer& server, NodeContext& node);
// POST /api/v1/providers/find, POST /api/v1/providers.
void install_provider_routes(http::HttpServer& server, NodeContext& node);
// POST /api/v1/discovery/test, POST and GET /api/v1/diagnostics.
void install_verification_routes(http::HttpServer& server, NodeContext& node);
// GET /metrics.
void install_metrics_route(http::HttpServer& server, NodeContext& node);
// Host, DHT, health and reachability changes published on the event bus (GET /api/v1/events).
void publish_node_events(NodeContext& node);

}  // namespace keel::app::node_api
