#include "keel/health/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace keel::health {

net::Duration Backoff::next() {
    double base =
        static_cast<double>(config_.initial.count()) * std::pow(2.0, std::min(attempt_, 30));
    base = std::min(base, static_cast<double>(config_.max.count()));
    std::uniform_real_distribution<double> spread(1.0 - config_.jitter, 1.0 + config_.jitter);
    double delay = std::min(base * spread(rng_), static_cast<double>(config_.max.count()));
    ++attempt_;
    return net::Duration(static_cast<long long>(delay));
}

}  // namespace keel::health
