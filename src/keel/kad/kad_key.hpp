#pragma once
// Positions in the Kademlia keyspace: SHA-256 of a key's bytes (a peer ID's multihash bytes for
// peers), compared by XOR distance.
#include <array>
#include <compare>
#include <cstdint>

#include "keel/base/bytes.hpp"
#include "keel/crypto/peer_id.hpp"

namespace keel::kad {

using KadKey = std::array<std::uint8_t, 32>;

KadKey kad_key(BytesView key);
inline KadKey kad_key(const PeerId& peer) {
    return kad_key(peer.bytes());
}
KadKey distance(const KadKey& a, const KadKey& b);
// Number of leading bits a and b share (256 when equal): the bucket index.
int common_prefix_length(const KadKey& a, const KadKey& b);
// True when a is closer to target than b.
bool closer(const KadKey& target, const KadKey& a, const KadKey& b);

}  // namespace keel::kad
