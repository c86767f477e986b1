#include "keel/app/node_api.hpp"

#include <charconv>
#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>
#include <sstream>

#include "keel/app/health_json.hpp"
#include "keel/app/node_history.hpp"
#include "keel/app/process_memory.hpp"
#include "keel/host/inbound_admission.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/kad/content_key.hpp"
#include "keel/net/deadline.hpp"
#include "keel/protocols/ping.hpp"

namespace keel::app {

using api::HttpRequest;
using api::HttpResponse;
using api::HttpServer;
using nlohmann::json;

namespace {

// Text from the network (agent versions, keys) may hold bytes that are not UTF-8: they are
// replaced in the answer, never turned into an exception.
HttpResponse ok(const json& body, unsigned status = 200) {
    return {status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

json addrs_json(const std::vector<Multiaddr>& addrs) {
    json out = json::array();
    for (const auto& a : addrs) out.push_back(a.to_string());
    return out;
}

const LocalPeer* find_local(const NodeContext& node, const PeerId& id) {
    for (const auto& l : node.local_peers)
        if (l.peer_id == id) return &l;
    return nullptr;
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

// One monitored bootstrap as the API shows it: its health, reconnect status and probe count.
json relay_json(const relay::RelayService& relay) {
    const auto& s = relay.stats();
    const auto& c = relay.config();
    return {{"reservations", relay.reservations()},
            {"circuits", relay.circuits()},
            {"reservations_granted", s.reservations_granted},
            {"circuits_opened", s.circuits_opened},
            {"bytes_relayed", s.bytes_relayed},
            {"refused_by_reason", s.refused_by_reason},
            {"circuits_ended_by", s.circuits_ended_by},
            {"limits",
             {{"max_reservations", c.max_reservations},
              {"max_circuits", c.max_circuits},
              {"circuit_bytes", c.circuit_bytes},
              {"circuit_duration_s",
               std::chrono::duration_cast<std::chrono::seconds>(c.circuit_duration).count()}}}};
}

// How others reach this node: at its public addresses, or through the relays it holds
// reservations on (until when, within what limits).
json reachability_json(NodeContext& node) {
    json public_addrs = json::array();
    for (const auto& a : node.host.public_addrs())
        if (is_public_address(a)) public_addrs.push_back(a.to_string());
    json relayed = json::array();
    if (node.relay_client)
        for (const auto& r : node.relay_client->reservations()) {
            json addrs = json::array();
            for (const auto& a : r.circuit_addrs) addrs.push_back(a.to_string());
            relayed.push_back({{"relay", r.relay.to_string()},
                               {"relay_peer", r.relay_peer.to_base58()},
                               {"expires_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  r.expires.time_since_epoch())
                                                  .count()},
                               {"addrs", addrs},
                               {"limit_bytes", r.limit_bytes},
                               {"limit_duration_s", r.limit_duration_s}});
        }
    const char* how = !public_addrs.empty() ? "public" : !relayed.empty() ? "relayed" : "private";
    return {{"status", how}, {"public_addrs", public_addrs}, {"relays", relayed}};
}

json monitored_json(const health::MonitoredBootstrap& b) {
    auto j = health_to_json(b.health);
    j["reconnect"] = {{"active", b.reconnect.active},
                      {"attempt", b.reconnect.attempt},
                      {"next_attempt_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                              b.reconnect.next_attempt.time_since_epoch())
                                              .count()}};
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

// A query parameter's raw value ("range=1h"); nullopt when absent.
std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
    std::size_t at = 0;
    while (at <= query.size()) {
        auto end = query.find('&', at);
        if (end == std::string_view::npos) end = query.size();
        auto part = query.substr(at, end - at);
        if (part.size() > name.size() && part.substr(0, name.size()) == name &&
            part[name.size()] == '=')
            return part.substr(name.size() + 1);
        at = end + 1;
    }
    return std::nullopt;
}

// A non-negative integer query parameter ("limit=20"); nullopt when absent or malformed.
std::optional<std::size_t> query_number(std::string_view query, std::string_view name) {
    auto digits = query_value(query, name);
    if (!digits) return std::nullopt;
    std::size_t value = 0;
    auto [p, ec] = std::from_chars(digits->data(), digits->data() + digits->size(), value);
    if (ec != std::errc{} || p != digits->data() + digits->size()) return std::nullopt;
    return value;
}

std::optional<json> parse_body(const HttpRequest& req, std::string& why) {
    if (req.body.empty()) return json::object();
    try {
        auto j = json::parse(req.body);
        if (!j.is_object()) {
            why = "body must be a JSON object";
            return std::nullopt;
        }
        return j;
    } catch (const json::parse_error& e) {
        // nlohmann's message quotes the offending bytes; json_error() replaces any that are not
        // UTF-8, so the answer is a 400 whatever the body held.
        why = std::string("invalid JSON: ") + e.what();
        return std::nullopt;
    }
}

// The content key of a {"key": TEXT} body, as a CID (TEXT is a CID or any text, hashed).
std::optional<Cid> content_key_of(const HttpRequest& req, std::string& why) {
    auto body = parse_body(req, why);
    if (!body) return std::nullopt;
    if (!body->contains("key") || !(*body)["key"].is_string()) {
        why = "missing \"key\" (a CID or any text)";
        return std::nullopt;
    }
    return kad::content_cid((*body)["key"].get<std::string>());
}

}  // namespace

void install_node_api(HttpServer& server, NodeContext& node) {
    auto* n = &node;
    node.host.observe_connections([n](const std::shared_ptr<Connection>& c, bool opened) {
        n->events.publish(
            opened ? "peer_connected" : "peer_disconnected",
            json{{"peer_id", c->peer.to_base58()},
                 {"addr", c->remote_addr.to_string()},
                 {"direction", c->direction == Direction::inbound ? "inbound" : "outbound"},
                 {"limited", c->limited}}
                .dump());
    });
    node.host.observe_identified([n](const std::shared_ptr<Connection>& c) {
        if (auto info = n->host.peer_store().get(c->peer))
            n->events.publish("peer_discovered", peer_json(*n, *info).dump());
    });
    node.monitor.on_change([n](const health::MonitoredBootstrap& b, health::HealthState previous) {
        // Everything a page needs to redraw the bootstrap's card without asking again.
        auto j = monitored_json(b);
        j["previous"] = health::state_name(previous);
        j["node_state"] = health::state_name(n->monitor.node_state());
        j["node_routing_table_size"] = n->dht.routing_table().size();
        j["reconnect_attempt"] = b.reconnect.attempt;
        n->events.publish("health", j.dump());
    });

    if (node.relay_client)
        node.relay_client->on_change(
            [n] { n->events.publish("reachability", reachability_json(*n).dump()); });

    server.events_at("/api/v1/events");

    server.route("GET", "/api/v1/node", [n](HttpRequest) -> net::awaitable<HttpResponse> {
        co_return ok({{"peer_id", n->host.peer_id().to_base58()},
                      {"state", health::state_name(n->monitor.node_state())},
                      {"listen_addrs", addrs_json(n->host.listen_addrs())},
                      {"connections", n->host.connections().size()},
                      {"routing_table_size", n->dht.routing_table().size()},
                      {"dht_mode", n->dht.config().server_mode ? "server" : "client"},
                      {"kad_protocol", n->dht.config().profile.kad_protocol},
                      {"agent_version", n->host.config().agent_version},
                      {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(
                                       net::Clock::now() - n->started)
                                       .count()},
                      {"local_peers", local_peers_json(*n)},
                      {"role", n->is_bootstrap ? "bootstrap" : "node"},
                      {"self_probe", n->self_probe ? health_to_json(*n->self_probe) : json()},
                      {"relay", n->relay ? relay_json(*n->relay) : json()},
                      {"reachability", reachability_json(*n)}});
    });

    server.route("GET", "/api/v1/history", [n](HttpRequest req) -> net::awaitable<HttpResponse> {
        if (!n->history) co_return HttpServer::json_error(404, "no history kept");
        const auto range = query_value(req.query, "range").value_or("1h");
        if (range != "1h" && range != "24h")
            co_return HttpServer::json_error(400, "range must be 1h or 24h");
        co_return ok(n->history->to_json(range == "1h" ? HistoryRange::hour : HistoryRange::day));
    });

    server.route(
        "GET", "/api/v1/bootstrap/health",
        [n](HttpRequest) -> net::awaitable<HttpResponse> { co_return ok(health_snapshot(*n)); });
    server.route("POST", "/api/v1/bootstrap/health/check",
                 [n](HttpRequest) -> net::awaitable<HttpResponse> {
                     n->monitor.probe_now();
                     co_return ok({{"ok", true}, {"probing", true}}, 202);
                 });

    server.route("POST", "/api/v1/connect", [n](HttpRequest req) -> net::awaitable<HttpResponse> {
        std::string why;
        auto body = parse_body(req, why);
        if (!body) co_return HttpServer::json_error(400, why);
        if (!body->contains("addr") || !(*body)["addr"].is_string())
            co_return HttpServer::json_error(400, "missing \"addr\" (a multiaddr string)");
        auto addr = Multiaddr::parse((*body)["addr"].get<std::string>(), &why);
        if (!addr) co_return HttpServer::json_error(400, "bad addr: " + why);
        auto start = net::Clock::now();
        auto conn = co_await n->host.dial(*addr);
        double ms = std::chrono::duration<double, std::milli>(net::Clock::now() - start).count();
        if (!conn)
            co_return ok({{"ok", false},
                          {"phase", phase_name(conn.error().phase)},
                          {"error", conn.error().message()},
                          {"elapsed_ms", ms}});
        co_return ok({{"ok", true},
                      {"peer_id", (*conn)->peer.to_base58()},
                      {"muxer_inlined", (*conn)->muxer_inlined},
                      {"elapsed_ms", ms}});
    });

    // Paged (?offset=N&limit=M, at most 500 a page): a bootstrap knows tens of thousands of
    // peers, and one answer must not grow with them.
    server.route("GET", "/api/v1/peers", [n](HttpRequest req) -> net::awaitable<HttpResponse> {
        constexpr std::size_t max_page = 500;
        auto offset = query_number(req.query, "offset").value_or(0);
        auto limit =
            std::min<std::size_t>(query_number(req.query, "limit").value_or(max_page), max_page);
        auto all = n->host.peer_store().all();
        json list = json::array();
        for (std::size_t i = offset; i < all.size() && list.size() < limit; ++i)
            list.push_back(peer_json(*n, all[i]));
        co_return ok(
            {{"count", all.size()}, {"offset", offset}, {"limit", limit}, {"peers", list}});
    });

    server.route(
        "POST", "/api/v1/peers/{id}/verify", [n](HttpRequest req) -> net::awaitable<HttpResponse> {
            auto peer = PeerId::parse(req.params["id"]);
            if (!peer) co_return HttpServer::json_error(400, "bad peer ID");
            if (!n->host.peer_store().get(*peer) && n->host.connections_to(*peer).empty())
                co_return HttpServer::json_error(404, "unknown peer");
            // One overall deadline (a dial's and a handshake's worth), however many addresses
            // the peer store holds: the caller is a person waiting for an answer.
            Failure failure{Phase::dial, make_error_code(net::net_errc::timeout),
                            peer->to_base58()};
            auto attempt = [&]() -> net::awaitable<net::result<std::shared_ptr<Connection>>> {
                auto c = co_await n->host.connect_peer(*peer);
                if (!c) {
                    failure = c.error();
                    co_return c.error().error;
                }
                co_return *c;
            };
            const auto& limits = n->host.config();
            auto conn = co_await net::with_deadline(attempt(),
                                                    limits.dial_timeout + limits.handshake_timeout);
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
        });

    server.route("GET", "/api/v1/dht/routing-table",
                 [n](HttpRequest) -> net::awaitable<HttpResponse> {
                     json list = json::array();
                     const auto& self = n->dht.routing_table().self_key();
                     for (const auto& e : n->dht.routing_table().entries()) {
                         auto info = n->host.peer_store().get(e.id);
                         list.push_back({{"peer_id", e.id.to_base58()},
                                         {"bucket", kad::common_prefix_length(self, e.key)},
                                         {"addrs", info ? addrs_json(info->addrs) : json::array()},
                                         {"connected", !n->host.connections_to(e.id).empty()}});
                     }
                     co_return ok({{"size", list.size()}, {"peers", list}});
                 });

    // A lookup goes out to the network: a POST, so that a page cannot make the node do it with a
    // plain link or image (GET never has side effects here).
    server.route(
        "POST", "/api/v1/providers/find", [n](HttpRequest req) -> net::awaitable<HttpResponse> {
            std::string why;
            auto cid = content_key_of(req, why);
            if (!cid) co_return HttpServer::json_error(400, why);
            auto start = net::Clock::now();
            auto found = co_await n->dht.find_providers(cid->hash.encode(), 20);
            json list = json::array();
            for (const auto& p : found)
                list.push_back(
                    {{"peer_id", p.provider.to_base58()}, {"addrs", addrs_json(p.addrs)}});
            co_return ok(
                {{"cid", cid->to_string()},
                 {"providers", list},
                 {"elapsed_ms",
                  std::chrono::duration<double, std::milli>(net::Clock::now() - start).count()}});
        });

    server.route("POST", "/api/v1/providers", [n](HttpRequest req) -> net::awaitable<HttpResponse> {
        std::string why;
        auto cid = content_key_of(req, why);
        if (!cid) co_return HttpServer::json_error(400, why);
        auto result = co_await n->dht.provide(cid->hash.encode());
        if (!result)
            co_return ok(
                {{"ok", false}, {"cid", cid->to_string()}, {"error", result.error().message()}});
        n->events.publish("provided",
                          json{{"cid", cid->to_string()}, {"peers", result->sent}}.dump());
        co_return ok({{"ok", true},
                      {"cid", cid->to_string()},
                      {"sent", result->sent},
                      {"acknowledged", result->acknowledged}});
    });

    // The brief's verifyDiscovery(): the six steps, progress on the event stream ("verification"
    // events), the result kept for GET. One run at a time. ?wait=1 answers with the result.
    struct Diagnostics {
        std::uint64_t run_id = 0;
        bool running = false;
        json steps = json::array();
        // The last runs' outcomes, newest first ("was it ever green?"); the last 20.
        std::deque<json> recent;
    };
    auto diagnostics = std::make_shared<Diagnostics>();
    // Claimed synchronously by the POST handler, so two requests cannot both start a run.
    auto claim = [diagnostics]() {
        diagnostics->running = true;
        diagnostics->steps = json::array();
        return ++diagnostics->run_id;
    };
    // `steps`: all six for diagnostics, the first three for the discovery test.
    auto run_verification = [n, diagnostics](std::uint64_t run_id,
                                             std::size_t steps_wanted) -> net::awaitable<json> {
        health::VerifierConfig config = n->verifier;
        for (const auto& b : n->monitor.snapshot())
            if (b.health.peer_id) config.bootstrap_peers.push_back(*b.health.peer_id);
        auto verifier = std::make_shared<health::DiscoveryVerifier>(n->host, n->dht, config);
        auto progress = [n, diagnostics, run_id, steps_wanted](const health::VerificationStep& step,
                                                               std::size_t index) {
            auto j = step_to_json(step);
            // Kept as they progress, so GET /api/v1/diagnostics mid-run shows the run so far.
            if (diagnostics->steps.size() <= index)
                diagnostics->steps.push_back(j);
            else
                diagnostics->steps[index] = j;
            j["run_id"] = run_id;
            j["index"] = index;
            j["of"] = steps_wanted;
            n->events.publish("verification", j.dump());
        };
        auto steps = co_await verifier->run(progress, steps_wanted);
        json list = json::array();
        json statuses = json::array();
        double took_ms = 0;
        for (const auto& step : steps) {
            list.push_back(step_to_json(step));
            statuses.push_back(health::status_name(step.status));
            took_ms += step.duration_ms;
        }
        diagnostics->steps = list;
        diagnostics->running = false;
        // ok: every step passed; result also tells "too few peers to check" from a failure.
        auto result = health::overall_result(steps);
        const auto finished_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
        diagnostics->recent.push_front({{"run_id", run_id},
                                        {"finished_ms", finished_ms},
                                        {"duration_ms", took_ms},
                                        {"result", std::string(result)},
                                        {"statuses", statuses}});
        if (diagnostics->recent.size() > 20) diagnostics->recent.pop_back();
        json summary{{"run_id", run_id},
                     {"ok", result == "passed"},
                     {"result", std::string(result)},
                     {"finished_ms", finished_ms},
                     {"duration_ms", took_ms},
                     {"steps", list}};
        n->events.publish("verification_done", summary.dump());
        co_return summary;
    };
    auto run_diagnostics = [run_verification](std::uint64_t run_id) {
        return run_verification(run_id, health::DiscoveryVerifier::step_count);
    };
    // The brief's test_peer_discovery(): publish a test record and fetch it back from another
    // peer (steps 1-3 of the verification), answered when done.
    server.route(
        "POST", "/api/v1/discovery/test",
        [diagnostics, claim, run_verification](HttpRequest) -> net::awaitable<HttpResponse> {
            if (diagnostics->running)
                co_return HttpServer::json_error(409, "a verification is already running");
            auto run_id = claim();
            auto summary = co_await run_verification(run_id, 3);
            co_return ok(summary);
        });
    server.route(
        "POST", "/api/v1/diagnostics",
        [n, diagnostics, claim, run_diagnostics](HttpRequest req) -> net::awaitable<HttpResponse> {
            if (diagnostics->running)
                co_return HttpServer::json_error(409, "diagnostics already running");
            auto run_id = claim();
            if (req.query.find("wait=1") != std::string::npos) {
                auto summary = co_await run_diagnostics(run_id);
                co_return ok(summary);
            }
            auto task = [run_diagnostics, run_id]() -> net::awaitable<void> {
                co_await run_diagnostics(run_id);
            };
            net::asio::co_spawn(n->host.get_executor(), task, net::asio::detached);
            co_return ok({{"run_id", run_id}, {"events", "/api/v1/events"}}, 202);
        });
    server.route("GET", "/api/v1/diagnostics",
                 [diagnostics](HttpRequest) -> net::awaitable<HttpResponse> {
                     co_return ok({{"run_id", diagnostics->run_id},
                                   {"running", diagnostics->running},
                                   {"steps", diagnostics->steps},
                                   {"recent", json(diagnostics->recent)}});
                 });

    server.route("GET", "/metrics", [n](HttpRequest) -> net::awaitable<HttpResponse> {
        co_return HttpResponse{200, "text/plain; version=0.0.4", render_metrics(*n)};
    });
}

}  // namespace keel::app
