#pragma once
// The relay's reservations and circuits as numbers: who holds a slot until when, how many
// circuits each peer has, and which limit refuses the next one. No network, no clock of its own
// (the caller passes the time), so every limit is testable directly.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/asio/ip/address.hpp>

#include "keel/crypto/peer_id.hpp"
#include "keel/net/rate_limiter.hpp"
#include "keel/relay/relay_config.hpp"

namespace keel::relay {

// Why a RESERVE or CONNECT was refused: the metric label and the log's reason.
enum class Refusal {
    reservations_full,
    reservations_per_ip,
    reservation_rate_per_peer,
    reservation_rate_per_ip,
    circuits_full,
    circuits_per_peer,
    no_reservation,
    connection_failed,
    malformed,
    unexpected,
};
std::string_view refusal_name(Refusal r);
inline constexpr Refusal all_refusals[] = {Refusal::reservations_full,
                                           Refusal::reservations_per_ip,
                                           Refusal::reservation_rate_per_peer,
                                           Refusal::reservation_rate_per_ip,
                                           Refusal::circuits_full,
                                           Refusal::circuits_per_peer,
                                           Refusal::no_reservation,
                                           Refusal::connection_failed,
                                           Refusal::malformed,
                                           Refusal::unexpected};

struct Reservation {
    net::asio::ip::address ip;  // the host it was made from (host_of: an IPv6 /56)
    std::chrono::system_clock::time_point expires;
};

class Reservations {
  public:
    explicit Reservations(const RelayConfig& config);

    // A new reservation or the refresh of `peer`'s: its expiry, or the limit that refused it.
    std::variant<std::chrono::system_clock::time_point, Refusal> reserve(
        const PeerId& peer, const net::asio::ip::address& ip, net::Clock::time_point now,
        std::chrono::system_clock::time_point wall_now);
    // `peer`'s reservation if it has one that has not expired (an expired one is dropped).
    std::optional<Reservation> find(const PeerId& peer,
                                    std::chrono::system_clock::time_point wall_now);
    void remove(const PeerId& peer);
    std::size_t size() const { return by_peer_.size(); }

    // A circuit from `source` to `target` may open (counted until close_circuit), or the limit
    // that refused it.
    std::optional<Refusal> open_circuit(const PeerId& source, const PeerId& target);
    void close_circuit(const PeerId& source, const PeerId& target);
    std::size_t circuits() const { return circuits_; }

  private:
    bool exempt(const net::asio::ip::address& ip) const;
    void expire(std::chrono::system_clock::time_point wall_now);

    RelayConfig config_;
    std::map<PeerId, Reservation> by_peer_;
    std::map<net::asio::ip::address, std::size_t> per_ip_;
    net::RateLimiter<PeerId> peer_rate_;
    net::RateLimiter<net::asio::ip::address> ip_rate_;
    std::map<PeerId, std::size_t> circuits_per_peer_;
    std::size_t circuits_ = 0;
};

}  // namespace keel::relay
