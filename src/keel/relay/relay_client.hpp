#pragma once
// The client side of Circuit Relay v2: reserve a slot on a relay (so that peers reach us at
// <relay>/p2p-circuit/p2p/<us> although we are behind NAT), keep it (refresh before expiry, again
// after every reconnect to the relay), accept relayed connections (STOP), and dial /p2p-circuit
// addresses (HOP CONNECT). A relayed connection is upgraded like a TCP one (Noise, Yamux) and
// registered with the Host as `limited`.
//
// Lifetime: as the Host's (one executor; destroy after its io_context has stopped).
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "keel/host/host.hpp"
#include "keel/relay/relay_config.hpp"

namespace keel::relay {

struct RelayClientConfig {
    net::Duration message_timeout{10'000};  // a HOP/STOP answer, opening the stream
    net::Duration retry_initial{1000};      // after a failed reservation, doubling ...
    // ... up to this: a bootstrap back after a restart is relaying again within it.
    net::Duration retry_max{8'000};
    // Who dials the relays. Unset: the relay client itself. Set (a node whose relays are its
    // bootstraps, which the HealthMonitor keeps connected): with no connection to a relay, the
    // client asks this to reconnect, at most once per retry, and reserves as soon as a
    // connection opens; it never dials.
    std::function<void(const PeerId& relay)> reconnect;
    // Relayed connections accepted (STOP) and open at once, through one relay and in all. Only a
    // relay we hold a reservation with may send STOP: anyone else is refused.
    std::size_t max_circuits_per_relay = 16;
    std::size_t max_circuits = 64;
};

struct HeldReservation {
    Multiaddr relay;  // ends in /p2p/<relay>
    PeerId relay_peer;
    std::chrono::system_clock::time_point expires;
    std::vector<Multiaddr> circuit_addrs;  // <relay address>/p2p/<relay>/p2p-circuit
    std::uint32_t limit_duration_s = 0;    // 0: none stated
    std::uint64_t limit_bytes = 0;
};

struct RelayClientStats {
    std::uint64_t reservations = 0;  // granted (new and refreshed)
    std::uint64_t reservation_failures = 0;
    std::uint64_t circuits_dialed = 0;
    std::uint64_t circuits_accepted = 0;
    std::uint64_t circuit_failures = 0;
    std::uint64_t circuits_refused = 0;  // STOP from a peer that is not our relay, or over a limit
};

class RelayClient {
  public:
    RelayClient(Host& host, RelayClientConfig config = {});
    ~RelayClient();
    RelayClient(const RelayClient&) = delete;
    RelayClient& operator=(const RelayClient&) = delete;

    // Accepts relayed connections (STOP) and lets the Host dial /p2p-circuit addresses.
    void start();
    void stop();

    // One RESERVE on the relay at `relay` (ending in /p2p/<relay>), connecting to it if needed.
    net::awaitable<net::result<HeldReservation>> reserve(Multiaddr relay);
    // Holds a reservation on each of `relays` from now on: reserves, refreshes halfway to expiry,
    // re-reserves as soon as a connection to the relay opens again, retries failures with
    // backoff. The Host announces the circuit addresses of the reservations held.
    void keep_reservations(std::vector<Multiaddr> relays);
    std::vector<HeldReservation> reservations() const;

    net::awaitable<HostResult<std::shared_ptr<Connection>>> dial_circuit(Multiaddr addr);

    const RelayClientStats& stats() const { return stats_; }
    // Called whenever the reservations held change (one granted, refreshed, lost).
    void on_change(std::function<void()> observer) { observers_.push_back(std::move(observer)); }

  private:
    struct Kept;
    net::awaitable<void> keep(std::shared_ptr<Kept> kept);
    net::awaitable<void> accept_stop(std::shared_ptr<net::YamuxStream> stream,
                                     std::shared_ptr<Connection> connection);
    void publish_addrs();
    bool has_direct_connection(const PeerId& relay) const;

    Host& host_;
    RelayClientConfig config_;
    RelayClientStats stats_;
    std::map<PeerId, HeldReservation> held_;
    std::map<PeerId, std::size_t> circuits_through_;  // accepted and open, per relay
    std::size_t circuits_open_ = 0;
    std::vector<std::shared_ptr<Kept>> kept_;
    std::vector<std::function<void()>> observers_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    bool started_ = false;
};

}  // namespace keel::relay
