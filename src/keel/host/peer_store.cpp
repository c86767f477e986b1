#include "keel/host/peer_store.hpp"

#include <algorithm>

namespace keel {

PeerInfo& PeerStore::entry(const PeerId& peer) {
    auto [it, inserted] = peers_.try_emplace(peer);
    if (inserted) it->second.id = peer;
    it->second.last_seen = net::Clock::now();
    return it->second;
}

void PeerStore::add_address(const PeerId& peer, const Multiaddr& addr) {
    auto& info = entry(peer);
    auto plain = addr.without(proto_code::p2p);
    if (std::find(info.addrs.begin(), info.addrs.end(), plain) != info.addrs.end()) return;
    if (info.addrs.size() >= max_addrs_per_peer) info.addrs.erase(info.addrs.begin());
    info.addrs.push_back(std::move(plain));
}

void PeerStore::apply_identify(const PeerId& peer, const protocols::IdentifyInfo& id) {
    auto& info = entry(peer);
    if (id.public_key) info.public_key = id.public_key;
    if (!id.agent_version.empty()) info.agent_version = id.agent_version;
    if (!id.protocol_version.empty()) info.protocol_version = id.protocol_version;
    if (!id.protocols.empty()) info.protocols = id.protocols;
    if (id.observed_addr) info.observed_addr = id.observed_addr;
    for (const auto& addr : id.listen_addrs) add_address(peer, addr);
}

std::optional<PeerInfo> PeerStore::get(const PeerId& peer) const {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return std::nullopt;
    return it->second;
}

std::vector<PeerInfo> PeerStore::all() const {
    std::vector<PeerInfo> out;
    out.reserve(peers_.size());
    for (const auto& [id, info] : peers_) out.push_back(info);
    return out;
}

}  // namespace keel
