#include "keel/host/inbound_admission.hpp"

#include <algorithm>
#include <chrono>

namespace keel {

namespace {

// How often at most admit() sweeps the idle entries out: often enough that they are gone a second
// or so after their bucket refilled, rarely enough that the sweep (linear in the entries) is noise.
constexpr auto prune_interval = std::chrono::seconds(1);

// Seconds as a clock duration, at most about three years: a tiny rate must not overflow it.
net::Clock::duration clock_seconds(double seconds) {
    return std::chrono::duration_cast<net::Clock::duration>(
        std::chrono::duration<double>(std::min(seconds, 1e8)));
}

}  // namespace

std::string_view refusal_name(Refusal reason) {
    switch (reason) {
        case Refusal::connections:
            return "connections";
        case Refusal::pending:
            return "pending";
        case Refusal::pending_per_ip:
            return "pending_per_ip";
        case Refusal::per_ip:
            return "per_ip";
        case Refusal::per_subnet:
            return "per_subnet";
        case Refusal::rate_per_ip:
            return "rate_per_ip";
    }
    return "unknown";
}

InboundAdmission::InboundAdmission(AdmissionLimits limits)
    : limits_(limits),
      tracks_addresses_(limits.max_pending_per_ip > 0 || limits.max_connections_per_ip > 0 ||
                        limits.max_connections_per_subnet > 0 || limits.rate_per_ip > 0) {
    limits_.burst_per_ip = std::max<std::size_t>(limits_.burst_per_ip, 1);
    if (limits_.rate_per_ip > 0) {
        token_interval_ = clock_seconds(1 / limits_.rate_per_ip);
        burst_span_ =
            clock_seconds(static_cast<double>(limits_.burst_per_ip - 1) / limits_.rate_per_ip);
    }
}

bool InboundAdmission::per_address(const Address& address) const {
    return tracks_addresses_ && !(limits_.exempt_loopback && address.is_loopback());
}

bool InboundAdmission::idle(const PerIp& entry, net::Clock::time_point now) const {
    return entry.pending == 0 && entry.upgraded == 0 && entry.full_at <= now;
}

void InboundAdmission::prune(net::Clock::time_point now) {
    std::erase_if(by_host_, [&](const auto& entry) { return idle(entry.second, now); });
    last_prune_ = now;
}

std::optional<Refusal> InboundAdmission::admit(const Address& address, net::Clock::time_point now,
                                               std::size_t open_connections,
                                               const EvictOldest& evict_oldest) {
    if (open_connections >= limits_.max_connections) return Refusal::connections;
    auto from = canonical_address(address);
    auto host = host_of(from);
    auto network = network_of(from);
    bool limited = per_address(from);
    PerIp current;
    if (limited) {
        if (now - last_prune_ >= prune_interval) prune(now);
        // Only looked up here: a refused connection leaves nothing behind.
        if (auto it = by_host_.find(host); it != by_host_.end()) current = it->second;
        if (limits_.max_pending_per_ip > 0 && current.pending >= limits_.max_pending_per_ip)
            return Refusal::pending_per_ip;
        if (limits_.max_connections_per_ip > 0 &&
            current.pending + current.upgraded >= limits_.max_connections_per_ip)
            return Refusal::per_ip;
        if (limits_.max_connections_per_subnet > 0) {
            auto s = by_network_.find(network);
            if (s != by_network_.end() && s->second >= limits_.max_connections_per_subnet)
                return Refusal::per_subnet;
        }
        if (limits_.rate_per_ip > 0) {
            // At least one token left: full_at − now ≤ (burst − 1) tokens' worth. A refusal takes
            // no token, so a host that keeps trying still gets rate_per_ip through.
            auto full_at = std::max(current.full_at, now);
            if (full_at - now > burst_span_) return Refusal::rate_per_ip;
            current.full_at = full_at + token_interval_;
        }
    }
    if (pending_ >= limits_.max_pending && !make_room(from, evict_oldest)) return Refusal::pending;
    if (limited) {
        ++current.pending;
        by_host_.insert_or_assign(host, current);
        ++by_network_[network];
    }
    ++pending_;
    ++pending_by_network_[network];
    return std::nullopt;
}

bool InboundAdmission::make_room(const Address& from, const EvictOldest& evict_oldest) {
    if (!evict_oldest || pending_by_network_.empty()) return false;
    // Linear in the networks, at most max_pending of them, only while the places are all taken.
    auto crowded =
        std::max_element(pending_by_network_.begin(), pending_by_network_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    // Fairer only if the crowded network, one fewer, still holds more than the newcomer's would.
    if (crowded->second < pending_from_network(from) + 2) return false;
    auto network = crowded->first;
    auto victim = evict_oldest(network);
    if (!victim) return false;
    auto victim_from = canonical_address(*victim);
    handshake_ended(victim_from);
    release(victim_from, true);
    return pending_ < limits_.max_pending;
}

void InboundAdmission::handshake_ended(const Address& from) {
    if (pending_ > 0) --pending_;
    if (auto g = pending_by_network_.find(network_of(from));
        g != pending_by_network_.end() && --g->second == 0)
        pending_by_network_.erase(g);
}

void InboundAdmission::upgraded(const Address& address) {
    auto from = canonical_address(address);
    handshake_ended(from);
    if (!per_address(from)) return;
    auto it = by_host_.find(host_of(from));
    if (it == by_host_.end()) return;
    if (it->second.pending > 0) --it->second.pending;
    ++it->second.upgraded;
}

void InboundAdmission::upgrade_failed(const Address& address) {
    auto from = canonical_address(address);
    handshake_ended(from);
    release(from, true);
}

void InboundAdmission::closed(const Address& address) {
    release(canonical_address(address), false);
}

void InboundAdmission::release(const Address& from, bool pending) {
    if (!per_address(from)) return;
    if (auto it = by_host_.find(host_of(from)); it != by_host_.end()) {
        auto& count = pending ? it->second.pending : it->second.upgraded;
        if (count > 0) --count;
        // Without a rate limit an entry holds nothing more than its counts: gone with them. With
        // one, its bucket must refill first (prune()), or closing and reconnecting would reset it.
        if (limits_.rate_per_ip <= 0 && it->second.pending == 0 && it->second.upgraded == 0)
            by_host_.erase(it);
    }
    if (auto s = by_network_.find(network_of(from)); s != by_network_.end() && --s->second == 0)
        by_network_.erase(s);
}

std::size_t InboundAdmission::pending_from(const Address& address) const {
    auto it = by_host_.find(host_of(address));
    return it == by_host_.end() ? 0 : it->second.pending;
}

std::size_t InboundAdmission::connections_from(const Address& address) const {
    auto it = by_host_.find(host_of(address));
    return it == by_host_.end() ? 0 : it->second.pending + it->second.upgraded;
}

std::size_t InboundAdmission::pending_from_network(const Address& from) const {
    auto it = pending_by_network_.find(network_of(from));
    return it == pending_by_network_.end() ? 0 : it->second;
}

std::size_t InboundAdmission::connections_from_subnet(const Address& address) const {
    auto it = by_network_.find(network_of(address));
    return it == by_network_.end() ? 0 : it->second;
}

}  // namespace keel
