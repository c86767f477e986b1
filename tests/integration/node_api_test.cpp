// The node's HTTP API end to end: a bootstrap and a node in one process, the API on an ephemeral
// port, and a plain HTTP/1.1 client over a TCP socket.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "keel/app/history_sampler.hpp"
#include "keel/app/node_api.hpp"
#include "keel/app/node_history.hpp"
#include "keel/app/self_probe.hpp"
#include "keel/net/framing.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

using nlohmann::json;

using HttpAnswer = RawHttpAnswer;

class NodeApi : public ::testing::Test {
  protected:
    void SetUp() override {
        boot_host = std::make_unique<Host>(io.get_executor(), test_config());
        kad::DhtConfig server_config;
        server_config.server_mode = true;
        boot_dht = std::make_unique<kad::Dht>(*boot_host, server_config);
        boot_dht->start();
        auto boot_addr = boot_host->listen(loopback_any_port());
        ASSERT_TRUE(boot_addr);
        bootstrap_addr = with_peer(*boot_addr, boot_host->peer_id());

        host = std::make_unique<Host>(io.get_executor(), test_config());
        ASSERT_TRUE(host->listen(loopback_any_port()));
        dht = std::make_unique<kad::Dht>(*host, kad::DhtConfig{});
        dht->start();
        monitor = std::make_unique<health::HealthMonitor>(*host, *dht,
                                                          std::vector<Multiaddr>{bootstrap_addr});
        events = std::make_unique<http::EventBus>(io.get_executor());
        server = std::make_unique<http::HttpServer>(io.get_executor(), *events);
        context = std::make_unique<app::NodeContext>(
            app::NodeContext{*host, *dht, *monitor, *events, net::Clock::now()});
        app::install_node_api(*server, *context);
        auto bound = server->listen({asio::ip::make_address("127.0.0.1"), 0});
        ASSERT_TRUE(bound);
        api = *bound;
        monitor->start();
        std::vector<Multiaddr> boots{bootstrap_addr};
        auto joined = run_task(io, dht->bootstrap(boots), 10s);
        ASSERT_TRUE(joined && *joined == 1u);
        ASSERT_TRUE(run_until(
            io, [&] { return dht->routing_table().size() > 0; }, 10s));
    }

    void TearDown() override {
        if (monitor) monitor->stop();
        if (server) server->stop();
        if (dht) dht->stop();
        if (boot_dht) boot_dht->stop();
        std::vector<Host*> hosts;
        if (host) hosts.push_back(host.get());
        if (boot_host) hosts.push_back(boot_host.get());
        shut_down(io, hosts);
    }

    HttpAnswer http(const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& extra_headers = "") {
        return raw_http(io, api, method, path, body, "127.0.0.1", extra_headers);
    }

    json get_json(const std::string& path, int expected = 200) {
        auto a = http("GET", path);
        EXPECT_EQ(a.status, expected) << path << ": " << a.body;
        return json::parse(a.body, nullptr, false);
    }

    // GET /api/v1/events, read into the buffer returned until the server closes it; nullptr if
    // the stream did not open.
    std::shared_ptr<Bytes> follow_events() {
        auto seen = std::make_shared<Bytes>();
        auto reader = [](tcp::endpoint ep, std::shared_ptr<Bytes> out) -> net::awaitable<void> {
            auto stream = co_await connect_raw(ep);
            if (!stream) co_return;
            std::string req = "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
            if (co_await (*stream)->write_all(as_bytes(req))) co_return;
            co_await read_until_closed(**stream, out);
        };
        asio::co_spawn(io, reader(api, seen), asio::detached);
        auto opened = [seen] {
            return std::string(seen->begin(), seen->end()).find(": connected") != std::string::npos;
        };
        return run_until(io, opened, 5s) ? seen : nullptr;
    }

    asio::io_context io;
    std::unique_ptr<Host> boot_host, host;
    std::unique_ptr<kad::Dht> boot_dht, dht;
    std::unique_ptr<health::HealthMonitor> monitor;
    std::unique_ptr<http::EventBus> events;
    std::unique_ptr<http::HttpServer> server;
    std::unique_ptr<app::NodeContext> context;
    Multiaddr bootstrap_addr;
    tcp::endpoint api;
};

TEST_F(NodeApi, NodeAndRoutingTableAndPeers) {
    auto node = get_json("/api/v1/node");
    EXPECT_EQ(node["peer_id"], host->peer_id().to_base58());
    EXPECT_EQ(node["dht_mode"], "client");
    auto table = get_json("/api/v1/dht/routing-table");
    EXPECT_GE(table["size"].get<int>(), 1);
    EXPECT_EQ(table["peers"][0]["peer_id"], boot_host->peer_id().to_base58());
    auto peers = get_json("/api/v1/peers");
    bool found = false;
    for (const auto& p : peers["peers"]) {
        if (p["peer_id"] != boot_host->peer_id().to_base58()) continue;
        found = true;
        EXPECT_EQ(p["local"], false) << p.dump();
        EXPECT_FALSE(p.contains("label")) << p.dump();
    }
    EXPECT_TRUE(found) << peers.dump();
    // No peer runs in this process unless keel up says so.
    ASSERT_TRUE(node["local_peers"].is_array()) << node.dump();
    EXPECT_TRUE(node["local_peers"].empty());
}

// keel up names the peers it runs in its own process: the node info lists them, and each is
// marked local, with its label, in the peer list.
TEST_F(NodeApi, LocalPeersAreNamedInNodeInfoAndPeerList) {
    context->local_peers = {{boot_host->peer_id(), "bootstrap", "local-bootstrap-1"}};
    auto node = get_json("/api/v1/node");
    ASSERT_EQ(node["local_peers"].size(), 1u) << node.dump();
    EXPECT_EQ(node["local_peers"][0]["peer_id"], boot_host->peer_id().to_base58());
    EXPECT_EQ(node["local_peers"][0]["role"], "bootstrap");
    EXPECT_EQ(node["local_peers"][0]["label"], "local-bootstrap-1");
    auto peers = get_json("/api/v1/peers");
    bool found = false;
    for (const auto& p : peers["peers"]) {
        if (p["peer_id"] != boot_host->peer_id().to_base58()) continue;
        found = true;
        EXPECT_EQ(p["local"], true) << p.dump();
        EXPECT_EQ(p["local_role"], "bootstrap") << p.dump();
        EXPECT_EQ(p["label"], "local-bootstrap-1") << p.dump();
    }
    EXPECT_TRUE(found) << peers.dump();
}

// A bootstrap probes itself as a client would (here: the test's bootstrap, from a third identity)
// and shows the result in /api/v1/node, on the event stream and in /metrics.
TEST_F(NodeApi, BootstrapsOwnProbeIsInNodeInfoAndMetrics) {
    EXPECT_EQ(get_json("/api/v1/node")["self_probe"], nullptr);
    context->is_bootstrap = true;
    Host observer(io.get_executor(), test_config());
    kad::Dht observer_dht(observer, kad::DhtConfig{});
    asio::steady_timer timer(io);
    auto alive = std::make_shared<bool>(true);
    app::probe_self_periodically(*context, observer, observer_dht, bootstrap_addr,
                                 std::chrono::minutes(1), timer, alive);
    ASSERT_TRUE(run_until(
        io, [&] { return context->self_probe.has_value(); }, 20s));
    auto node = get_json("/api/v1/node");
    EXPECT_EQ(node["role"], "bootstrap");
    EXPECT_EQ(node["self_probe"]["reachable"], true) << node.dump();
    EXPECT_TRUE(node["self_probe"]["find_node_ms"].is_number()) << node.dump();
    auto metrics = http("GET", "/metrics").body;
    EXPECT_NE(metrics.find("\nkeel_self_probe_up "), std::string::npos);
    EXPECT_NE(metrics.find("\nkeel_self_probe_find_node_seconds "), std::string::npos);
    *alive = false;
    timer.cancel();
    observer_dht.stop();
    shut_down(io, {&observer});
}

TEST(SelfProbe, AWildcardListenAddressIsProbedOnLoopback) {
    EXPECT_EQ(app::self_probe_target(*Multiaddr::parse("/ip4/0.0.0.0/tcp/4001")).to_string(),
              "/ip4/127.0.0.1/tcp/4001");
    EXPECT_EQ(app::self_probe_target(
                  *Multiaddr::parse("/ip6/::/tcp/4001/p2p/"
                                    "12D3KooWLtDgTtj7aHDaa6QWKPHmrDcUkhCUrTKED5ocxNDXoTRJ"))
                  .to_string(),
              "/ip6/::1/tcp/4001/p2p/12D3KooWLtDgTtj7aHDaa6QWKPHmrDcUkhCUrTKED5ocxNDXoTRJ");
    EXPECT_EQ(app::self_probe_target(*Multiaddr::parse("/ip4/10.0.0.1/tcp/4001")).to_string(),
              "/ip4/10.0.0.1/tcp/4001");
}

TEST_F(NodeApi, BootstrapHealthReportsEveryField) {
    ASSERT_TRUE(run_until(
        io, [&] { return monitor->snapshot()[0].health.state != health::HealthState::connecting; },
        10s));
    auto h = get_json("/api/v1/bootstrap/health");
    ASSERT_EQ(h["bootstraps"].size(), 1u);
    const auto& b = h["bootstraps"][0];
    for (const char* field :
         {"addr", "peer_id", "reachable", "latency_ms", "dht_ok", "find_node_ms", "peer_count",
          "routing_table_size", "consecutive_failures", "last_error", "checked_at_ms", "state",
          "reconnect"})
        EXPECT_TRUE(b.contains(field)) << field;
    EXPECT_EQ(b["reachable"], true);
    // The bootstrap knows nobody but us: its FIND_NODE returns no peers, which is degraded.
    EXPECT_EQ(b["state"], "degraded");
    EXPECT_EQ(http("POST", "/api/v1/bootstrap/health/check").status, 202);
}

// The history behind the charts: points at each step with the bootstrap's state, the state
// change marked, and the day's points folded from the recent ones.
TEST_F(NodeApi, HistoryHasPointsMarksAndBothRanges) {
    EXPECT_EQ(get_json("/api/v1/history", 404)["error"], "no history kept");
    app::HistoryLimits limits;
    limits.step = 50ms;
    limits.points_per_minute = 2;
    app::NodeHistory history(limits);
    context->history = &history;
    asio::steady_timer timer(io);
    auto alive = std::make_shared<bool>(true);
    app::sample_history_periodically(*context, history, timer, alive);
    ASSERT_TRUE(run_until(
        io,
        [&] {
            auto j = history.to_json(app::HistoryRange::hour);
            return j["points"].size() >= 2 && j["points"].back()["bootstraps"].size() == 1 &&
                   j["points"].back()["bootstraps"][0]["state"] == "degraded";
        },
        10s));
    // The bootstrap goes away: its state changes, which is marked, and the points show it.
    boot_host->stop();
    monitor->probe_now();
    ASSERT_TRUE(run_until(
        io,
        [&] {
            auto j = history.to_json(app::HistoryRange::hour);
            return j["marks"].size() >= 1 && j["points"].back()["bootstraps"][0]["state"] == "down";
        },
        10s));
    auto hour = get_json("/api/v1/history?range=1h");
    EXPECT_EQ(hour["range"], "1h");
    EXPECT_EQ(hour["step_ms"], 50);
    ASSERT_EQ(hour["bootstraps"].size(), 1u);
    EXPECT_EQ(hour["bootstraps"][0], bootstrap_addr.to_string());
    const auto& first = hour["points"][0];  // before the bootstrap went away
    EXPECT_GE(first["routing_table_size"].get<int>(), 1);
    EXPECT_GE(first["connections"].get<int>(), 1);
    EXPECT_GT(first["rss_bytes"].get<std::uint64_t>(), 0u);
    EXPECT_TRUE(hour["points"][0]["bootstraps"][0]["latency_ms"].is_number()) << hour.dump();
    const auto& mark = hour["marks"].back();
    EXPECT_EQ(mark["i"], 0);
    EXPECT_EQ(mark["from"], "degraded");
    EXPECT_EQ(mark["to"], "down");
    auto day = get_json("/api/v1/history?range=24h");
    EXPECT_EQ(day["step_ms"], 100);
    EXPECT_GE(day["points"].size(), 1u);
    EXPECT_EQ(get_json("/api/v1/history", 200)["range"], "1h");
    EXPECT_EQ(http("GET", "/api/v1/history?range=7d").status, 400);
    *alive = false;
    timer.cancel();
}

// deploy/grafana's dashboards query only what /metrics exports: every keel_ or process_ metric
// they name, and every label they select, group by or show, so the two cannot drift apart.
TEST_F(NodeApi, GrafanaDashboardsQueryOnlyExportedMetrics) {
    // Series that exist only once something happened: a failed dial, a measured bootstrap.
    auto refused =
        run_task(io, host->connect(Multiaddr::parse("/ip4/127.0.0.1/tcp/1").value()), 10s);
    ASSERT_TRUE(refused && !*refused);
    ASSERT_TRUE(run_until(
        io, [&] { return monitor->snapshot()[0].health.find_node_ms.has_value(); }, 10s));
    // A bootstrap's series: its relay and its probe of itself.
    relay::RelayService relay_service(*host, {});
    context->relay = &relay_service;
    context->self_probe = monitor->snapshot()[0].health;
    auto metrics = http("GET", "/metrics");
    context->relay = nullptr;
    ASSERT_EQ(metrics.status, 200);
    std::map<std::string, std::set<std::string>> exported;  // metric -> its labels
    std::istringstream lines(metrics.body);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') continue;
        auto brace = line.find('{');
        auto name = line.substr(0, std::min(brace, line.find(' ')));
        auto& labels = exported[name];
        if (brace == std::string::npos) continue;
        static const std::regex label_re(R"re(([a-zA-Z_]\w*)=")re");
        auto body = line.substr(brace, line.find('}') - brace);
        for (std::sregex_iterator it(body.begin(), body.end(), label_re), end; it != end; ++it)
            labels.insert((*it)[1]);
    }
    static const std::regex metric_re(R"re(\b((?:keel|process)_\w+)\s*(\{[^}]*\})?)re");
    static const std::regex selector_re(R"re(([a-zA-Z_]\w*)\s*(=~|!=|!~|=))re");
    static const std::regex by_re(R"re(\b(?:by|without)\s*\(([^)]*)\))re");
    static const std::regex legend_re(R"re(\{\{\s*(\w+)\s*\}\})re");
    std::size_t checked = 0;
    for (const char* file : {"keel-bootstrap.json", "keel-node.json"}) {
        std::ifstream in(std::string(KEEL_SOURCE_DIR "/deploy/grafana/") + file);
        ASSERT_TRUE(in) << file;
        auto dashboard = json::parse(in);
        for (const auto& panel : dashboard["panels"]) {
            for (const auto& target : panel["targets"]) {
                const auto expr = target["expr"].get<std::string>();
                std::set<std::string> labels_of_expr;  // labels of the metrics it names
                for (std::sregex_iterator it(expr.begin(), expr.end(), metric_re), end; it != end;
                     ++it) {
                    const std::string name = (*it)[1];
                    ASSERT_TRUE(exported.contains(name))
                        << file << ": " << name << " is not exported (" << expr << ")";
                    const auto& labels = exported[name];
                    labels_of_expr.insert(labels.begin(), labels.end());
                    const std::string selector = (*it)[2];
                    for (std::sregex_iterator s(selector.begin(), selector.end(), selector_re);
                         s != end; ++s) {
                        const std::string label = (*s)[1];
                        if (label == "instance") continue;  // added by Prometheus at scrape
                        EXPECT_TRUE(labels.contains(label))
                            << file << ": " << name << " has no label " << label;
                    }
                    ++checked;
                }
                std::vector<std::string> used;
                for (std::sregex_iterator b(expr.begin(), expr.end(), by_re), end; b != end; ++b) {
                    std::istringstream list((*b)[1]);
                    for (std::string label; std::getline(list, label, ',');) {
                        label.erase(0, label.find_first_not_of(' '));
                        label.erase(label.find_last_not_of(' ') + 1);
                        used.push_back(label);
                    }
                }
                const auto legend = target.value("legendFormat", "");
                for (std::sregex_iterator l(legend.begin(), legend.end(), legend_re), end; l != end;
                     ++l)
                    used.push_back((*l)[1]);
                for (const auto& label : used)
                    EXPECT_TRUE(labels_of_expr.contains(label))
                        << file << ": no metric in \"" << expr << "\" has label " << label;
            }
        }
    }
    EXPECT_GE(checked, 20u);
}

TEST_F(NodeApi, ConnectNamesThePhaseAndRejectsBadInput) {
    EXPECT_EQ(http("POST", "/api/v1/connect", "{bad").status, 400);
    EXPECT_EQ(http("POST", "/api/v1/connect", "{}").status, 400);
    EXPECT_EQ(http("POST", "/api/v1/connect", R"({"addr":"/nope"})").status, 400);
    auto closed =
        http("POST", "/api/v1/connect",
             json{{"addr", "/ip4/127.0.0.1/tcp/" + std::to_string(closed_port())}}.dump());
    auto j = json::parse(closed.body);
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["phase"], "dial");
    auto good = http("POST", "/api/v1/connect", json{{"addr", bootstrap_addr.to_string()}}.dump());
    EXPECT_EQ(json::parse(good.body)["ok"], true) << good.body;
}

TEST_F(NodeApi, ForeignOriginIsRefusedForStateChanges) {
    auto a = http("POST", "/api/v1/connect", json{{"addr", bootstrap_addr.to_string()}}.dump(),
                  "Origin: http://evil.example\r\n");
    EXPECT_EQ(a.status, 403);
    auto port = std::to_string(api.port());
    auto own = http("POST", "/api/v1/bootstrap/health/check", "",
                    "Origin: http://127.0.0.1:" + port + "\r\n");
    EXPECT_EQ(own.status, 202);
}

TEST_F(NodeApi, VerifyPeerAnswers400404AndReachable) {
    EXPECT_EQ(http("POST", "/api/v1/peers/not-a-peer/verify").status, 400);
    auto stranger = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    EXPECT_EQ(http("POST", "/api/v1/peers/" + stranger.to_base58() + "/verify").status, 404);
    auto ok = http("POST", "/api/v1/peers/" + boot_host->peer_id().to_base58() + "/verify");
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(json::parse(ok.body)["reachable"], true) << ok.body;
}

TEST_F(NodeApi, ProvideThenFindProviders) {
    auto p = http("POST", "/api/v1/providers", R"({"key":"a file"})");
    auto provided = json::parse(p.body);
    EXPECT_EQ(provided["ok"], true) << p.body;
    EXPECT_GE(provided["acknowledged"].get<int>(), 1);
    auto f = http("POST", "/api/v1/providers/find", R"({"key":"a file"})");
    EXPECT_EQ(f.status, 200) << f.body;
    auto found = json::parse(f.body);
    EXPECT_EQ(found["cid"], provided["cid"]);
    ASSERT_FALSE(found["providers"].empty()) << found.dump();
    EXPECT_EQ(found["providers"][0]["peer_id"], host->peer_id().to_base58());
}

TEST_F(NodeApi, MetricsNotFoundMethodAndSizeLimits) {
    auto m = http("GET", "/metrics");
    EXPECT_EQ(m.status, 200);
    EXPECT_NE(m.body.find("keel_connections "), std::string::npos);
    EXPECT_NE(m.body.find("keel_known_peers "), std::string::npos);
    EXPECT_NE(m.body.find("keel_health_state{state="), std::string::npos);
    // Every refusal reason has its series from the start.
    for (const char* reason :
         {"connections", "pending", "pending_per_ip", "per_ip", "per_subnet", "rate_per_ip"})
        EXPECT_NE(
            m.body.find("keel_inbound_refused_total{reason=\"" + std::string(reason) + "\"} 0\n"),
            std::string::npos)
            << reason;
    EXPECT_EQ(http("GET", "/api/v1/nothing").status, 404);
    EXPECT_EQ(http("DELETE", "/api/v1/node").status, 405);
    EXPECT_EQ(http("POST", "/api/v1/connect", std::string(70 * 1024, 'x')).status, 413);
}

TEST_F(NodeApi, DiagnosticsRunsTheSixSteps) {
    auto a = http("POST", "/api/v1/diagnostics?wait=1");
    ASSERT_EQ(a.status, 200) << a.body;
    auto j = json::parse(a.body);
    ASSERT_EQ(j["steps"].size(), 6u);
    EXPECT_EQ(j["steps"][0]["id"], "routing_table");
    EXPECT_EQ(j["steps"][0]["status"], "passed");
    // Nobody but the bootstrap, which knows nobody else either: step 4 cannot be checked, which
    // is neither a pass nor a failure, and says what to do.
    EXPECT_EQ(j["steps"][3]["status"], "not_enough_peers") << a.body;
    EXPECT_FALSE(j["steps"][3]["remedy"].get<std::string>().empty());
    // Step 5 cannot be checked either: this bootstrap neither speaks /keel/health nor dialed
    // us, and nobody else could test the way back (a go or rust network looks like this).
    EXPECT_EQ(j["steps"][4]["status"], "not_enough_peers") << a.body;
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["result"], "not_enough_peers") << a.body;
    auto last = get_json("/api/v1/diagnostics");
    EXPECT_EQ(last["running"], false);
    EXPECT_EQ(last["steps"].size(), 6u);
    // The runs so far, newest first, with their times and each step's status.
    ASSERT_EQ(last["recent"].size(), 1u) << last.dump();
    EXPECT_EQ(last["recent"][0]["run_id"], j["run_id"]);
    EXPECT_EQ(last["recent"][0]["result"], "not_enough_peers");
    EXPECT_EQ(last["recent"][0]["statuses"].size(), 6u);
    EXPECT_EQ(last["recent"][0]["statuses"][0], "passed");
    EXPECT_GT(last["recent"][0]["finished_ms"].get<std::int64_t>(), 0);
    EXPECT_EQ(last["recent"][0]["duration_ms"], j["duration_ms"]);
}

TEST_F(NodeApi, DiscoveryTestPublishesAndFetchesBackRemotely) {
    auto a = http("POST", "/api/v1/discovery/test");
    ASSERT_EQ(a.status, 200) << a.body;
    auto j = json::parse(a.body);
    EXPECT_EQ(j["ok"], true) << a.body;
    ASSERT_EQ(j["steps"].size(), 3u);
    EXPECT_EQ(j["steps"][1]["id"], "publish");
    EXPECT_EQ(j["steps"][1]["status"], "passed");
    EXPECT_EQ(j["steps"][2]["id"], "fetch_remote");
    EXPECT_EQ(j["steps"][2]["status"], "passed");
    // The bootstrap is the only other DHT server: it is the one that returned the record.
    EXPECT_NE(j["steps"][2]["detail"].get<std::string>().find("returned by"), std::string::npos);
    EXPECT_EQ(http("GET", "/api/v1/discovery/test").status, 405);
}

TEST_F(NodeApi, EventStreamDeliversPeerEvents) {
    auto seen = follow_events();
    ASSERT_TRUE(seen);
    auto text = [&] { return std::string(seen->begin(), seen->end()); };
    // A second client connecting to the node is a peer_connected event.
    auto other = std::make_unique<Host>(io.get_executor(), test_config());
    auto addr = with_peer(host->listen_addrs().front(), host->peer_id());
    auto conn = run_task(io, other->dial(addr), 10s);
    ASSERT_TRUE(conn && *conn);
    EXPECT_TRUE(run_until(
        io, [&] { return text().find("event: peer_connected") != std::string::npos; }, 5s))
        << text();
    EXPECT_NE(text().find("text/event-stream"), std::string::npos);
    server->stop();
    shut_down(io, {other.get()});
}

// An agent version that is not UTF-8 (identify does not promise it; the peer store's cut at
// 256 bytes can split a character too) reaches the page replaced, as in the API's answers,
// instead of throwing out of the identify observer: the peer is still an event.
TEST_F(NodeApi, APeerWhoseAgentVersionIsNotUtf8IsStillAnEvent) {
    auto seen = follow_events();
    ASSERT_TRUE(seen);
    auto text = [&] { return std::string(seen->begin(), seen->end()); };
    auto config = test_config();
    config.agent_version =
        "odd/\xff\xfe"
        "1.0";
    auto other = std::make_unique<Host>(io.get_executor(), config);
    auto addr = with_peer(host->listen_addrs().front(), host->peer_id());
    auto conn = run_task(io, other->dial(addr), 10s);
    ASSERT_TRUE(conn && *conn);
    EXPECT_TRUE(run_until(
        io,
        [&] {
            return text().find(
                       "odd/\xef\xbf\xbd\xef\xbf\xbd"
                       "1.0") != std::string::npos;
        },
        5s))
        << text();
    EXPECT_NE(text().find("event: peer_discovered"), std::string::npos);
    server->stop();
    shut_down(io, {other.get()});
}

}  // namespace
}  // namespace keel::test
