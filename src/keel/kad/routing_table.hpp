#pragma once
// The Kademlia routing table: one bucket of at most k peers per common-prefix length with our key,
// each with a replacement cache. A full bucket does not drop its oldest peer on a newcomer's word:
// the owner pings the least recently seen peer and evicts it only if it fails to answer.
// IP diversity limits keep one operator (one /24 or /48) from filling the table.
#include <array>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "keel/kad/kad_key.hpp"
#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/asio.hpp"

namespace keel::kad {

struct RoutingTableConfig {
    std::size_t k = 20;
    std::size_t replacement_cache = 20;        // per bucket
    std::size_t max_per_group_per_bucket = 2;  // peers from one IPv4 /24 or IPv6 /48
    std::size_t max_per_group_per_table = 10;
    bool exempt_loopback = true;  // local test networks share 127.0.0.0/8
};

struct RoutingEntry {
    PeerId id;
    KadKey key{};
    std::optional<std::string> group;  // diversity group of the address it was added with
    net::Clock::time_point added{};
    net::Clock::time_point last_seen{};
};

enum class AddResult { added, updated, bucket_full, rejected_diversity, rejected_self };

struct AddOutcome {
    AddResult result;
    // With bucket_full: the least recently seen peer of that bucket; the owner pings it and calls
    // evict() if it does not answer (the newcomer waits in the replacement cache).
    std::optional<PeerId> ping_candidate;
};

class RoutingTable {
  public:
    RoutingTable(PeerId self, RoutingTableConfig config = {});

    AddOutcome add(const PeerId& peer, const std::optional<Multiaddr>& addr,
                   net::Clock::time_point now = net::Clock::now());
    // The peer answered something: it is fresh.
    void mark_seen(const PeerId& peer, net::Clock::time_point now = net::Clock::now());
    // Removes the peer and promotes the freshest replacement of its bucket, if any.
    bool evict(const PeerId& peer);
    bool contains(const PeerId& peer) const;
    std::vector<PeerId> closest(const KadKey& target, std::size_t count) const;
    std::vector<RoutingEntry> entries() const;
    std::size_t size() const;
    std::size_t bucket_size(int cpl) const;
    // Common-prefix lengths of buckets not refreshed (no lookup into them) since `since`.
    std::vector<int> stale_buckets(net::Clock::time_point since) const;
    void mark_refreshed(int cpl, net::Clock::time_point now = net::Clock::now());
    const PeerId& self() const { return self_; }
    const KadKey& self_key() const { return self_key_; }
    const RoutingTableConfig& config() const { return config_; }

    // "a.b.c" for IPv4 /24, the first 48 bits for IPv6; nullopt when exempt or not an IP address.
    std::optional<std::string> diversity_group(const Multiaddr& addr) const;

  private:
    struct Bucket {
        std::deque<RoutingEntry> peers;         // front: least recently seen
        std::deque<RoutingEntry> replacements;  // back: newest
        net::Clock::time_point refreshed{};
    };

    int bucket_index(const KadKey& key) const;
    std::size_t group_count(const std::string& group, const Bucket* within) const;

    PeerId self_;
    KadKey self_key_;
    RoutingTableConfig config_;
    std::array<Bucket, 256> buckets_;
};

}  // namespace keel::kad
