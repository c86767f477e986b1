#pragma once
// Helpers for the Kademlia unit tests: deterministic peers (one Ed25519 seed per index) and
// multiaddrs.
#include <array>
#include <cstdint>
#include <string>

#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/peer_id.hpp"
#include "keel/multiaddr/multiaddr.hpp"

namespace keel::kad::test {

inline Ed25519KeyPair key_pair(std::uint32_t n) {
    std::array<std::uint8_t, 32> seed{};
    for (int i = 0; i < 4; ++i)
        seed[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    seed[31] = 0x5a;
    return Ed25519KeyPair::from_seed(seed);
}

inline PeerId peer(std::uint32_t n) {
    return PeerId::from_public_key(key_pair(n).public_key());
}

inline Multiaddr addr(const std::string& text) {
    return Multiaddr::parse(text).value();
}

}  // namespace keel::kad::test
