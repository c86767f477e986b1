#include "keel/host/circuit_address.hpp"

namespace keel {

bool is_circuit(const Multiaddr& addr) {
    return addr.find(p2p_circuit_code) != nullptr;
}

std::optional<CircuitAddress> parse_circuit(const Multiaddr& addr) {
    const auto& parts = addr.components();
    std::size_t at = 0;
    while (at < parts.size() && parts[at].code != p2p_circuit_code) ++at;
    if (at < 2 || at == parts.size() || parts[at - 1].code != proto_code::p2p) return std::nullopt;
    auto relay_peer = PeerId::from_bytes(parts[at - 1].value);
    if (!relay_peer) return std::nullopt;
    CircuitAddress out;
    out.relay_peer = *relay_peer;
    for (std::size_t i = 0; i < at; ++i)
        out.relay = out.relay.with_component(parts[i].code, parts[i].value);
    if (at + 1 < parts.size()) {
        if (at + 2 != parts.size() || parts[at + 1].code != proto_code::p2p) return std::nullopt;
        auto target = PeerId::from_bytes(parts[at + 1].value);
        if (!target) return std::nullopt;
        out.target = *target;
    }
    return out;
}

Multiaddr without_own_peer_id(const Multiaddr& addr) {
    if (auto circuit = parse_circuit(addr))
        return circuit->relay.with_component(p2p_circuit_code, {});
    return addr.without(proto_code::p2p);
}

Multiaddr circuit_to(const Multiaddr& relay, const PeerId& target) {
    return relay.with_component(p2p_circuit_code, {})
        .with_component(proto_code::p2p, target.bytes());
}

}  // namespace keel
