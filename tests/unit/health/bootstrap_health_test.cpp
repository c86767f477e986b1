// What one probe result says about a bootstrap: down when unreachable, degraded when its DHT
// does not answer with peers or its ping is slow, healthy otherwise; and the states' names.
#include "keel/health/bootstrap_health.hpp"

#include <gtest/gtest.h>

namespace keel::health {
namespace {

BootstrapHealth probe(bool reachable, bool dht_ok, std::optional<double> latency_ms) {
    BootstrapHealth h;
    h.reachable = reachable;
    h.dht_ok = dht_ok;
    h.latency_ms = latency_ms;
    return h;
}

TEST(BootstrapHealth, StateNames) {
    EXPECT_EQ(state_name(HealthState::connecting), "connecting");
    EXPECT_EQ(state_name(HealthState::healthy), "healthy");
    EXPECT_EQ(state_name(HealthState::degraded), "degraded");
    EXPECT_EQ(state_name(HealthState::down), "down");
}

TEST(BootstrapHealth, AFreshRecordIsConnecting) {
    BootstrapHealth h;
    EXPECT_EQ(h.state, HealthState::connecting);
    EXPECT_FALSE(h.reachable);
    EXPECT_TRUE(h.stats_estimated);
}

TEST(BootstrapHealth, UnreachableIsDownWhateverElse) {
    HealthThresholds t;
    EXPECT_EQ(classify(probe(false, false, std::nullopt), t), HealthState::down);
    EXPECT_EQ(classify(probe(false, true, 5.0), t), HealthState::down);
}

TEST(BootstrapHealth, LivenessWithoutADhtIsDegraded) {
    HealthThresholds t;
    EXPECT_EQ(classify(probe(true, false, 5.0), t), HealthState::degraded);
    EXPECT_EQ(classify(probe(true, false, std::nullopt), t), HealthState::degraded);
}

TEST(BootstrapHealth, SlowPingIsDegraded) {
    HealthThresholds t;
    t.degraded_latency_ms = 200;
    EXPECT_EQ(classify(probe(true, true, 200.5), t), HealthState::degraded);
    EXPECT_EQ(classify(probe(true, true, 200.0), t), HealthState::healthy);  // at it: not slower
    EXPECT_EQ(classify(probe(true, true, 3.0), t), HealthState::healthy);
}

TEST(BootstrapHealth, DefaultLatencyThresholdIsOneSecond) {
    HealthThresholds t;
    EXPECT_EQ(classify(probe(true, true, 999.0), t), HealthState::healthy);
    EXPECT_EQ(classify(probe(true, true, 1001.0), t), HealthState::degraded);
}

TEST(BootstrapHealth, ReachableWithDhtAndNoLatencyIsHealthy) {
    EXPECT_EQ(classify(probe(true, true, std::nullopt), HealthThresholds{}), HealthState::healthy);
}

}  // namespace
}  // namespace keel::health
