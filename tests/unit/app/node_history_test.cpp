// The history behind the charts: bounded rings, a minute folded to its worst state and slowest
// answer, marks for the range shown, and the memory it holds at full size.
#include <gtest/gtest.h>

#include "keel/app/node_history.hpp"

namespace keel::app {
namespace {

using health::HealthState;

HistoryPoint point(std::int64_t t, HealthState node, HealthState boot, float latency) {
    HistoryPoint p;
    p.unix_ms = t;
    p.node_state = node;
    p.connections = static_cast<std::uint32_t>(t / 1000);
    p.inbound_accepted = static_cast<std::uint64_t>(t);
    BootstrapPoint b;
    b.bootstrap = 0;
    b.state = boot;
    b.latency_ms = latency;
    p.bootstraps.push_back(b);
    return p;
}

TEST(NodeHistory, AMinuteKeepsItsWorstStateAndSlowestAnswer) {
    HistoryLimits limits;
    limits.points_per_minute = 3;
    NodeHistory h(limits);
    ASSERT_EQ(h.bootstrap_index("/ip4/127.0.0.1/tcp/1/p2p/x"), 0);
    h.record(point(1000, HealthState::healthy, HealthState::healthy, 2));
    h.record(point(2000, HealthState::degraded, HealthState::down, -1));
    EXPECT_EQ(h.size(HistoryRange::day), 0u);
    h.record(point(3000, HealthState::healthy, HealthState::healthy, 9));
    ASSERT_EQ(h.size(HistoryRange::day), 1u);
    ASSERT_EQ(h.size(HistoryRange::hour), 3u);

    auto day = h.to_json(HistoryRange::day);
    EXPECT_EQ(day["range"], "24h");
    EXPECT_EQ(day["step_ms"], 15000);
    const auto& minute = day["points"][0];
    EXPECT_EQ(minute["t"], 3000);
    EXPECT_EQ(minute["state"], "degraded");
    EXPECT_EQ(minute["connections"], 3);          // the latest count
    EXPECT_EQ(minute["inbound_accepted"], 3000);  // a total: the latest
    EXPECT_EQ(minute["bootstraps"][0]["state"], "down");
    EXPECT_EQ(minute["bootstraps"][0]["latency_ms"], 9.0);

    auto hour = h.to_json(HistoryRange::hour);
    EXPECT_EQ(hour["step_ms"], 5000);
    EXPECT_EQ(hour["bootstraps"][0], "/ip4/127.0.0.1/tcp/1/p2p/x");
    EXPECT_TRUE(hour["points"][1]["bootstraps"][0]["latency_ms"].is_null());
}

TEST(NodeHistory, RingsAndNamesAreBounded) {
    HistoryLimits limits;
    limits.recent_points = 10;
    limits.points_per_minute = 2;
    limits.day_points = 3;
    limits.max_marks = 4;
    limits.max_bootstraps = 2;
    NodeHistory h(limits);
    EXPECT_EQ(h.bootstrap_index("a"), 0);
    EXPECT_EQ(h.bootstrap_index("b"), 1);
    EXPECT_EQ(h.bootstrap_index("a"), 0);
    EXPECT_FALSE(h.bootstrap_index("c"));
    for (int i = 1; i <= 100; ++i) {
        h.record(point(i * 1000, HealthState::healthy, HealthState::healthy, 1));
        h.mark({i * 1000, 0, HealthState::down, HealthState::healthy});
    }
    EXPECT_EQ(h.size(HistoryRange::hour), 10u);
    EXPECT_EQ(h.size(HistoryRange::day), 3u);
    auto hour = h.to_json(HistoryRange::hour);
    EXPECT_EQ(hour["points"].front()["t"], 91000);
    EXPECT_EQ(hour["points"].back()["t"], 100000);
    EXPECT_EQ(hour["marks"].size(), 4u);  // the newest four
    EXPECT_EQ(hour["marks"].front()["t"], 97000);
    EXPECT_EQ(hour["marks"].front()["to"], "healthy");
}

// Marks older than the range's first point are left out of that range.
TEST(NodeHistory, MarksFollowTheRange) {
    HistoryLimits limits;
    limits.recent_points = 2;
    NodeHistory h(limits);
    h.mark({1000, 0, HealthState::connecting, HealthState::healthy});
    for (int i = 1; i <= 5; ++i)
        h.record(point(100'000 + i * 5000, HealthState::healthy, HealthState::healthy, 1));
    h.mark({125'000, 0, HealthState::healthy, HealthState::down});
    auto hour = h.to_json(HistoryRange::hour);
    ASSERT_EQ(hour["marks"].size(), 1u);
    EXPECT_EQ(hour["marks"][0]["to"], "down");
}

// Ten bootstraps over the whole hour and day: the bound docs/api.md states.
TEST(NodeHistory, TenBootstrapsOverTheFullRangeStayUnderTwoMegabytes) {
    NodeHistory h;
    for (int b = 0; b < 10; ++b)
        ASSERT_TRUE(h.bootstrap_index("/dns4/bootstrap-" + std::to_string(b) +
                                      ".example.net/tcp/4001/p2p/"
                                      "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"));
    const auto total = h.limits().recent_points + h.limits().day_points * 12;
    for (std::size_t i = 0; i < total; ++i) {
        auto p = point(static_cast<std::int64_t>(i) * 5000, HealthState::healthy,
                       HealthState::healthy, 3);
        p.bootstraps.clear();
        for (std::uint16_t b = 0; b < 10; ++b)
            p.bootstraps.push_back({b, HealthState::healthy, 3, 4, 50, 20});
        h.record(std::move(p));
    }
    EXPECT_EQ(h.size(HistoryRange::hour), 720u);
    EXPECT_EQ(h.size(HistoryRange::day), 1440u);
    EXPECT_LT(h.memory_bytes(), 2u * 1024 * 1024) << h.memory_bytes();
    RecordProperty("memory_bytes", std::to_string(h.memory_bytes()));
}

}  // namespace
}  // namespace keel::app
