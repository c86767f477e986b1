#pragma once
// X25519 key pairs and Diffie-Hellman, the "25519" of the protocol name.
#include <array>
#include <cstdint>
#include <span>

#include <boost/system/result.hpp>

namespace keel::noise {

using Key = std::array<std::uint8_t, 32>;

struct KeyPair {
    Key private_key;
    Key public_key;

    static KeyPair generate();
    static KeyPair from_private(std::span<const std::uint8_t, 32> private_key);
};

// DH(local, remote). Fails with invalid_public_key when the result is all zeros, which only a
// low-order remote point produces; Noise requires rejecting it or a peer could force a known key.
boost::system::result<Key> dh(const KeyPair& local, std::span<const std::uint8_t, 32> remote);

}  // namespace keel::noise
