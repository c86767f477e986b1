// The peer store is bounded: past max_peers the least recently seen peers are forgotten, a tenth at
// a time, except pinned ones; a peer seen again is fresh.
#include <gtest/gtest.h>

#include <algorithm>

#include "keel/crypto/ed25519.hpp"
#include "keel/host/peer_store.hpp"

namespace keel {
namespace {

PeerId random_peer() {
    return PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
}

TEST(PeerStore, ForgetsTheLeastRecentlySeenPastItsBound) {
    PeerStore store(100);
    auto addr = *Multiaddr::parse("/ip4/127.0.0.1/tcp/4001");
    std::vector<PeerId> peers;
    for (int i = 0; i < 100; ++i) {
        peers.push_back(random_peer());
        store.add_address(peers.back(), addr);
    }
    EXPECT_EQ(store.size(), 100u);
    store.add_address(peers[0], addr);  // seen again: now the most recent
    PeerId pinned = peers[1];
    store.add_pin([&](const PeerId& p) { return p == pinned; });

    auto newcomer = random_peer();
    store.add_address(newcomer, addr);
    EXPECT_EQ(store.size(), 91u);  // ten forgotten, one added
    EXPECT_TRUE(store.get(newcomer));
    EXPECT_TRUE(store.get(peers[0])) << "a peer seen again is not among the oldest";
    EXPECT_TRUE(store.get(pinned)) << "a pinned peer is never forgotten";
    EXPECT_FALSE(store.get(peers[2])) << "the oldest unpinned peers go first";
    EXPECT_TRUE(store.get(peers[99]));
}

TEST(PeerStore, EverythingPinnedGrowsPastTheBoundRatherThanForget) {
    PeerStore store(10);
    store.add_pin([](const PeerId&) { return true; });
    auto addr = *Multiaddr::parse("/ip4/127.0.0.1/tcp/4001");
    for (int i = 0; i < 12; ++i) store.add_address(random_peer(), addr);
    EXPECT_EQ(store.size(), 12u);
}

// limits.forget_peers_after: a peer unseen since the cutoff is forgotten unless pinned; a touch
// (its last connection closing) restarts its time.
TEST(PeerStore, ForgetsPeersUnseenSinceACutoffExceptPinnedOnes) {
    PeerStore store;
    auto addr = *Multiaddr::parse("/ip4/127.0.0.1/tcp/4001");
    auto gone = random_peer(), pinned = random_peer(), recent = random_peer();
    for (const auto& p : {gone, pinned, recent}) store.add_address(p, addr);
    store.add_pin([&](const PeerId& p) { return p == pinned; });
    auto bytes_before = store.bytes();

    auto cutoff = net::Clock::now() + std::chrono::milliseconds(1);
    while (net::Clock::now() <= cutoff) {
    }
    store.touch(recent);
    store.touch(random_peer());  // unknown: stays unknown
    EXPECT_EQ(store.forget_unseen_since(cutoff), 1u);
    EXPECT_FALSE(store.get(gone));
    EXPECT_TRUE(store.get(pinned));
    EXPECT_TRUE(store.get(recent));
    EXPECT_EQ(store.size(), 2u);
    EXPECT_LT(store.bytes(), bytes_before);
}

// The API's pages: each one is the same slice of all() (peer ID order) whatever the page size,
// without all() being built for it.
TEST(PeerStore, PagesAreSlicesOfTheWholeInPeerIdOrder) {
    PeerStore store;
    auto addr = *Multiaddr::parse("/ip4/127.0.0.1/tcp/4001");
    for (int i = 0; i < 97; ++i) store.add_address(random_peer(), addr);
    const auto whole = store.all();
    ASSERT_EQ(whole.size(), 97u);
    EXPECT_TRUE(std::is_sorted(whole.begin(), whole.end(),
                               [](const auto& a, const auto& b) { return a.id < b.id; }));
    for (std::size_t size : {1u, 10u, 32u, 500u}) {
        std::vector<PeerId> paged;
        for (std::size_t offset = 0; offset < whole.size(); offset += size)
            for (const auto& info : store.page(offset, size)) paged.push_back(info.id);
        ASSERT_EQ(paged.size(), whole.size()) << "pages of " << size;
        for (std::size_t i = 0; i < whole.size(); ++i)
            EXPECT_EQ(paged[i], whole[i].id) << "pages of " << size << ", entry " << i;
    }
    EXPECT_TRUE(store.page(97, 10).empty());
    EXPECT_TRUE(store.page(static_cast<std::size_t>(-1), 500).empty());
    EXPECT_TRUE(store.page(0, 0).empty());
    EXPECT_EQ(store.page(95, 10).size(), 2u);
}

}  // namespace
}  // namespace keel
