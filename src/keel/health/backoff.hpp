#pragma once
// Exponential backoff with jitter for reconnects: initial, 2x each attempt, capped, each delay
// spread by ±jitter so that many clients that lost the same bootstrap do not return in lockstep.
#include <cstdint>
#include <random>

#include "keel/net/asio.hpp"

namespace keel::health {

struct BackoffConfig {
    net::Duration initial{1000};
    net::Duration max{60'000};
    double jitter = 0.2;  // each delay lies in [d*(1-jitter), d*(1+jitter)], then capped at max
};

class Backoff {
  public:
    explicit Backoff(BackoffConfig config = {}, std::uint64_t seed = std::random_device{}())
        : config_(config), rng_(seed) {}

    net::Duration next();
    void reset() { attempt_ = 0; }
    int attempt() const { return attempt_; }
    const BackoffConfig& config() const { return config_; }

  private:
    BackoffConfig config_;
    std::mt19937_64 rng_;
    int attempt_ = 0;
};

}  // namespace keel::health
