#include "keel/host/peer_store.hpp"

#include <algorithm>

namespace keel {

bool PeerStore::pinned(const PeerId& peer) const {
    return std::any_of(pins_.begin(), pins_.end(), [&](const Pin& pin) { return pin(peer); });
}

void PeerStore::forget_oldest() {
    std::vector<std::pair<net::Clock::time_point, PeerId>> candidates;
    for (const auto& [id, info] : peers_)
        if (!pinned(id)) candidates.emplace_back(info.last_seen, id);
    auto count = std::min(candidates.size(), std::max<std::size_t>(1, max_peers_ / 10));
    std::nth_element(candidates.begin(), candidates.begin() + static_cast<long>(count),
                     candidates.end());
    for (std::size_t i = 0; i < count; ++i) peers_.erase(candidates[i].second);
}

PeerInfo& PeerStore::entry(const PeerId& peer) {
    if (peers_.size() >= max_peers_ && !peers_.contains(peer)) forget_oldest();
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
