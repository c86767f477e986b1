#pragma once
// What we know about peers: keys, addresses, protocols and agent, from identify and from dials.
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

class PeerStore {
  public:
    // Bounds memory for a peer that lists endless addresses.
    static constexpr std::size_t max_addrs_per_peer = 32;

    void add_address(const PeerId& peer, const Multiaddr& addr);
    void apply_identify(const PeerId& peer, const protocols::IdentifyInfo& info);
    std::optional<PeerInfo> get(const PeerId& peer) const;
    std::vector<PeerInfo> all() const;
    std::size_t size() const { return peers_.size(); }

  private:
    PeerInfo& entry(const PeerId& peer);
    std::map<PeerId, PeerInfo> peers_;
};

}  // namespace keel
