#include "keel/host/peer_store.hpp"

#include <algorithm>

#include "keel/host/circuit_address.hpp"

namespace keel {

bool PeerStore::pinned(const PeerId& peer) const {
    return std::any_of(pins_.begin(), pins_.end(), [&](const Pin& pin) { return pin(peer); });
}

std::size_t PeerStore::cost(const PeerInfo& info) {
    // The map node, the PeerId and key, the strings and vectors: close to the heap they take.
    std::size_t n = 256 + info.agent_version.size() + info.protocol_version.size();
    for (const auto& a : info.addrs) n += sizeof(Multiaddr) + a.byte_size();
    for (const auto& p : info.protocols) n += sizeof(std::string) + p.size();
    if (info.observed_addr) n += info.observed_addr->byte_size();
    return n;
}

void PeerStore::account(const PeerInfo& info, std::size_t before) {
    bytes_ = bytes_ - std::min(bytes_, before) + cost(info);
}

void PeerStore::forget_oldest() {
    std::vector<std::pair<net::Clock::time_point, PeerId>> candidates;
    for (const auto& [id, info] : peers_)
        if (!pinned(id)) candidates.emplace_back(info.last_seen, id);
    auto count = std::min(candidates.size(), std::max<std::size_t>(1, peers_.size() / 10));
    std::nth_element(candidates.begin(), candidates.begin() + static_cast<long>(count),
                     candidates.end());
    for (std::size_t i = 0; i < count; ++i) {
        auto it = peers_.find(candidates[i].second);
        bytes_ -= std::min(bytes_, cost(it->second));
        peers_.erase(it);
    }
}

PeerInfo& PeerStore::entry(const PeerId& peer) {
    if ((peers_.size() >= max_peers_ || bytes_ >= max_bytes_) && !peers_.contains(peer))
        forget_oldest();
    auto [it, inserted] = peers_.try_emplace(peer);
    if (inserted) {
        it->second.id = peer;
        bytes_ += cost(it->second);
    }
    it->second.last_seen = net::Clock::now();
    return it->second;
}

void PeerStore::add_address_to(PeerInfo& info, const Multiaddr& addr) {
    // A /p2p-circuit address that does not parse as one (no relay ID) cannot be dialled.
    if (is_circuit(addr) && !parse_circuit(addr)) return;
    auto plain = without_own_peer_id(addr);
    if (plain.byte_size() > max_addr_bytes) return;
    if (std::find(info.addrs.begin(), info.addrs.end(), plain) != info.addrs.end()) return;
    if (info.addrs.size() >= max_addrs_per_peer) info.addrs.erase(info.addrs.begin());
    info.addrs.push_back(std::move(plain));
}

void PeerStore::add_address(const PeerId& peer, const Multiaddr& addr) {
    auto& info = entry(peer);
    auto before = cost(info);
    add_address_to(info, addr);
    account(info, before);
}

void PeerStore::apply_identify(const PeerId& peer, const protocols::IdentifyInfo& id) {
    auto& info = entry(peer);
    auto before = cost(info);
    auto cut = [](const std::string& text) { return text.substr(0, max_version_bytes); };
    if (id.public_key) info.public_key = id.public_key;
    if (!id.agent_version.empty()) info.agent_version = cut(id.agent_version);
    if (!id.protocol_version.empty()) info.protocol_version = cut(id.protocol_version);
    if (!id.protocols.empty()) {
        info.protocols.clear();
        for (const auto& p : id.protocols)
            if (p.size() <= max_protocol_bytes && info.protocols.size() < max_protocols_per_peer)
                info.protocols.push_back(p);
    }
    if (id.observed_addr && id.observed_addr->byte_size() <= max_addr_bytes)
        info.observed_addr = id.observed_addr;
    for (const auto& addr : id.listen_addrs) add_address_to(info, addr);
    account(info, before);
}

void PeerStore::touch(const PeerId& peer) {
    if (auto it = peers_.find(peer); it != peers_.end()) it->second.last_seen = net::Clock::now();
}

std::size_t PeerStore::forget_unseen_since(net::Clock::time_point cutoff) {
    std::size_t forgotten = 0;
    for (auto it = peers_.begin(); it != peers_.end();) {
        if (it->second.last_seen < cutoff && !pinned(it->first)) {
            bytes_ -= std::min(bytes_, cost(it->second));
            it = peers_.erase(it);
            ++forgotten;
        } else {
            ++it;
        }
    }
    return forgotten;
}

bool PeerStore::supports(const PeerId& peer, std::string_view protocol) const {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return false;
    const auto& protocols = it->second.protocols;
    return std::find(protocols.begin(), protocols.end(), protocol) != protocols.end();
}

std::optional<PeerInfo> PeerStore::get(const PeerId& peer) const {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return std::nullopt;
    return it->second;
}

std::vector<Multiaddr> PeerStore::addrs(const PeerId& peer) const {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return {};
    return it->second.addrs;
}

std::vector<PeerInfo> PeerStore::all() const {
    return page(0, peers_.size());
}

std::vector<PeerInfo> PeerStore::page(std::size_t offset, std::size_t count) const {
    if (offset >= peers_.size() || count == 0) return {};
    std::vector<const PeerInfo*> order;
    order.reserve(peers_.size());
    for (const auto& [id, info] : peers_) order.push_back(&info);
    auto by_id = [](const PeerInfo* a, const PeerInfo* b) { return a->id < b->id; };
    const auto first = order.begin() + static_cast<std::ptrdiff_t>(offset);
    const auto last = order.begin() +
                      static_cast<std::ptrdiff_t>(offset + std::min(count, order.size() - offset));
    std::nth_element(order.begin(), first, order.end(), by_id);
    std::partial_sort(first, last, order.end(), by_id);
    std::vector<PeerInfo> out;
    out.reserve(static_cast<std::size_t>(last - first));
    for (auto it = first; it != last; ++it) out.push_back(**it);
    return out;
}

}  // namespace keel
