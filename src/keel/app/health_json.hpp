#pragma once
// Health and verification results as JSON, the same shape for the CLI and the HTTP API.
#include <nlohmann/json.hpp>

#include "keel/health/bootstrap_health.hpp"
#include "keel/health/discovery_verifier.hpp"

namespace keel::app {

inline nlohmann::json health_to_json(const health::BootstrapHealth& h) {
    nlohmann::json j;
    j["addr"] = h.addr.to_string();
    j["peer_id"] = h.peer_id ? nlohmann::json(h.peer_id->to_base58()) : nlohmann::json();
    j["state"] = health::state_name(h.state);
    j["reachable"] = h.reachable;
    j["latency_ms"] = h.latency_ms ? nlohmann::json(*h.latency_ms) : nlohmann::json();
    j["dht_ok"] = h.dht_ok;
    j["find_node_ms"] = h.find_node_ms ? nlohmann::json(*h.find_node_ms) : nlohmann::json();
    j["peer_count"] = h.peer_count ? nlohmann::json(*h.peer_count) : nlohmann::json();
    j["routing_table_size"] =
        h.routing_table_size ? nlohmann::json(*h.routing_table_size) : nlohmann::json();
    j["stats_estimated"] = h.stats_estimated;
    j["consecutive_failures"] = h.consecutive_failures;
    j["last_error"] = h.last_error;
    j["failed_phase"] =
        h.failed_phase ? nlohmann::json(phase_name(*h.failed_phase)) : nlohmann::json();
    j["checked_at_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(h.checked_at.time_since_epoch())
            .count();
    return j;
}

inline nlohmann::json step_to_json(const health::VerificationStep& s) {
    return {{"id", s.id},
            {"title", s.title},
            {"status", std::string(health::status_name(s.status))},
            {"duration_ms", s.duration_ms},
            {"detail", s.detail},
            {"remedy", s.remedy}};
}

}  // namespace keel::app
