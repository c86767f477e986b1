#include "keel/kad/network_profile.hpp"

namespace keel::kad {

std::optional<NetworkProfile> network_profile(std::string_view name) {
    if (name == "ipfs") return NetworkProfile{"ipfs", "/ipfs/kad/1.0.0", "ipfs/0.1.0", ""};
    // Chiral's rust-libp2p clients compare identify's protocolVersion with their own and parse
    // the agentVersion (strip "chiral/" and a "v", then read [0-9.]+): a "keel/…" agent is dropped.
    if (name == "chiral")
        return NetworkProfile{"chiral", "/chiral/kad/1.0.0", "/chiral/id/1.0.0",
                              "chiral/2.0.0-keel"};
    if (name == "chiral-v1")
        return NetworkProfile{"chiral-v1", "/chiral/kad/1.0.0", "/chiral/1.0.0", ""};
    return std::nullopt;
}

void apply_identity(const NetworkProfile& profile, HostConfig& config) {
    config.protocol_version = profile.identify_protocol_version;
    if (!profile.agent_version.empty()) config.agent_version = profile.agent_version;
}

}  // namespace keel::kad
