// Scenario 5: no retry storm. A TCP relay stands in front of a real `keel bootstrap`; the node's
// only bootstrap address is the relay's port with the bootstrap's /p2p ID, so every dial the node
// makes to it is a connection the relay accepts and counts. 100 cycles of: up until the node
// reports the bootstrap healthy, then down for a fixed window (relayed connections closed, new
// ones accepted and closed at once). The backoff (initial 20 ms, max 320 ms, jitter 0.2) allows
// at most: one immediate probe when the connection closes, one more per backoff delay that fits
// in the window at its shortest (initial * 2^i * (1 - jitter), capped), and one dial to recover.
// The total must stay within the sum of that over the cycles.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "scenario/scenario_support.hpp"
#include "scenario/tcp_relay.hpp"

namespace keel::test::scenario {
namespace {

struct BackoffSchedule {
    double initial_ms = 20;
    double max_ms = 320;
    double jitter = 0.2;

    // The most dials a node following this schedule can make in a down window of `window`,
    // the dial that recovers after it included.
    std::size_t max_dials(Clock::duration window) const {
        double w = millis(window);
        std::size_t dials = 1;  // the probe at once when the connection closes
        double t = 0;
        for (int i = 0;; ++i) {
            t += std::min(initial_ms * std::pow(2.0, i), max_ms) * (1 - jitter);
            if (t > w) break;
            ++dials;
        }
        return dials + 1;  // the dial that finds it up again
    }
};

TEST_F(ScenarioTest, Scenario5_HundredReconnectCyclesStayWithinTheBackoffBudget) {
    int cycles = 100;
    if (const char* n = std::getenv("KEEL_SCENARIO_CYCLES"); n && std::atoi(n) > 0)
        cycles = std::atoi(n);
    const auto window = 400ms;
    const BackoffSchedule schedule;
    auto config = write_file("node.toml", R"([connect]
timeout = "2s"

[health]
probe_interval = "1s"
probe_timeout = "2s"
backoff_initial = "20ms"
backoff_max = "320ms"
backoff_jitter = 0.2
)");

    // 100 cycles of debug logging would load the machine for nothing (unless asked for).
    if (!std::getenv("KEEL_SCENARIO_LOG_LEVEL")) log_level_ = "info";
    KeelProcess *boot = nullptr, *other = nullptr;
    ASSERT_TRUE(start_bootstrap_pair(boot, other));
    TcpRelay relay(TcpRelay::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                           tcp_port_of(boot->addr)));
    const std::string via =
        "/ip4/127.0.0.1/tcp/" + std::to_string(relay.port()) + "/p2p/" + boot->peer_id;
    auto* node = start_node("node", {via}, config);
    ASSERT_TRUE(node);
    json last;
    ASSERT_TRUE(wait_all_healthy(*node, {boot->peer_id}, 60s, last))
        << "the node did not report the relayed bootstrap healthy within 60 s: " << last.dump(2);

    const auto base_dials = relay.accepted();
    std::size_t from = node->event_count();
    const std::size_t first_event = from;
    std::size_t bound = 0;
    double recover_total_ms = 0, recover_max_ms = 0;
    // Where the dials fell: in the down window, between the relay coming up and the node
    // reporting healthy (the recovery), after that until the next window (none expected).
    std::size_t in_windows = 0, in_recoveries = 0, while_healthy = 0, worst_cycle = 0;
    std::size_t last_healthy_count = base_dials;
    int cycles_over = 0;
    std::string over;  // the first few cycles that used more than their share
    auto started = Clock::now();
    for (int cycle = 0; cycle < cycles; ++cycle) {
        auto at_start = relay.accepted();
        auto down_at = Clock::now();
        relay.set_up(false);
        std::this_thread::sleep_until(down_at + window);  // the fixed down window itself
        auto at_up = relay.accepted();
        relay.set_up(true);
        auto up_at = Clock::now();
        auto allowed = schedule.max_dials(up_at - down_at);
        bound += allowed;
        auto healthy = node->wait_event(health_event(boot->peer_id, {"healthy"}), 30s, from);
        ASSERT_TRUE(healthy) << "cycle " << cycle
                             << ": not healthy again 30 s after the relay came up";
        auto at_healthy = relay.accepted();
        double recover_ms = millis(healthy->at - up_at);
        recover_total_ms += recover_ms;
        recover_max_ms = std::max(recover_max_ms, recover_ms);
        from = healthy->index + 1;
        in_windows += at_up - at_start;
        in_recoveries += at_healthy - at_up;
        while_healthy += at_start - last_healthy_count;
        last_healthy_count = at_healthy;
        auto used = at_healthy - at_start;
        worst_cycle = std::max(worst_cycle, used);
        if (used > allowed) {
            ++cycles_over;
            if (cycles_over <= 5)
                over += " cycle" + std::to_string(cycle) + "=" + std::to_string(at_up - at_start) +
                        "+" + std::to_string(at_healthy - at_up) + "/" + std::to_string(allowed);
        }
    }
    auto wall = Clock::now() - started;
    auto dials = relay.accepted() - base_dials;
    auto downs = node->find_events(health_event(boot->peer_id, {"down", "degraded"}), first_event);
    figure("scenario5", "total_dials", std::to_string(dials), "<=" + std::to_string(bound),
           "cycles=" + std::to_string(cycles) + " down_window_ms=" + num(millis(window), 0));
    figure("scenario5", "mean_dials_per_cycle", num(double(dials) / cycles, 2),
           "<=" + num(double(bound) / cycles, 2));
    figure("scenario5", "down_events", std::to_string(downs.size()), "=" + std::to_string(cycles));
    figure("scenario5", "recover_after_up_ms", num(recover_total_ms / cycles, 1), {},
           "mean; max=" + num(recover_max_ms, 1));
    figure("scenario5", "dials_in_down_windows", std::to_string(in_windows), {},
           "in_recoveries=" + std::to_string(in_recoveries) + " while_healthy=" +
               std::to_string(while_healthy) + " worst_cycle=" + std::to_string(worst_cycle) +
               " cycles_over_share=" + std::to_string(cycles_over) + over);
    figure("scenario5", "wall_s", num(seconds(wall), 1));
    EXPECT_LE(dials, bound);
    EXPECT_EQ(downs.size(), static_cast<std::size_t>(cycles))
        << "the node did not see every down window (a path around the relay?)";
}

}  // namespace
}  // namespace keel::test::scenario
