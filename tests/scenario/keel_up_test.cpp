// `keel up`, the README's main command: one process runs a node, two local bootstraps that know
// each other and a local peer. The node turns healthy on its own (a lone bootstrap would be
// honestly degraded), the discovery test (publish, fetch back from another peer) passes, the
// six-step diagnostics pass (the local peer is the one discovered), the API names the local
// peers, and SIGTERM stops it all with exit code 0.

#include "scenario/scenario_support.hpp"

namespace keel::test::scenario {
namespace {

TEST_F(ScenarioTest, KeelUpIsHealthyAndDiscoveryWorks) {
    auto& up = spawn("up", {"up", "--local-port", "0", "--listen", "/ip4/127.0.0.1/tcp/0", "--api",
                            "127.0.0.1:0", "--json", "--data-dir", dir("up").string(),
                            "--log-level", log_level()});
    auto ready = up.wait_event(event_is("up"), 30s);
    ASSERT_TRUE(ready) << "no \"up\" line; stderr:\n" << up.stderr_tail();
    const auto& j = ready->body;
    EXPECT_EQ(j.value("embedded_bootstraps", false), true);
    ASSERT_EQ(j["bootstraps"].size(), 2u) << j.dump();
    ASSERT_TRUE(j["local_peer"].is_object()) << j.dump();
    auto local_peer = j["local_peer"].value("peer_id", "");
    up.api = HttpUrl::parse(j.value("api", ""));
    ASSERT_TRUE(up.api) << j.dump();

    json node;
    std::string why;
    bool healthy = poll_until(
        [&] {
            auto n = api_json(up, "GET", "/api/v1/node", nullptr, 10s, &why);
            if (!n) return false;
            node = *n;
            return node.value("state", "") == "healthy";
        },
        30s, 20ms);
    auto took = Clock::now() - up.child().started_at();
    ASSERT_TRUE(healthy) << node.dump(2) << " " << why;
    figure("keel-up", "healthy_after_spawn_s", num(seconds(took), 3), {},
           "routing_table_size=" + node.value("routing_table_size", json()).dump());

    auto test = api_json(up, "POST", "/api/v1/discovery/test", nullptr, 60s, &why);
    ASSERT_TRUE(test) << why;
    EXPECT_EQ(test->value("ok", false), true) << test->dump(2);
    ASSERT_EQ((*test)["steps"].size(), 3u);
    for (const auto& step : (*test)["steps"])
        figure("keel-up", "discovery_test_" + step.value("id", std::string()) + "_ms",
               num(step.value("duration_ms", 0.0), 1), {},
               "status=" + step.value("status", std::string()));

    // The node info names what runs in this process: two bootstraps and the local peer.
    std::vector<std::string> labels;
    for (const auto& l : node["local_peers"]) labels.push_back(l.value("label", ""));
    EXPECT_EQ(labels,
              (std::vector<std::string>{"local-bootstrap-1", "local-bootstrap-2", "local-peer"}))
        << node.dump(2);

    auto diagnostics = api_json(up, "POST", "/api/v1/diagnostics?wait=1", nullptr, 90s, &why);
    ASSERT_TRUE(diagnostics) << why;
    EXPECT_EQ(diagnostics->value("result", ""), "passed") << diagnostics->dump(2);
    EXPECT_EQ(diagnostics->value("ok", false), true) << diagnostics->dump(2);
    ASSERT_EQ((*diagnostics)["steps"].size(), 6u);
    for (const auto& step : (*diagnostics)["steps"]) {
        EXPECT_EQ(step.value("status", ""), "passed") << step.dump(2);
        figure("keel-up", "diagnostics_" + step.value("id", std::string()) + "_ms",
               num(step.value("duration_ms", 0.0), 1), {},
               "status=" + step.value("status", std::string()));
    }
    // What step 4 discovered is the local peer, and the page can tell it is local.
    auto short_id = local_peer.substr(local_peer.size() - 6);  // PeerId::short_string's tail
    EXPECT_NE((*diagnostics)["steps"][3].value("detail", "").find(short_id), std::string::npos)
        << diagnostics->dump(2);
    auto peers = api_json(up, "GET", "/api/v1/peers", nullptr, 10s, &why);
    ASSERT_TRUE(peers) << why;
    bool local_listed = false;
    for (const auto& p : (*peers)["peers"])
        if (p.value("peer_id", "") == local_peer)
            local_listed = p.value("local", false) && p.value("label", "") == "local-peer";
    EXPECT_TRUE(local_listed) << peers->dump(2);

    ASSERT_TRUE(up.child().signal(SIGTERM));
    auto code = up.child().wait_exit(10s);
    ASSERT_TRUE(code) << "keel up did not exit within 10 s of SIGTERM";
    EXPECT_TRUE(WIFEXITED(*code) && WEXITSTATUS(*code) == 0) << "wait status " << *code;
    EXPECT_TRUE(up.wait_event(event_is("stopped"), 5s));
}

}  // namespace
}  // namespace keel::test::scenario
