#pragma once
// What a probe found out about one bootstrap, and how that is judged. Liveness is not health: a
// bootstrap that accepts connections but whose DHT answers nothing is degraded, not healthy.
#include <chrono>
#include <optional>
#include <string>

#include "keel/crypto/peer_id.hpp"
#include "keel/host/failure.hpp"
#include "keel/multiaddr/multiaddr.hpp"

namespace keel::health {

enum class HealthState { connecting, healthy, degraded, down };
std::string_view state_name(HealthState state);

struct BootstrapHealth {
    Multiaddr addr;
    std::optional<PeerId> peer_id;
    bool reachable = false;
    std::optional<double> latency_ms;  // ping round trip
    bool dht_ok = false;               // a FIND_NODE answered with at least one peer
    std::optional<double> find_node_ms;
    std::optional<std::uint64_t> peer_count;
    std::optional<std::uint64_t> routing_table_size;
    bool stats_estimated = true;  // false when the bootstrap answered /keel/health/1.0.0
    std::uint32_t consecutive_failures = 0;
    std::string last_error;  // "dial: Connection refused (…)"
    std::optional<Phase> failed_phase;
    std::chrono::system_clock::time_point checked_at{};
    HealthState state = HealthState::connecting;
};

struct HealthThresholds {
    double degraded_latency_ms = 1000;  // slower pings than this are degraded
};

// The state one probe result implies on its own.
HealthState classify(const BootstrapHealth& probe, const HealthThresholds& thresholds);

}  // namespace keel::health
