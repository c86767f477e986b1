#include "keel/app/node_api.hpp"

#include "keel/app/node_api/routes.hpp"

namespace keel::app {

void install_node_api(http::HttpServer& server, NodeContext& node) {
    node_api::publish_node_events(node);
    server.events_at("/api/v1/events");
    node_api::install_node_routes(server, node);
    node_api::install_health_routes(server, node);
    node_api::install_peer_routes(server, node);
    node_api::install_provider_routes(server, node);
    node_api::install_verification_routes(server, node);
    node_api::install_metrics_route(server, node);
}

}  // namespace keel::app
