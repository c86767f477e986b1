// GET /api/v1/bootstrap/health (every monitored bootstrap) and POST …/check (probe them now).
#include "keel/app/node_api/api_json.hpp"
#include "keel/app/node_api/routes.hpp"

namespace keel::app::node_api {

using http::HttpRequest;
using http::HttpResponse;

void install_health_routes(http::HttpServer& server, NodeContext& node) {
    auto* n = &node;
    server.route(
        "GET", "/api/v1/bootstrap/health",
        [n](HttpRequest) -> net::awaitable<HttpResponse> { co_return ok(health_snapshot(*n)); });
    server.route("POST", "/api/v1/bootstrap/health/check",
                 [n](HttpRequest) -> net::awaitable<HttpResponse> {
                     n->monitor.probe_now();
                     co_return ok({{"ok", true}, {"probing", true}}, 202);
                 });
}

}  // namespace keel::app::node_api
