#pragma once
// Which DHT we join. Two DHTs must never merge: a peer enters our routing table only if its
// identify lists our Kademlia protocol ID.
#include <optional>
#include <string>

namespace keel::kad {

struct NetworkProfile {
    std::string name;
    std::string kad_protocol;
    std::string identify_protocol_version;
};

// "ipfs" (/ipfs/kad/1.0.0, ipfs/0.1.0) and "chiral" (/chiral/kad/1.0.0, /chiral/1.0.0).
std::optional<NetworkProfile> network_profile(std::string_view name);

}  // namespace keel::kad
