// POST /api/v1/providers/find and POST /api/v1/providers: content lookups and announcements.
// A lookup goes out to the network: a POST, so that a page cannot make the node do it with a
// plain link or image (GET never has side effects here).
#include "keel/app/node_api/api_json.hpp"
#include "keel/app/node_api/request_parsing.hpp"
#include "keel/app/node_api/routes.hpp"

namespace keel::app::node_api {

using http::HttpRequest;
using http::HttpResponse;

namespace {

net::awaitable<HttpResponse> find_providers(NodeContext* n, HttpRequest req) {
    std::string why;
    auto cid = content_key_of(req, why);
    if (!cid) co_return http::json_error(400, why);
    auto start = net::Clock::now();
    auto found = co_await n->dht.find_providers(cid->hash.encode(), 20);
    json list = json::array();
    for (const auto& p : found)
        list.push_back({{"peer_id", p.provider.to_base58()}, {"addrs", addrs_json(p.addrs)}});
    co_return ok(
        {{"cid", cid->to_string()}, {"providers", list}, {"elapsed_ms", elapsed_ms(start)}});
}

net::awaitable<HttpResponse> provide(NodeContext* n, HttpRequest req) {
    std::string why;
    auto cid = content_key_of(req, why);
    if (!cid) co_return http::json_error(400, why);
    auto result = co_await n->dht.provide(cid->hash.encode());
    if (!result)
        co_return ok(
            {{"ok", false}, {"cid", cid->to_string()}, {"error", result.error().message()}});
    n->events.publish("provided",
                      http::json_text(json{{"cid", cid->to_string()}, {"peers", result->sent}}));
    co_return ok({{"ok", true},
                  {"cid", cid->to_string()},
                  {"sent", result->sent},
                  {"acknowledged", result->acknowledged}});
}

}  // namespace

void install_provider_routes(http::HttpServer& server, NodeContext& node) {
    auto* n = &node;
    server.route("POST", "/api/v1/providers/find",
                 [n](HttpRequest req) { return find_providers(n, std::move(req)); });
    server.route("POST", "/api/v1/providers",
                 [n](HttpRequest req) { return provide(n, std::move(req)); });
}

}  // namespace keel::app::node_api
