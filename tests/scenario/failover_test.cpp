// Scenario 2: a node with two bootstraps (two `keel bootstrap` processes that know each other, so
// that each one's FIND_NODE answers with a peer and both are healthy).
//  (a) B1 is killed (-9): the node reports B1 down within 2 s and stays healthy through B2.
//  (b) B1 freezes (SIGSTOP): with probe_interval 3 s and 2 s deadlines, B1 is degraded or down
//      within probe_interval + timeout (+1 s slack); after SIGCONT the node reports it healthy
//      again on its own (no API call), within the backoff delay it had scheduled (+ one probe).
#include <signal.h>

#include <algorithm>
#include <cmath>

#include "scenario/scenario_support.hpp"

namespace keel::test::scenario {
namespace {

TEST_F(ScenarioTest, Scenario2a_KilledBootstrapIsDownWithinTwoSecondsAndNodeFailsOver) {
    KeelProcess *b1 = nullptr, *b2 = nullptr;
    ASSERT_TRUE(start_bootstrap_pair(b1, b2));
    auto* node = start_node("node", {b1->addr, b2->addr});
    ASSERT_TRUE(node);
    json last;
    ASSERT_TRUE(wait_all_healthy(*node, {b1->peer_id, b2->peer_id}, 60s, last))
        << "the node did not report both bootstraps healthy within 60 s: " << last.dump(2);

    auto from = node->event_count();
    auto killed_at = Clock::now();
    ASSERT_TRUE(b1->child().signal(SIGKILL));
    auto down = node->wait_event(health_event(b1->peer_id, {"down"}), 30s, from);
    ASSERT_TRUE(down) << "no bootstrap_health down event for B1 within 30 s of the kill";
    auto took = down->at - killed_at;
    figure("scenario2a", "down_event_after_kill_s", num(seconds(took), 3), "<=2",
           "node_state=" + down->body.value("node_state", "") +
               " failed_phase=" + down->body.value("failed_phase", json("")).dump() +
               " last_error=\"" + down->body.value("last_error", "") + "\"");
    EXPECT_LE(took, 2s);
    EXPECT_FALSE(down->body.value("last_error", "").empty()) << down->line;

    // Failover: the node is healthy through B2, and the API says the same.
    bool agrees = poll_until(
        [&] {
            auto h = api_json(*node, "GET", "/api/v1/bootstrap/health");
            if (!h) return false;
            last = *h;
            return h->value("node_state", "") == "healthy" &&
                   bootstrap_entry(*h, b1->peer_id).value("state", "") == "down" &&
                   bootstrap_entry(*h, b2->peer_id).value("state", "") == "healthy";
        },
        10s, 50ms);
    auto healthy_after = Clock::now() - killed_at;
    figure("scenario2a", "api_node_healthy_b1_down_b2_healthy_after_kill_s",
           num(seconds(healthy_after), 3), {},
           "event_node_state=" + down->body.value("node_state", ""));
    EXPECT_TRUE(agrees) << "GET /api/v1/bootstrap/health: " << last.dump(2);
    EXPECT_EQ(down->body.value("node_state", ""), "healthy")
        << "the node did not stay healthy through B2: " << down->line;
    for (const auto& e : node->find_events(event_is("bootstrap_health"), from)) {
        EXPECT_EQ(e.body.value("node_state", ""), "healthy") << e.line;
        if (e.body.value("peer_id", json()) == b2->peer_id) {
            EXPECT_EQ(e.body.value("state", ""), "healthy") << "B2 changed state: " << e.line;
        }
    }
    auto b1_entry = bootstrap_entry(last, b1->peer_id);
    EXPECT_FALSE(b1_entry.value("last_error", "").empty()) << b1_entry.dump();
}

TEST_F(ScenarioTest, Scenario2b_FrozenBootstrapDegradesWithinIntervalPlusTimeoutAndRecovers) {
    // Durations of the config below.
    const auto probe_interval = 3s, probe_timeout = 2s, connect_timeout = 2s;
    const auto backoff_initial = 1s, backoff_max = 8s;
    const double jitter = 0.2;
    auto config = write_file("node.toml", R"([connect]
timeout = "2s"

[health]
probe_interval = "3s"
probe_timeout = "2s"
backoff_initial = "1s"
backoff_max = "8s"
backoff_jitter = 0.2

[dht]
rpc_timeout = "2s"
)");
    KeelProcess *b1 = nullptr, *b2 = nullptr;
    ASSERT_TRUE(start_bootstrap_pair(b1, b2));
    auto* node = start_node("node", {b1->addr, b2->addr}, config);
    ASSERT_TRUE(node);
    json last;
    ASSERT_TRUE(wait_all_healthy(*node, {b1->peer_id, b2->peer_id}, 60s, last))
        << "the node did not report both bootstraps healthy within 60 s: " << last.dump(2);

    // Freeze B1: its connection stays open, nothing answers on it.
    auto from = node->event_count();
    auto stopped_at = Clock::now();
    ASSERT_TRUE(b1->child().signal(SIGSTOP));
    auto bad = node->wait_event(health_event(b1->peer_id, {"degraded", "down"}), 60s, from);
    auto detect_bound = probe_interval + probe_timeout + 1s;
    ASSERT_TRUE(bad) << "B1 still not degraded or down 60 s after SIGSTOP";
    auto detected = bad->at - stopped_at;
    figure("scenario2b", "degraded_or_down_after_sigstop_s", num(seconds(detected), 3),
           "<=" + num(seconds(detect_bound), 1) + " (probe_interval 3 + probe_timeout 2 + 1 slack)",
           "state=" + bad->body.value("state", "") +
               " failed_phase=" + bad->body.value("failed_phase", json("")).dump() +
               " last_error=\"" + bad->body.value("last_error", "") + "\"");
    EXPECT_LE(detected, detect_bound);
    EXPECT_EQ(bad->body.value("node_state", ""), "healthy")
        << "B2 should carry the node: " << bad->line;

    // Thaw it: the node finds B1 healthy again by itself, within the backoff delay it scheduled
    // with that event (attempt n waits initial * 2^(n-1), capped, +jitter) plus one probe.
    auto resumed_at = Clock::now();
    ASSERT_TRUE(b1->child().signal(SIGCONT));
    int attempt = bad->body.value("reconnect_attempt", 1);
    auto delay_ms = std::min(std::chrono::duration<double, std::milli>(backoff_initial).count() *
                                 std::pow(2.0, std::max(attempt - 1, 0)),
                             std::chrono::duration<double, std::milli>(backoff_max).count()) *
                    (1 + jitter);
    auto recover_bound = std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double, std::milli>(delay_ms)) +
                         connect_timeout + 1s;
    auto healthy = node->wait_event(health_event(b1->peer_id, {"healthy"}), 60s, bad->index + 1);
    ASSERT_TRUE(healthy) << "B1 not healthy again 60 s after SIGCONT";
    auto recovered = healthy->at - resumed_at;
    figure("scenario2b", "healthy_after_sigcont_s", num(seconds(recovered), 3),
           "<=" + num(seconds(recover_bound), 1) + " (backoff " + num(delay_ms / 1000, 1) +
               " + connect timeout 2 + 1 slack)",
           "reconnect_attempt=" + std::to_string(attempt) +
               " probe_timeout_s=" + num(seconds(probe_timeout), 0));
    EXPECT_LE(recovered, recover_bound);
    auto h = api_json(*node, "GET", "/api/v1/bootstrap/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(bootstrap_entry(*h, b1->peer_id).value("state", ""), "healthy") << h->dump(2);
    EXPECT_EQ(h->value("node_state", ""), "healthy") << h->dump(2);
}

}  // namespace
}  // namespace keel::test::scenario
