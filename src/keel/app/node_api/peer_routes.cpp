// The peers this node knows and reaches: POST /api/v1/connect (dial an address), GET
// /api/v1/peers (paged), POST /api/v1/peers/{id}/verify (connect and ping now), GET
// /api/v1/dht/routing-table.
#include <algorithm>

#include "keel/app/node_api/api_json.hpp"
#include "keel/app/node_api/request_parsing.hpp"
#include "keel/app/node_api/routes.hpp"
#include "keel/net/deadline.hpp"
#include "keel/protocols/ping.hpp"

namespace keel::app::node_api {

using http::HttpRequest;
using http::HttpResponse;

namespace {

net::awaitable<HttpResponse> dial_address(NodeContext* n, HttpRequest req) {
    std::string why;
    auto body = parse_body(req, why);
    if (!body) co_return http::json_error(400, why);
    if (!body->contains("addr") || !(*body)["addr"].is_string())
        co_return http::json_error(400, "missing \"addr\" (a multiaddr string)");
    auto addr = Multiaddr::parse((*body)["addr"].get<std::string>(), &why);
    if (!addr) co_return http::json_error(400, "bad addr: " + why);
    auto start = net::Clock::now();
    auto conn = co_await n->host.dial(*addr);
    if (!conn)
        co_return ok({{"ok", false},
                      {"phase", phase_name(conn.error().phase)},
                      {"error", conn.error().message()},
                      {"elapsed_ms", elapsed_ms(start)}});
    co_return ok({{"ok", true},
                  {"peer_id", (*conn)->peer.to_base58()},
                  {"muxer_inlined", (*conn)->muxer_inlined},
                  {"elapsed_ms", elapsed_ms(start)}});
}

// Paged (?offset=N&limit=M, at most 500 a page): a bootstrap knows tens of thousands of peers,
// and one answer must not grow with them.
net::awaitable<HttpResponse> list_peers(NodeContext* n, HttpRequest req) {
    constexpr std::size_t max_page = 500;
    auto offset = query_number(req.query, "offset").value_or(0);
    auto limit =
        std::min<std::size_t>(query_number(req.query, "limit").value_or(max_page), max_page);
    const auto& store = n->host.peer_store();
    json list = json::array();
    for (const auto& info : store.page(offset, limit)) list.push_back(peer_json(*n, info));
    co_return ok({{"count", store.size()}, {"offset", offset}, {"limit", limit}, {"peers", list}});
}

net::awaitable<HttpResponse> verify_peer(NodeContext* n, HttpRequest req) {
    auto peer = PeerId::parse(req.params["id"]);
    if (!peer) co_return http::json_error(400, "bad peer ID");
    if (!n->host.peer_store().get(*peer) && !n->host.is_connected(*peer))
        co_return http::json_error(404, "unknown peer");
    // One overall deadline (a dial's and a handshake's worth), however many addresses the peer
    // store holds: the caller is a person waiting for an answer.
    Failure failure{Phase::dial, make_error_code(net::net_errc::timeout), peer->to_base58()};
    auto attempt = [&]() -> net::awaitable<net::result<std::shared_ptr<Connection>>> {
        auto c = co_await n->host.connect_peer(*peer);
        if (!c) {
            failure = c.error();
            co_return c.error().error;
        }
        co_return *c;
    };
    const auto& limits = n->host.config();
    auto conn =
        co_await net::with_deadline(attempt(), limits.dial_timeout + limits.handshake_timeout);
    if (!conn)
        co_return ok({{"reachable", false},
                      {"phase", phase_name(failure.phase)},
                      {"error", failure.message()}});
    std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
    auto stream = co_await n->host.new_stream(*conn, std::move(wanted));
    if (!stream) co_return ok({{"reachable", false}, {"error", stream.error().message()}});
    auto rtt = co_await net::with_deadline(protocols::ping_once(**stream),
                                           n->host.config().negotiate_timeout);
    co_await (*stream)->close_write();
    if (!rtt) co_return ok({{"reachable", false}, {"error", rtt.error().message()}});
    co_return ok(
        {{"reachable", true},
         {"latency_ms", std::chrono::duration<double, std::milli>(*rtt).count()},
         {"direction", (*conn)->direction == Direction::inbound ? "inbound" : "outbound"}});
}

json routing_table_json(NodeContext& n) {
    json list = json::array();
    const auto& self = n.dht.routing_table().self_key();
    for (const auto& e : n.dht.routing_table().entries()) {
        auto info = n.host.peer_store().get(e.id);
        list.push_back({{"peer_id", e.id.to_base58()},
                        {"bucket", kad::common_prefix_length(self, e.key)},
                        {"addrs", info ? addrs_json(info->addrs) : json::array()},
                        {"connected", n.host.is_connected(e.id)}});
    }
    return {{"size", list.size()}, {"peers", list}};
}

}  // namespace

void install_peer_routes(http::HttpServer& server, NodeContext& node) {
    auto* n = &node;
    server.route("POST", "/api/v1/connect",
                 [n](HttpRequest req) { return dial_address(n, std::move(req)); });
    server.route("GET", "/api/v1/peers",
                 [n](HttpRequest req) { return list_peers(n, std::move(req)); });
    server.route("POST", "/api/v1/peers/{id}/verify",
                 [n](HttpRequest req) { return verify_peer(n, std::move(req)); });
    server.route(
        "GET", "/api/v1/dht/routing-table",
        [n](HttpRequest) -> net::awaitable<HttpResponse> { co_return ok(routing_table_json(*n)); });
}

}  // namespace keel::app::node_api
