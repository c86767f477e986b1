// Scenario 4: the first bootstrap of the list is down, the second is up. The node dials its
// bootstrap list staggered, so the dead primary costs the stagger, not a timeout: the
// `bootstrap_connected` event naming the secondary comes in under 1.5 s, measured from the spawn
// of the process and by the event's own elapsed_ms. Two kinds of "down": a frozen `keel bootstrap`
// (SIGSTOP: accepts TCP, never answers) and a closed port (connection refused).
#include <signal.h>

#include "scenario/scenario_support.hpp"

namespace keel::test::scenario {
namespace {

class PrimaryDown : public ScenarioTest {
  protected:
    void run(const std::string& variant, const std::string& primary, const KeelProcess& secondary) {
        auto* node = start_node("node", {primary, secondary.addr});
        ASSERT_TRUE(node);
        auto spawned = node->child().started_at();
        // Today's event (printed for every connection) as a reference figure.
        auto opened =
            node->wait_event(event_is("connection_opened", {{"peer_id", secondary.peer_id}}), 20s);
        if (opened)
            figure("scenario4-" + variant, "connection_opened_secondary_after_spawn_s",
                   num(seconds(opened->at - spawned), 3), {}, "reference (not the contract event)");
        auto outcome = node->wait_event(
            [](const json& j) {
                return event_is("bootstrap_connected")(j) || event_is("bootstrap_failed")(j);
            },
            20s);
        ASSERT_TRUE(outcome) << "no bootstrap_connected/bootstrap_failed event within 20 s";
        const auto& j = outcome->body;
        auto after_spawn = outcome->at - spawned;
        double elapsed_ms = j.contains("elapsed_ms") && j["elapsed_ms"].is_number()
                                ? j["elapsed_ms"].get<double>()
                                : -1;
        figure("scenario4-" + variant, "bootstrap_connected_after_spawn_s",
               num(seconds(after_spawn), 3), "<1.5", "event=" + j.value("event", ""));
        figure("scenario4-" + variant, "bootstrap_connected_elapsed_ms", num(elapsed_ms, 0),
               "<1500", "addr=" + j.value("addr", ""));
        ASSERT_EQ(j.value("event", ""), "bootstrap_connected") << outcome->line;
        EXPECT_EQ(j.value("peer_id", ""), secondary.peer_id) << outcome->line;
        EXPECT_EQ(j.value("addr", ""), secondary.addr) << outcome->line;
        EXPECT_GE(elapsed_ms, 0) << outcome->line;
        EXPECT_LT(elapsed_ms, 1500) << outcome->line;
        EXPECT_LT(after_spawn, 1500ms);
    }
};

TEST_F(PrimaryDown, Scenario4a_FrozenPrimaryCostsOnlyTheStagger) {
    auto* primary = start_bootstrap("primary");
    ASSERT_TRUE(primary);
    auto* secondary = start_bootstrap("secondary");
    ASSERT_TRUE(secondary);
    ASSERT_TRUE(primary->child().signal(SIGSTOP));
    run("frozen", primary->addr, *secondary);
}

TEST_F(PrimaryDown, Scenario4b_RefusingPrimaryCostsOnlyTheStagger) {
    // A real bootstrap's address, its process killed: the port refuses connections.
    auto* primary = start_bootstrap("primary");
    ASSERT_TRUE(primary);
    ASSERT_TRUE(primary->child().signal(SIGKILL));
    ASSERT_TRUE(primary->child().wait_exit(10s).has_value());
    auto* secondary = start_bootstrap("secondary");
    ASSERT_TRUE(secondary);
    run("refused", primary->addr, *secondary);
}

}  // namespace
}  // namespace keel::test::scenario
