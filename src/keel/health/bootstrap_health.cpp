#include "keel/health/bootstrap_health.hpp"

namespace keel::health {

std::string_view state_name(HealthState state) {
    switch (state) {
        case HealthState::connecting:
            return "connecting";
        case HealthState::healthy:
            return "healthy";
        case HealthState::degraded:
            return "degraded";
        case HealthState::down:
            return "down";
    }
    return "unknown";
}

HealthState classify(const BootstrapHealth& probe, const HealthThresholds& thresholds) {
    if (!probe.reachable) return HealthState::down;
    if (!probe.dht_ok) return HealthState::degraded;
    if (probe.latency_ms && *probe.latency_ms > thresholds.degraded_latency_ms)
        return HealthState::degraded;
    return HealthState::healthy;
}

}  // namespace keel::health
