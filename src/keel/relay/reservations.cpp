#include "keel/relay/reservations.hpp"

#include "keel/host/address_groups.hpp"

namespace keel::relay {

std::string_view refusal_name(Refusal r) {
    switch (r) {
        case Refusal::reservations_full:
            return "reservations_full";
        case Refusal::reservations_per_ip:
            return "reservations_per_ip";
        case Refusal::reservation_rate_per_peer:
            return "reservation_rate_per_peer";
        case Refusal::reservation_rate_per_ip:
            return "reservation_rate_per_ip";
        case Refusal::circuits_full:
            return "circuits_full";
        case Refusal::circuits_per_peer:
            return "circuits_per_peer";
        case Refusal::no_reservation:
            return "no_reservation";
        case Refusal::connection_failed:
            return "connection_failed";
        case Refusal::malformed:
            return "malformed";
        case Refusal::unexpected:
            return "unexpected";
    }
    return "unknown";
}

Reservations::Reservations(const RelayConfig& config)
    : config_(config),
      peer_rate_(config.reservation_rate_per_peer, 4),
      ip_rate_(config.reservation_rate_per_ip, 16) {}

bool Reservations::exempt(const net::asio::ip::address& ip) const {
    return config_.exempt_loopback && ip.is_loopback();
}

void Reservations::expire(std::chrono::system_clock::time_point wall_now) {
    for (auto it = by_peer_.begin(); it != by_peer_.end();) {
        if (it->second.expires > wall_now) {
            ++it;
            continue;
        }
        auto ip = per_ip_.find(it->second.ip);
        if (ip != per_ip_.end() && --ip->second == 0) per_ip_.erase(ip);
        it = by_peer_.erase(it);
    }
}

std::variant<std::chrono::system_clock::time_point, Refusal> Reservations::reserve(
    const PeerId& peer, const net::asio::ip::address& address, net::Clock::time_point now,
    std::chrono::system_clock::time_point wall_now) {
    // Counted per host: an IPv6 subscriber rotating through its /56 is one. Loopback is judged on
    // the address itself: ::1's /56 is ::, which is not loopback.
    const auto ip = host_of(address);
    const bool exempted = exempt(canonical_address(address));
    expire(wall_now);
    if (!peer_rate_.take(peer, now)) return Refusal::reservation_rate_per_peer;
    if (!exempted && !ip_rate_.take(ip, now)) return Refusal::reservation_rate_per_ip;
    auto expires = wall_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                  config_.reservation_ttl);
    auto held = by_peer_.find(peer);
    if (held != by_peer_.end() && held->second.ip == ip) {  // a refresh
        held->second.expires = expires;
        return expires;
    }
    const std::size_t others = by_peer_.size() - (held != by_peer_.end() ? 1 : 0);
    if (others >= config_.max_reservations) return Refusal::reservations_full;
    if (!exempted && per_ip_[ip] >= config_.max_reservations_per_ip) {
        if (per_ip_[ip] == 0) per_ip_.erase(ip);
        return Refusal::reservations_per_ip;
    }
    if (held != by_peer_.end()) remove(peer);  // the peer moved to another address
    by_peer_[peer] = {ip, expires};
    ++per_ip_[ip];
    return expires;
}

std::optional<Reservation> Reservations::find(const PeerId& peer,
                                              std::chrono::system_clock::time_point wall_now) {
    expire(wall_now);
    auto it = by_peer_.find(peer);
    if (it == by_peer_.end()) return std::nullopt;
    return it->second;
}

void Reservations::remove(const PeerId& peer) {
    auto it = by_peer_.find(peer);
    if (it == by_peer_.end()) return;
    auto ip = per_ip_.find(it->second.ip);
    if (ip != per_ip_.end() && --ip->second == 0) per_ip_.erase(ip);
    by_peer_.erase(it);
}

std::optional<Refusal> Reservations::open_circuit(const PeerId& source, const PeerId& target) {
    if (circuits_ >= config_.max_circuits) return Refusal::circuits_full;
    if (circuits_per_peer_[source] >= config_.max_circuits_per_peer ||
        circuits_per_peer_[target] >= config_.max_circuits_per_peer) {
        for (const auto& p : {source, target})
            if (circuits_per_peer_[p] == 0) circuits_per_peer_.erase(p);
        return Refusal::circuits_per_peer;
    }
    ++circuits_;
    ++circuits_per_peer_[source];
    ++circuits_per_peer_[target];
    return std::nullopt;
}

void Reservations::close_circuit(const PeerId& source, const PeerId& target) {
    if (circuits_ > 0) --circuits_;
    for (const auto& p : {source, target}) {
        auto it = circuits_per_peer_.find(p);
        if (it != circuits_per_peer_.end() && --it->second == 0) circuits_per_peer_.erase(it);
    }
}

}  // namespace keel::relay
