// The routing table: k peers per bucket, the ping-the-oldest rule with a replacement cache,
// freshness order, IP diversity limits, and closest() against a brute-force sort.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <vector>

#include "kad_test_util.hpp"
#include "keel/kad/routing_table.hpp"

namespace keel::kad {
namespace {

using namespace std::chrono_literals;
using test::addr;
using test::peer;

const PeerId& self_peer() {
    static const PeerId self = peer(0);
    return self;
}

// `count` distinct peers whose bucket (common-prefix length with self) is `cpl`, scanning the
// deterministic peers from `start` on.
std::vector<PeerId> peers_in_bucket(int cpl, std::size_t count, std::uint32_t start = 1) {
    std::vector<PeerId> out;
    auto self_key = kad_key(self_peer());
    for (std::uint32_t i = start; out.size() < count; ++i) {
        auto p = peer(i);
        if (common_prefix_length(self_key, kad_key(p)) == cpl) out.push_back(p);
    }
    return out;
}

const std::optional<Multiaddr> no_addr;

TEST(RoutingTable, RejectsSelf) {
    RoutingTable table(self_peer());
    EXPECT_EQ(table.add(self_peer(), addr("/ip4/10.0.0.1/tcp/1")).result, AddResult::rejected_self);
    EXPECT_EQ(table.size(), 0u);
    EXPECT_FALSE(table.contains(self_peer()));
}

TEST(RoutingTable, AddUpdateContains) {
    RoutingTable table(self_peer());
    auto p = peer(7);
    EXPECT_EQ(table.add(p, no_addr).result, AddResult::added);
    EXPECT_EQ(table.add(p, no_addr).result, AddResult::updated);
    EXPECT_TRUE(table.contains(p));
    EXPECT_EQ(table.size(), 1u);
    EXPECT_EQ(table.bucket_size(common_prefix_length(table.self_key(), kad_key(p))), 1u);
}

TEST(RoutingTable, AtMostKPeersPerBucket) {
    RoutingTableConfig config;
    config.k = 4;
    RoutingTable table(self_peer(), config);
    auto peers = peers_in_bucket(0, 10);
    for (std::size_t i = 0; i < peers.size(); ++i) {
        auto outcome = table.add(peers[i], no_addr);
        EXPECT_EQ(outcome.result, i < 4 ? AddResult::added : AddResult::bucket_full) << i;
    }
    EXPECT_EQ(table.bucket_size(0), 4u);
    EXPECT_EQ(table.size(), 4u);
    for (std::size_t i = 0; i < peers.size(); ++i) EXPECT_EQ(table.contains(peers[i]), i < 4);
    // Another bucket is unaffected.
    auto other = peers_in_bucket(1, 1);
    EXPECT_EQ(table.add(other[0], no_addr).result, AddResult::added);
    EXPECT_EQ(table.size(), 5u);
}

TEST(RoutingTable, FullBucketNamesLeastRecentlySeenAndCachesNewcomer) {
    RoutingTableConfig config;
    config.k = 3;
    RoutingTable table(self_peer(), config);
    auto peers = peers_in_bucket(0, 5);
    auto t0 = net::Clock::now();
    for (std::size_t i = 0; i < 3; ++i)
        ASSERT_EQ(table.add(peers[i], no_addr, t0 + std::chrono::seconds(i)).result,
                  AddResult::added);

    auto outcome = table.add(peers[3], no_addr, t0 + 10s);
    EXPECT_EQ(outcome.result, AddResult::bucket_full);
    ASSERT_TRUE(outcome.ping_candidate.has_value());
    EXPECT_EQ(*outcome.ping_candidate, peers[0]);  // the oldest
    EXPECT_FALSE(table.contains(peers[3]));        // waits in the replacement cache

    // The candidate failed to answer: evicting it promotes the newcomer.
    EXPECT_TRUE(table.evict(peers[0]));
    EXPECT_FALSE(table.contains(peers[0]));
    EXPECT_TRUE(table.contains(peers[3]));
    EXPECT_EQ(table.bucket_size(0), 3u);

    // Evicting with an empty replacement cache just shrinks the bucket; evicting a stranger is
    // a no-op.
    EXPECT_TRUE(table.evict(peers[1]));
    EXPECT_EQ(table.bucket_size(0), 2u);
    EXPECT_FALSE(table.evict(peers[4]));
    EXPECT_FALSE(table.evict(peers[1]));
}

TEST(RoutingTable, EvictPromotesTheFreshestReplacement) {
    RoutingTableConfig config;
    config.k = 2;
    RoutingTable table(self_peer(), config);
    auto peers = peers_in_bucket(0, 5);
    ASSERT_EQ(table.add(peers[0], no_addr).result, AddResult::added);
    ASSERT_EQ(table.add(peers[1], no_addr).result, AddResult::added);
    EXPECT_EQ(table.add(peers[2], no_addr).result, AddResult::bucket_full);
    EXPECT_EQ(table.add(peers[3], no_addr).result, AddResult::bucket_full);
    EXPECT_TRUE(table.evict(peers[0]));
    EXPECT_TRUE(table.contains(peers[3]));
    EXPECT_FALSE(table.contains(peers[2]));
    EXPECT_TRUE(table.evict(peers[1]));
    EXPECT_TRUE(table.contains(peers[2]));
}

TEST(RoutingTable, ReplacementCacheIsBounded) {
    RoutingTableConfig config;
    config.k = 1;
    config.replacement_cache = 2;
    RoutingTable table(self_peer(), config);
    auto peers = peers_in_bucket(0, 5);
    ASSERT_EQ(table.add(peers[0], no_addr).result, AddResult::added);
    for (std::size_t i = 1; i < 5; ++i)
        EXPECT_EQ(table.add(peers[i], no_addr).result, AddResult::bucket_full);
    // Cache holds peers[3], peers[4] (the newest two); peers[1], peers[2] fell out.
    EXPECT_TRUE(table.evict(peers[0]));
    EXPECT_TRUE(table.contains(peers[4]));
    EXPECT_TRUE(table.evict(peers[4]));
    EXPECT_TRUE(table.contains(peers[3]));
    EXPECT_TRUE(table.evict(peers[3]));
    EXPECT_EQ(table.size(), 0u);
}

TEST(RoutingTable, MarkSeenMovesPeerToMostRecent) {
    RoutingTableConfig config;
    config.k = 3;
    RoutingTable table(self_peer(), config);
    auto peers = peers_in_bucket(0, 5);
    auto t0 = net::Clock::now();
    for (std::size_t i = 0; i < 3; ++i) table.add(peers[i], no_addr, t0 + std::chrono::seconds(i));
    table.mark_seen(peers[0], t0 + 10s);
    auto outcome = table.add(peers[3], no_addr, t0 + 11s);
    ASSERT_EQ(outcome.result, AddResult::bucket_full);
    EXPECT_EQ(*outcome.ping_candidate, peers[1]);
    table.mark_seen(peers[1], t0 + 12s);
    outcome = table.add(peers[4], no_addr, t0 + 13s);
    EXPECT_EQ(*outcome.ping_candidate, peers[2]);
    // Re-adding a member is also a sighting.
    table.add(peers[2], no_addr, t0 + 14s);
    outcome = table.add(peers[3], no_addr, t0 + 15s);
    EXPECT_EQ(*outcome.ping_candidate, peers[0]);
    // last_seen is recorded.
    for (const auto& e : table.entries())
        if (e.id == peers[2]) {
            EXPECT_EQ(e.last_seen, t0 + 14s);
        }
    // mark_seen of a stranger changes nothing.
    table.mark_seen(peers[4], t0 + 16s);
    EXPECT_FALSE(table.contains(peers[4]));
    EXPECT_EQ(table.size(), 3u);
}

TEST(RoutingTable, DiversityGroups) {
    RoutingTable table(self_peer());
    EXPECT_EQ(table.diversity_group(addr("/ip4/10.1.2.3/tcp/1")), "4:10.1.2");
    EXPECT_EQ(table.diversity_group(addr("/ip4/10.1.2.200/tcp/1")), "4:10.1.2");
    EXPECT_NE(table.diversity_group(addr("/ip4/10.1.3.3/tcp/1")),
              table.diversity_group(addr("/ip4/10.1.2.3/tcp/1")));
    EXPECT_EQ(table.diversity_group(addr("/ip6/2001:db8:1:2::1/tcp/1")),
              table.diversity_group(addr("/ip6/2001:db8:1:ffff::9/tcp/1")));
    EXPECT_NE(table.diversity_group(addr("/ip6/2001:db8:1::1/tcp/1")),
              table.diversity_group(addr("/ip6/2001:db8:2::1/tcp/1")));
    EXPECT_EQ(table.diversity_group(addr("/ip4/127.0.0.1/tcp/1")), std::nullopt);
    EXPECT_EQ(table.diversity_group(addr("/ip4/127.9.9.9/tcp/1")), std::nullopt);
    EXPECT_EQ(table.diversity_group(addr("/ip6/::1/tcp/1")), std::nullopt);
    EXPECT_EQ(table.diversity_group(addr("/dns4/example.com/tcp/1")), std::nullopt);

    RoutingTableConfig strict;
    strict.exempt_loopback = false;
    RoutingTable strict_table(self_peer(), strict);
    EXPECT_EQ(strict_table.diversity_group(addr("/ip4/127.0.0.1/tcp/1")), "4:127.0.0");
    EXPECT_TRUE(strict_table.diversity_group(addr("/ip6/::1/tcp/1")).has_value());
}

TEST(RoutingTable, AtMostTwoPerSlash24PerBucket) {
    RoutingTable table(self_peer());
    auto peers = peers_in_bucket(0, 5);
    EXPECT_EQ(table.add(peers[0], addr("/ip4/10.0.0.1/tcp/4001")).result, AddResult::added);
    EXPECT_EQ(table.add(peers[1], addr("/ip4/10.0.0.2/tcp/4001")).result, AddResult::added);
    EXPECT_EQ(table.add(peers[2], addr("/ip4/10.0.0.3/tcp/4001")).result,
              AddResult::rejected_diversity);
    EXPECT_FALSE(table.contains(peers[2]));
    // Another /24 is fine, and so is a peer without an address.
    EXPECT_EQ(table.add(peers[3], addr("/ip4/10.0.1.3/tcp/4001")).result, AddResult::added);
    EXPECT_EQ(table.add(peers[4], no_addr).result, AddResult::added);
    // The same /24 in another bucket is fine (below the table limit).
    auto other = peers_in_bucket(1, 1);
    EXPECT_EQ(table.add(other[0], addr("/ip4/10.0.0.9/tcp/4001")).result, AddResult::added);
    // Evicting frees the slot.
    EXPECT_TRUE(table.evict(peers[0]));
    EXPECT_EQ(table.add(peers[2], addr("/ip4/10.0.0.3/tcp/4001")).result, AddResult::added);
}

TEST(RoutingTable, AtMostTenPerSlash24PerTable) {
    RoutingTable table(self_peer());
    // Two per bucket in six buckets: the 11th and 12th are refused.
    std::vector<PeerId> peers;
    for (int cpl = 0; cpl < 6; ++cpl)
        for (const auto& p : peers_in_bucket(cpl, 2)) peers.push_back(p);
    for (std::size_t i = 0; i < peers.size(); ++i) {
        auto a = addr("/ip4/192.168.7." + std::to_string(i + 1) + "/tcp/4001");
        EXPECT_EQ(table.add(peers[i], a).result,
                  i < 10 ? AddResult::added : AddResult::rejected_diversity)
            << i;
    }
    EXPECT_EQ(table.size(), 10u);
}

TEST(RoutingTable, DiversityLimitsAreConfigurable) {
    RoutingTableConfig config;
    config.max_per_group_per_bucket = 4;
    config.max_per_group_per_table = 5;
    RoutingTable table(self_peer(), config);
    auto bucket0 = peers_in_bucket(0, 5);
    for (std::size_t i = 0; i < 5; ++i)
        EXPECT_EQ(
            table.add(bucket0[i], addr("/ip4/10.0.0." + std::to_string(i + 1) + "/tcp/1")).result,
            i < 4 ? AddResult::added : AddResult::rejected_diversity)
            << i;
    auto bucket1 = peers_in_bucket(1, 2);
    EXPECT_EQ(table.add(bucket1[0], addr("/ip4/10.0.0.50/tcp/1")).result, AddResult::added);
    EXPECT_EQ(table.add(bucket1[1], addr("/ip4/10.0.0.51/tcp/1")).result,
              AddResult::rejected_diversity);
}

TEST(RoutingTable, LoopbackIsExemptUnlessConfigured) {
    auto peers = peers_in_bucket(0, 6);
    RoutingTable lenient(self_peer());
    for (const auto& p : peers)
        EXPECT_EQ(lenient.add(p, addr("/ip4/127.0.0.1/tcp/4001")).result, AddResult::added);

    RoutingTableConfig config;
    config.exempt_loopback = false;
    RoutingTable strict(self_peer(), config);
    for (std::size_t i = 0; i < peers.size(); ++i)
        EXPECT_EQ(strict.add(peers[i], addr("/ip4/127.0.0.1/tcp/4001")).result,
                  i < 2 ? AddResult::added : AddResult::rejected_diversity)
            << i;
}

TEST(RoutingTable, ClosestMatchesBruteForce) {
    RoutingTable table(self_peer());  // k = 20: the shallow buckets fill up and refuse some
    for (std::uint32_t i = 1; i <= 400; ++i) table.add(peer(i), no_addr);
    auto entries = table.entries();
    ASSERT_EQ(entries.size(), table.size());
    ASSERT_LT(table.size(), 400u);  // some buckets were full
    EXPECT_LE(table.bucket_size(0), 20u);

    for (std::uint32_t t = 0; t < 30; ++t) {
        auto target = kad_key(as_bytes("target-" + std::to_string(t)));
        std::vector<PeerId> brute;
        for (const auto& e : entries) brute.push_back(e.id);
        std::sort(brute.begin(), brute.end(), [&](const PeerId& a, const PeerId& b) {
            return closer(target, kad_key(a), kad_key(b));
        });
        for (std::size_t count :
             {std::size_t{1}, std::size_t{3}, std::size_t{20}, std::size_t{1000}}) {
            auto got = table.closest(target, count);
            std::vector<PeerId> want(
                brute.begin(),
                brute.begin() + static_cast<std::ptrdiff_t>(std::min(count, brute.size())));
            EXPECT_EQ(got, want) << "target " << t << " count " << count;
        }
    }
    // A member's own key comes back first.
    auto member = entries[entries.size() / 2].id;
    EXPECT_EQ(table.closest(kad_key(member), 1).front(), member);
    // Empty table.
    RoutingTable empty(self_peer());
    EXPECT_TRUE(empty.closest(kad_key(as_bytes("x")), 5).empty());
}

TEST(RoutingTable, StaleBucketsAndRefresh) {
    RoutingTable table(self_peer());
    for (int cpl = 0; cpl < 3; ++cpl) table.add(peers_in_bucket(cpl, 1)[0], no_addr);
    auto t0 = net::Clock::now();
    auto stale = table.stale_buckets(t0);
    EXPECT_EQ(stale, (std::vector<int>{0, 1, 2}));
    table.mark_refreshed(1, t0 + 1s);
    stale = table.stale_buckets(t0 + 1s);
    EXPECT_EQ(stale, (std::vector<int>{0, 2}));
}

}  // namespace
}  // namespace keel::kad
