#pragma once
// What we know about peers: keys, addresses, protocols and agent, from identify and from dials.
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
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

// Bounded: past max_peers or max_bytes, the least recently seen peers are forgotten (a tenth at a
// time, so the cost stays logarithmic per peer), except those a pin keeps (connected peers,
// routing table members); and the owner forgets those unseen for a while (forget_unseen_since). A
// bootstrap meets millions of peers over its life; it must not keep them all, nor keep what one of
// them chose to send (a 16 KiB agent string, 256 protocols).
class PeerStore {
  public:
    // Bounds memory for a peer that lists endless addresses or protocols: what is past these is
    // not kept (an address or protocol too long is dropped, an agent string is cut).
    static constexpr std::size_t max_addrs_per_peer = 32;
    static constexpr std::size_t max_addr_bytes = 256;
    static constexpr std::size_t max_protocols_per_peer = 128;
    static constexpr std::size_t max_protocol_bytes = 128;
    static constexpr std::size_t max_version_bytes = 256;  // agent and protocol version
    using Pin = std::function<bool(const PeerId&)>;

    explicit PeerStore(std::size_t max_peers = 50'000, std::size_t max_bytes = 64 * 1024 * 1024)
        : max_peers_(max_peers), max_bytes_(max_bytes) {}
    // Peers for which `pin` is true are never forgotten.
    void add_pin(Pin pin) { pins_.push_back(std::move(pin)); }
    std::size_t max_peers() const { return max_peers_; }

    void add_address(const PeerId& peer, const Multiaddr& addr);
    void apply_identify(const PeerId& peer, const protocols::IdentifyInfo& info);
    // Marks a known peer as seen now (its last connection closed); an unknown one stays unknown.
    void touch(const PeerId& peer);
    // Forgets every unpinned peer last seen before `cutoff`; returns how many.
    std::size_t forget_unseen_since(net::Clock::time_point cutoff);
    std::optional<PeerInfo> get(const PeerId& peer) const;
    // Only the addresses (empty for an unknown peer): what a DHT answer or a dial needs, without
    // copying the rest of the record (up to 128 protocol strings) per peer named.
    std::vector<Multiaddr> addrs(const PeerId& peer) const;
    bool contains(const PeerId& peer) const { return peers_.contains(peer); }
    // Whether the peer's identify listed `protocol`.
    bool supports(const PeerId& peer, std::string_view protocol) const;
    // In peer ID order, so that pages of it (the HTTP API's) are stable.
    std::vector<PeerInfo> all() const;
    // all()'s entries from `offset`, at most `count` of them, without copying or sorting the
    // others: the HTTP API's page, which a web page in the user's browser may ask for in a loop.
    std::vector<PeerInfo> page(std::size_t offset, std::size_t count) const;
    std::size_t size() const { return peers_.size(); }
    // What the entries are accounted for (cost()): bounded by max_bytes.
    std::size_t bytes() const { return bytes_; }
    static std::size_t cost(const PeerInfo& info);

  private:
    PeerInfo& entry(const PeerId& peer);
    // Re-accounts `info` after a change (its cost before the change was `before`).
    void account(const PeerInfo& info, std::size_t before);
    void forget_oldest();
    bool pinned(const PeerId& peer) const;
    void add_address_to(PeerInfo& info, const Multiaddr& addr);
    // Hashed (std::hash<PeerId> is keyed): a bootstrap looks a peer up several times per
    // connection among tens of thousands, and a tree's dozen compares each miss the cache.
    std::unordered_map<PeerId, PeerInfo> peers_;
    std::size_t max_peers_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::vector<Pin> pins_;
};

}  // namespace keel
