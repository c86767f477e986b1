#pragma once
// Relayed addresses: <relay address>/p2p/<relay>/p2p-circuit[/p2p/<target>] (Circuit Relay v2).
// Keel reaches such an address through the relay (relay/relay_client.hpp); these helpers only
// take it apart and put it together.
#include <optional>

#include "keel/crypto/peer_id.hpp"
#include "keel/multiaddr/multiaddr.hpp"

namespace keel {

inline constexpr std::uint32_t p2p_circuit_code = 290;

struct CircuitAddress {
    Multiaddr relay;  // the relay's address, ending in /p2p/<relay>
    PeerId relay_peer;
    std::optional<PeerId> target;  // after /p2p-circuit, when given
};

bool is_circuit(const Multiaddr& addr);
// nullopt unless `addr` is a relay address with /p2p/<relay> followed by /p2p-circuit and at
// most a /p2p/<target>.
std::optional<CircuitAddress> parse_circuit(const Multiaddr& addr);
// <relay>/p2p-circuit/p2p/<target>.
Multiaddr circuit_to(const Multiaddr& relay, const PeerId& target);
// How a peer's address is kept (the peer store) and shared (identify, the DHT): without the
// peer's own /p2p, but a circuit keeps its relay's: <relay addr>/p2p/<relay>/p2p-circuit.
Multiaddr without_own_peer_id(const Multiaddr& addr);

}  // namespace keel
