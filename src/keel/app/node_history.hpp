#pragma once
// A bounded in-memory history of the node and its bootstraps, for charts (GET /api/v1/history):
// the last hour at one point per step (5 s) and the last day at one point per minute, plus the
// moments a bootstrap changed state. Not kept across restarts: a restarted node starts a new
// history (writing a point every 5 s to SQLite would cost more than the charts are worth).
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/health/bootstrap_health.hpp"
#include "keel/host/inbound_admission.hpp"

namespace keel::app {

struct BootstrapPoint {
    std::uint16_t bootstrap = 0;  // index into the history's bootstrap names
    health::HealthState state = health::HealthState::connecting;
    float latency_ms = -1;    // ping round trip; -1: not measured
    float find_node_ms = -1;  // DHT answer time; -1: not measured
    std::uint32_t peer_count = 0;
    std::uint32_t routing_table_size = 0;
};

struct HistoryPoint {
    std::int64_t unix_ms = 0;
    health::HealthState node_state = health::HealthState::connecting;
    std::uint32_t connections = 0;
    std::uint32_t routing_table_size = 0;
    std::uint64_t rss_bytes = 0;
    // Totals since start (a chart shows their rate): what a bootstrap's operator watches.
    std::uint64_t inbound_accepted = 0;
    std::uint64_t inbound_refused = 0;
    std::uint64_t dht_requests_served = 0;
    // The same totals split: by the limit that refused (all_refusals' order) and by Kademlia
    // message type (dht_types' order).
    std::array<std::uint64_t, all_refusals.size()> inbound_refused_by_reason{};
    std::array<std::uint64_t, 6> dht_served_by_type{};
    // A relay server's: reservations held and circuits open now, bytes relayed since start.
    std::uint32_t relay_reservations = 0;
    std::uint32_t relay_circuits = 0;
    std::uint64_t relay_bytes = 0;
    std::vector<BootstrapPoint> bootstraps;
};

// The Kademlia message types, in HistoryPoint::dht_served_by_type's order.
inline constexpr std::array<std::string_view, 6> dht_types{
    "FIND_NODE", "GET_PROVIDERS", "ADD_PROVIDER", "GET_VALUE", "PUT_VALUE", "PING"};

// A bootstrap changed state: a reconnect is a change from down to healthy.
struct HistoryMark {
    std::int64_t unix_ms = 0;
    std::uint16_t bootstrap = 0;
    health::HealthState from = health::HealthState::connecting;
    health::HealthState to = health::HealthState::connecting;
};

struct HistoryLimits {
    std::chrono::milliseconds step{5000};
    std::size_t recent_points = 720;     // one hour at 5 s
    std::size_t points_per_minute = 12;  // recent points folded into one of the day's
    std::size_t day_points = 1440;       // one day at one minute
    std::size_t max_marks = 1000;
    std::size_t max_bootstraps = 256;  // names kept; bootstraps past them are not charted
};

enum class HistoryRange { hour, day };

class NodeHistory {
  public:
    explicit NodeHistory(HistoryLimits limits = {});

    // The index of a bootstrap's name (its address), added on first use; nullopt once
    // max_bootstraps names are held.
    std::optional<std::uint16_t> bootstrap_index(std::string_view name);
    void record(HistoryPoint point);
    void mark(HistoryMark mark);

    // {"range", "step_ms", "bootstraps": [names], "points": [...], "marks": [...]}
    nlohmann::json to_json(HistoryRange range) const;
    nlohmann::json point_json(const HistoryPoint& point) const;
    // What the history holds now, its allocations included (docs/api.md has the figure).
    std::size_t memory_bytes() const;
    const HistoryLimits& limits() const { return limits_; }
    std::size_t size(HistoryRange range) const;

  private:
    HistoryLimits limits_;
    std::vector<std::string> names_;
    std::deque<HistoryPoint> recent_;
    std::deque<HistoryPoint> day_;
    std::deque<HistoryMark> marks_;
    std::optional<HistoryPoint> minute_;  // the day's next point, folded from recent ones
    std::size_t minute_points_ = 0;
};

}  // namespace keel::app
