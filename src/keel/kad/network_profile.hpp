#pragma once
// Which DHT we join. Two DHTs must never merge: a peer enters our routing table only if its
// identify lists our Kademlia protocol ID.
#include <optional>
#include <string>

#include "keel/host/host.hpp"

namespace keel::kad {

struct NetworkProfile {
    std::string name;
    std::string kad_protocol;
    std::string identify_protocol_version;
    // What identify's agentVersion must look like for this network's peers to keep us; empty:
    // Keel's own ("keel/VERSION").
    std::string agent_version;
};

// "ipfs": /ipfs/kad/1.0.0, identify ipfs/0.1.0.
// "chiral": the Chiral Network today (rust-libp2p 0.53): /chiral/kad/1.0.0, identify
//   /chiral/id/1.0.0, agent chiral/2.0.0-keel (Chiral clients drop a peer whose agent does not
//   read as chiral/<version>).
// "chiral-v1": Chiral's earlier releases: /chiral/kad/1.0.0, identify /chiral/1.0.0.
std::optional<NetworkProfile> network_profile(std::string_view name);
inline constexpr std::string_view profile_names = "ipfs | chiral | chiral-v1";

// Identify's protocolVersion and agentVersion as the profile wants them.
void apply_identity(const NetworkProfile& profile, HostConfig& config);

}  // namespace keel::kad
