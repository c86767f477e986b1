// Backoff: 2x per attempt from `initial`, capped at `max`, each delay spread by ±jitter (and still
// capped), reset() starting over; the seed makes the spread reproducible.
#include "keel/health/backoff.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace keel::health {
namespace {

using namespace std::chrono_literals;

BackoffConfig no_jitter(net::Duration initial, net::Duration max) {
    BackoffConfig config;
    config.initial = initial;
    config.max = max;
    config.jitter = 0;
    return config;
}

std::vector<net::Duration> delays(Backoff& backoff, int n) {
    std::vector<net::Duration> out;
    for (int i = 0; i < n; ++i) out.push_back(backoff.next());
    return out;
}

TEST(Backoff, DoublesEachAttempt) {
    Backoff backoff(no_jitter(100ms, 60s));
    EXPECT_EQ(backoff.attempt(), 0);
    EXPECT_EQ(delays(backoff, 6),
              (std::vector<net::Duration>{100ms, 200ms, 400ms, 800ms, 1600ms, 3200ms}));
    EXPECT_EQ(backoff.attempt(), 6);
}

TEST(Backoff, StopsGrowingAtTheCap) {
    Backoff backoff(no_jitter(1000ms, 5000ms));
    EXPECT_EQ(delays(backoff, 6),
              (std::vector<net::Duration>{1000ms, 2000ms, 4000ms, 5000ms, 5000ms, 5000ms}));
}

TEST(Backoff, ManyAttemptsStayAtTheCap) {
    // Far past the point where 2^attempt would overflow anything.
    Backoff backoff(no_jitter(1000ms, 60s));
    for (int i = 0; i < 200; ++i) {
        auto d = backoff.next();
        ASSERT_GT(d, net::Duration::zero()) << "attempt " << i;
        ASSERT_LE(d, 60s) << "attempt " << i;
    }
    EXPECT_EQ(backoff.next(), 60s);
    EXPECT_EQ(backoff.attempt(), 201);
}

TEST(Backoff, JitterStaysWithinItsBounds) {
    BackoffConfig config;
    config.initial = 1000ms;
    config.max = 30s;
    config.jitter = 0.25;
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
        Backoff backoff(config, seed);
        double base = 1000;
        for (int attempt = 0; attempt < 10; ++attempt) {
            auto d = static_cast<double>(backoff.next().count());
            double nominal = std::min(base, 30000.0);
            // Truncated to whole milliseconds: at most 1 ms under the exact bound.
            EXPECT_GE(d, nominal * (1 - config.jitter) - 1) << "seed " << seed << " #" << attempt;
            EXPECT_LE(d, std::min(nominal * (1 + config.jitter), 30000.0))
                << "seed " << seed << " #" << attempt;
            base *= 2;
        }
    }
}

TEST(Backoff, JitterNeverExceedsTheCap) {
    BackoffConfig config;
    config.initial = 10s;
    config.max = 10s;
    config.jitter = 0.5;
    for (std::uint64_t seed = 0; seed < 100; ++seed) {
        Backoff backoff(config, seed);
        auto d = backoff.next();
        EXPECT_LE(d, 10s) << "seed " << seed;
        EXPECT_GE(d, 5s - 1ms) << "seed " << seed;
    }
}

TEST(Backoff, JitterSpreadsClientsApart) {
    // Clients that lost the same bootstrap at the same moment must not come back in lockstep.
    BackoffConfig config;
    config.initial = 1000ms;
    config.jitter = 0.2;
    std::vector<net::Duration> firsts;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) firsts.push_back(Backoff(config, seed).next());
    std::sort(firsts.begin(), firsts.end());
    auto distinct = std::unique(firsts.begin(), firsts.end()) - firsts.begin();
    EXPECT_GE(distinct, 10);
}

TEST(Backoff, SameSeedSameDelays) {
    BackoffConfig config;
    config.jitter = 0.3;
    Backoff a(config, 1234), b(config, 1234);
    EXPECT_EQ(delays(a, 8), delays(b, 8));
}

TEST(Backoff, ResetStartsOver) {
    Backoff backoff(no_jitter(250ms, 60s));
    delays(backoff, 5);
    EXPECT_EQ(backoff.attempt(), 5);
    backoff.reset();
    EXPECT_EQ(backoff.attempt(), 0);
    EXPECT_EQ(delays(backoff, 3), (std::vector<net::Duration>{250ms, 500ms, 1000ms}));
}

TEST(Backoff, DefaultFirstDelayIsAboutASecond) {
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
        Backoff backoff({}, seed);
        auto d = backoff.next();
        EXPECT_GE(d, 800ms - 1ms);
        EXPECT_LE(d, 1200ms);
    }
}

}  // namespace
}  // namespace keel::health
