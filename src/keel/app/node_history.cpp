#include "keel/app/node_history.hpp"

#include <algorithm>

namespace keel::app {

using health::HealthState;
using nlohmann::json;

namespace {

// How bad a state is, for folding several into one: a minute with any down point is down.
int severity(HealthState s) {
    switch (s) {
        case HealthState::healthy:
            return 0;
        case HealthState::connecting:
            return 1;
        case HealthState::degraded:
            return 2;
        case HealthState::down:
            return 3;
    }
    return 3;
}

HealthState worse(HealthState a, HealthState b) {
    return severity(b) > severity(a) ? b : a;
}

float slower(float a, float b) {
    return a < 0 ? b : (b < 0 ? a : std::max(a, b));
}

json ms_or_null(float ms) {
    return ms < 0 ? json(nullptr) : json(ms);
}

// Folds `next` into `into` (a minute's point): the worst state and time, the latest counts.
void fold(HistoryPoint& into, const HistoryPoint& next) {
    into.unix_ms = next.unix_ms;
    into.node_state = worse(into.node_state, next.node_state);
    into.connections = next.connections;
    into.routing_table_size = next.routing_table_size;
    into.rss_bytes = std::max(into.rss_bytes, next.rss_bytes);
    into.inbound_accepted = next.inbound_accepted;
    into.inbound_refused = next.inbound_refused;
    into.dht_requests_served = next.dht_requests_served;
    into.inbound_refused_by_reason = next.inbound_refused_by_reason;
    into.dht_served_by_type = next.dht_served_by_type;
    into.relay_reservations = std::max(into.relay_reservations, next.relay_reservations);
    into.relay_circuits = std::max(into.relay_circuits, next.relay_circuits);
    into.relay_bytes = next.relay_bytes;
    for (const auto& b : next.bootstraps) {
        auto it = std::find_if(into.bootstraps.begin(), into.bootstraps.end(),
                               [&](const BootstrapPoint& p) { return p.bootstrap == b.bootstrap; });
        if (it == into.bootstraps.end()) {
            into.bootstraps.push_back(b);
            continue;
        }
        it->state = worse(it->state, b.state);
        it->latency_ms = slower(it->latency_ms, b.latency_ms);
        it->find_node_ms = slower(it->find_node_ms, b.find_node_ms);
        it->peer_count = b.peer_count;
        it->routing_table_size = b.routing_table_size;
    }
}

template <typename T>
void push_bounded(std::deque<T>& ring, T value, std::size_t capacity) {
    if (capacity == 0) return;
    while (ring.size() >= capacity) ring.pop_front();
    ring.push_back(std::move(value));
}

}  // namespace

NodeHistory::NodeHistory(HistoryLimits limits) : limits_(limits) {}

std::optional<std::uint16_t> NodeHistory::bootstrap_index(std::string_view name) {
    auto it = std::find(names_.begin(), names_.end(), name);
    if (it != names_.end()) return static_cast<std::uint16_t>(it - names_.begin());
    if (names_.size() >= std::min<std::size_t>(limits_.max_bootstraps, 65535)) return std::nullopt;
    names_.emplace_back(name);
    return static_cast<std::uint16_t>(names_.size() - 1);
}

void NodeHistory::record(HistoryPoint point) {
    if (point.bootstraps.size() > names_.size()) point.bootstraps.resize(names_.size());
    point.bootstraps.shrink_to_fit();
    if (!minute_) {
        minute_ = point;
        minute_points_ = 1;
    } else {
        fold(*minute_, point);
        ++minute_points_;
    }
    if (minute_points_ >= limits_.points_per_minute) {
        push_bounded(day_, std::move(*minute_), limits_.day_points);
        minute_.reset();
        minute_points_ = 0;
    }
    push_bounded(recent_, std::move(point), limits_.recent_points);
}

void NodeHistory::mark(HistoryMark mark) {
    push_bounded(marks_, mark, limits_.max_marks);
}

json NodeHistory::point_json(const HistoryPoint& p) const {
    json bootstraps = json::array();
    for (const auto& b : p.bootstraps)
        bootstraps.push_back({{"i", b.bootstrap},
                              {"state", health::state_name(b.state)},
                              {"latency_ms", ms_or_null(b.latency_ms)},
                              {"find_node_ms", ms_or_null(b.find_node_ms)},
                              {"peer_count", b.peer_count},
                              {"routing_table_size", b.routing_table_size}});
    json refused = json::object();
    for (std::size_t i = 0; i < all_refusals.size(); ++i)
        refused[std::string(refusal_name(all_refusals[i]))] = p.inbound_refused_by_reason[i];
    json served = json::object();
    for (std::size_t i = 0; i < dht_types.size(); ++i)
        served[std::string(dht_types[i])] = p.dht_served_by_type[i];
    return {{"t", p.unix_ms},
            {"state", health::state_name(p.node_state)},
            {"connections", p.connections},
            {"routing_table_size", p.routing_table_size},
            {"rss_bytes", p.rss_bytes},
            {"inbound_accepted", p.inbound_accepted},
            {"inbound_refused", p.inbound_refused},
            {"dht_requests_served", p.dht_requests_served},
            {"inbound_refused_by_reason", refused},
            {"dht_served_by_type", served},
            {"relay",
             {{"reservations", p.relay_reservations},
              {"circuits", p.relay_circuits},
              {"bytes", p.relay_bytes}}},
            {"bootstraps", bootstraps}};
}

json NodeHistory::to_json(HistoryRange range) const {
    const bool day = range == HistoryRange::day;
    const auto& ring = day ? day_ : recent_;
    const auto step =
        day ? limits_.step * static_cast<long>(limits_.points_per_minute) : limits_.step;
    json points = json::array();
    for (const auto& p : ring) points.push_back(point_json(p));
    // The marks the range's points cover (all of them while the range is not yet full).
    const std::int64_t since =
        ring.empty() ? 0 : ring.front().unix_ms - static_cast<std::int64_t>(step.count());
    json marks = json::array();
    for (const auto& m : marks_) {
        if (m.unix_ms < since) continue;
        marks.push_back({{"t", m.unix_ms},
                         {"i", m.bootstrap},
                         {"from", health::state_name(m.from)},
                         {"to", health::state_name(m.to)}});
    }
    return {{"range", day ? "24h" : "1h"},
            {"step_ms", step.count()},
            {"bootstraps", names_},
            {"points", points},
            {"marks", marks}};
}

std::size_t NodeHistory::memory_bytes() const {
    // Each vector's buffer is one allocation (~16 bytes of allocator overhead each); a deque
    // holds its elements in 512-byte blocks plus a map of block pointers.
    constexpr std::size_t allocation = 16;
    auto ring_bytes = [&](const auto& ring) {
        using T = typename std::decay_t<decltype(ring)>::value_type;
        const std::size_t per_block = std::max<std::size_t>(1, 512 / sizeof(T));
        const std::size_t blocks = ring.size() / per_block + 1;
        return blocks * (per_block * sizeof(T) + allocation + sizeof(void*));
    };
    auto points_bytes = [&](const std::deque<HistoryPoint>& ring) {
        std::size_t bytes = ring_bytes(ring);
        for (const auto& p : ring)
            if (p.bootstraps.capacity() > 0)
                bytes += p.bootstraps.capacity() * sizeof(BootstrapPoint) + allocation;
        return bytes;
    };
    std::size_t bytes = sizeof(*this) + points_bytes(recent_) + points_bytes(day_) +
                        ring_bytes(marks_) + names_.capacity() * sizeof(std::string);
    for (const auto& n : names_) bytes += n.capacity() + allocation;
    return bytes;
}

std::size_t NodeHistory::size(HistoryRange range) const {
    return range == HistoryRange::day ? day_.size() : recent_.size();
}

}  // namespace keel::app
