#pragma once
// What we know about peers: keys, addresses, protocols and agent, from identify and from dials.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "keel/crypto/peer_id.hpp"
#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/asio.hpp"
#include "keel/protocols/identify.hpp"

namespace keel {

struct PeerInfo {
    PeerId id;
    std::optional<PublicKey> public_key;
    std::vector<Multiaddr> addrs;
    std::vector<std::string> protocols;
    std::string agent_version;
    std::string protocol_version;
    std::optional<Multiaddr> observed_addr;  // how the peer sees us
    net::Clock::time_point last_seen{};
};

// Bounded: past max_peers, the least recently seen peers are forgotten (a tenth at a time, so the
// cost stays logarithmic per peer), except those a pin keeps (connected peers, routing table
// members). A bootstrap meets millions of peers over its life; it must not keep them all.
class PeerStore {
  public:
    // Bounds memory for a peer that lists endless addresses.
    static constexpr std::size_t max_addrs_per_peer = 32;
    using Pin = std::function<bool(const PeerId&)>;

    explicit PeerStore(std::size_t max_peers = 50'000) : max_peers_(max_peers) {}
    // Peers for which `pin` is true are never forgotten.
    void add_pin(Pin pin) { pins_.push_back(std::move(pin)); }
    std::size_t max_peers() const { return max_peers_; }

    void add_address(const PeerId& peer, const Multiaddr& addr);
    void apply_identify(const PeerId& peer, const protocols::IdentifyInfo& info);
    std::optional<PeerInfo> get(const PeerId& peer) const;
    std::vector<PeerInfo> all() const;
    std::size_t size() const { return peers_.size(); }

  private:
    PeerInfo& entry(const PeerId& peer);
    void forget_oldest();
    bool pinned(const PeerId& peer) const;
    std::map<PeerId, PeerInfo> peers_;
    std::size_t max_peers_;
    std::vector<Pin> pins_;
};

}  // namespace keel
