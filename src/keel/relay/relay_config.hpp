#pragma once
// What a Circuit Relay v2 server grants and how much of it (the `[relay]` section,
// docs/configuration.md). Every limit is enforced: going over one refuses or cuts, and is counted.
#include <cstddef>
#include <cstdint>

#include "keel/net/asio.hpp"

namespace keel::relay {

struct RelayConfig {
    // Reservations: a slot that lets a peer be reached through us (listen on .../p2p-circuit).
    std::size_t max_reservations = 128;       // held at once
    std::size_t max_reservations_per_ip = 8;  // ... by peers connected from one address
    net::Duration reservation_ttl{3'600'000};
    double reservation_rate_per_peer = 0.1;  // RESERVE per second, one peer (burst 4)
    double reservation_rate_per_ip = 1;      // ... one address (burst 16)
    // Circuits: one relayed connection between two peers, through us.
    std::size_t max_circuits = 64;             // open at once
    std::size_t max_circuits_per_peer = 4;     // ... with one peer at either end
    std::uint64_t circuit_bytes = 128 * 1024;  // each direction; then the circuit is cut
    net::Duration circuit_duration{120'000};   // then the circuit is cut
    // Loopback peers are exempt from the per-address limit and rate (as [limits] exempt_loopback).
    bool exempt_loopback = true;
    net::Duration message_timeout{10'000};  // reading a HOP/STOP message, opening the STOP stream
};

// Circuit Relay v2 protocol IDs.
inline constexpr std::string_view hop_protocol_id = "/libp2p/circuit/relay/0.2.0/hop";
inline constexpr std::string_view stop_protocol_id = "/libp2p/circuit/relay/0.2.0/stop";
// HOP and STOP messages are small (a peer ID, a few addresses, a voucher): 4 KiB as go-libp2p.
inline constexpr std::size_t max_relay_message = 4096;

}  // namespace keel::relay
