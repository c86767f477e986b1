#pragma once
// How a peer's addresses are stored: one blob, each multiaddr's binary form prefixed with its
// uvarint length.
#include <optional>
#include <vector>

#include "keel/base/bytes.hpp"
#include "keel/multiaddr/multiaddr.hpp"

namespace keel::store {

Bytes encode_addrs(const std::vector<Multiaddr>& addrs);
// nullopt if the blob is damaged anywhere: the caller drops the whole row rather than keep a
// peer with half its addresses.
std::optional<std::vector<Multiaddr>> decode_addrs(BytesView in);

}  // namespace keel::store
