#include "keel/kad/network_profile.hpp"

namespace keel::kad {

std::optional<NetworkProfile> network_profile(std::string_view name) {
    if (name == "ipfs") return NetworkProfile{"ipfs", "/ipfs/kad/1.0.0", "ipfs/0.1.0"};
    // The Chiral Network's rust-libp2p nodes drop peers with another identify protocolVersion.
    if (name == "chiral") return NetworkProfile{"chiral", "/chiral/kad/1.0.0", "/chiral/1.0.0"};
    return std::nullopt;
}

}  // namespace keel::kad
