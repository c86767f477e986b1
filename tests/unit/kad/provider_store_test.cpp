// Provider records: per-key and total limits, expiry, most recent first.
#include <gtest/gtest.h>

#include "kad_test_util.hpp"
#include "keel/kad/provider_store.hpp"

namespace keel::kad {
namespace {

using test::addr;
using test::peer;

constexpr std::int64_t now = 1'000'000;

ProviderEntry entry(std::uint32_t n, std::int64_t expires = now + 1000) {
    return ProviderEntry{
        peer(n), {addr("/ip4/10.0.0." + std::to_string(n % 250 + 1) + "/tcp/1")}, expires};
}

std::vector<PeerId> ids(const std::vector<ProviderEntry>& entries) {
    std::vector<PeerId> out;
    for (const auto& e : entries) out.push_back(e.provider);
    return out;
}

TEST(ProviderStore, MostRecentFirstUpToLimit) {
    ProviderStore store;
    const Bytes key = to_bytes("key");
    for (std::uint32_t i = 1; i <= 5; ++i) EXPECT_TRUE(store.add(key, entry(i)));
    EXPECT_EQ(ids(store.get(key, now)),
              (std::vector<PeerId>{peer(5), peer(4), peer(3), peer(2), peer(1)}));
    EXPECT_EQ(ids(store.get(key, now, 2)), (std::vector<PeerId>{peer(5), peer(4)}));
    // Re-announcing moves a provider to the front and does not duplicate it.
    EXPECT_TRUE(store.add(key, entry(2)));
    EXPECT_EQ(ids(store.get(key, now, 3)), (std::vector<PeerId>{peer(2), peer(5), peer(4)}));
    EXPECT_EQ(store.record_count(), 5u);
    EXPECT_EQ(store.key_count(), 1u);
    EXPECT_TRUE(store.get(to_bytes("other"), now).empty());
    auto got = store.get(key, now, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].addrs, entry(2).addrs);
}

TEST(ProviderStore, PerKeyLimit) {
    ProviderStore store(ProviderStoreLimits{3, 100});
    const Bytes key = to_bytes("key");
    for (std::uint32_t i = 1; i <= 3; ++i) EXPECT_TRUE(store.add(key, entry(i)));
    EXPECT_FALSE(store.add(key, entry(4)));  // full, and a newcomer
    EXPECT_TRUE(store.add(key, entry(1)));   // full, but already a provider: refreshed
    EXPECT_EQ(store.record_count(), 3u);
    EXPECT_EQ(ids(store.get(key, now)), (std::vector<PeerId>{peer(1), peer(3), peer(2)}));
    EXPECT_TRUE(store.add(to_bytes("another key"), entry(4)));  // other keys unaffected
}

TEST(ProviderStore, KeyLimit) {
    ProviderStore store(ProviderStoreLimits{10, 2});
    EXPECT_TRUE(store.add(to_bytes("a"), entry(1)));
    EXPECT_TRUE(store.add(to_bytes("b"), entry(1)));
    EXPECT_FALSE(store.add(to_bytes("c"), entry(1)));  // a third key
    EXPECT_TRUE(store.add(to_bytes("a"), entry(2)));   // an existing key still grows
    EXPECT_EQ(store.key_count(), 2u);
    EXPECT_EQ(store.record_count(), 3u);
    EXPECT_TRUE(store.get(to_bytes("c"), now).empty());
}

TEST(ProviderStore, ExpiredEntriesAreHiddenAndRemoved) {
    ProviderStore store;
    const Bytes a = to_bytes("a");
    const Bytes b = to_bytes("b");
    store.add(a, entry(1, now + 10));
    store.add(a, entry(2, now - 1));
    store.add(a, entry(3, now));  // expires_ms <= now: expired
    store.add(b, entry(4, now - 5));
    EXPECT_EQ(ids(store.get(a, now)), (std::vector<PeerId>{peer(1)}));
    EXPECT_TRUE(store.get(b, now).empty());
    EXPECT_EQ(ids(store.get(a, now - 100)), (std::vector<PeerId>{peer(3), peer(2), peer(1)}));

    EXPECT_EQ(store.remove_expired(now), 3u);
    EXPECT_EQ(store.key_count(), 1u);  // "b" had nothing left
    EXPECT_EQ(store.record_count(), 1u);
    EXPECT_EQ(ids(store.get(a, now - 100)), (std::vector<PeerId>{peer(1)}));
    EXPECT_EQ(store.remove_expired(now + 10), 1u);
    EXPECT_EQ(store.key_count(), 0u);
    EXPECT_EQ(store.record_count(), 0u);
}

TEST(ProviderStore, ExpiredEntriesStillCountAgainstTheLimitUntilRemoved) {
    ProviderStore store(ProviderStoreLimits{2, 10});
    const Bytes key = to_bytes("key");
    store.add(key, entry(1, now - 1));
    store.add(key, entry(2, now - 1));
    EXPECT_FALSE(store.add(key, entry(3)));
    store.remove_expired(now);
    EXPECT_TRUE(store.add(key, entry(3)));
}

TEST(ProviderStore, ByteBudgetRefusesNewRecordsAndKeepsHeldOnes) {
    const Bytes key = to_bytes("key");
    const std::size_t one = ProviderStore::entry_cost(key, entry(1));
    ProviderStore store(ProviderStoreLimits{64, 100, 3 * one + one / 2, 100});
    for (std::uint32_t i = 1; i <= 3; ++i) EXPECT_TRUE(store.add(key, entry(i)));
    EXPECT_FALSE(store.add(key, entry(4)));
    EXPECT_EQ(store.last_refusal(), ProviderRefusal::bytes);
    EXPECT_TRUE(store.add(key, entry(2)));  // a refresh costs nothing more
    EXPECT_EQ(store.record_count(), 3u);
    EXPECT_LE(store.bytes(), 3 * one + one / 2);
    store.remove(key, peer(1));
    EXPECT_EQ(store.record_count(), 2u);
    EXPECT_TRUE(store.add(key, entry(4)));
    EXPECT_EQ(store.record_count(), 3u);
    EXPECT_EQ(store.remove_expired(now + 2000), 3u);
    EXPECT_EQ(store.bytes(), 0u);
    EXPECT_EQ(store.record_count(), 0u);
}

TEST(ProviderStore, PerProviderLimit) {
    ProviderStore store(ProviderStoreLimits{64, 100, 1 << 20, 2});
    EXPECT_TRUE(store.add(to_bytes("a"), entry(1)));
    EXPECT_TRUE(store.add(to_bytes("b"), entry(1)));
    EXPECT_FALSE(store.add(to_bytes("c"), entry(1)));
    EXPECT_EQ(store.last_refusal(), ProviderRefusal::provider_full);
    EXPECT_TRUE(store.add(to_bytes("a"), entry(1)));  // refreshing one it holds
    EXPECT_TRUE(store.add(to_bytes("c"), entry(2)));  // another provider
}

// A provider's addresses are held once for all its records, and its newest announcement is what
// every one of its records answers with.
TEST(ProviderStore, AProvidersAddressesAreHeldOnceAndTheNewestAnswers) {
    ProviderStore store;
    auto e = entry(7);
    for (int k = 0; k < 100; ++k) ASSERT_TRUE(store.add(to_bytes("key" + std::to_string(k)), e));
    EXPECT_EQ(store.record_count(), 100u);
    EXPECT_EQ(store.provider_count(), 1u);
    std::size_t records = 0;
    for (int k = 0; k < 100; ++k)
        records += ProviderStore::record_cost(to_bytes("key" + std::to_string(k)));
    EXPECT_EQ(store.bytes(), records + ProviderStore::provider_cost(e.provider, e.addrs));

    // A new announcement with other addresses: every record of the provider answers with them.
    auto moved = ProviderEntry{e.provider, {addr("/ip4/192.0.2.9/tcp/4001")}, now + 1000};
    ASSERT_TRUE(store.add(to_bytes("key99"), moved));
    auto got = store.get(to_bytes("key0"), now);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].addrs, moved.addrs);
    // One without addresses keeps those known.
    ASSERT_TRUE(store.add(to_bytes("key5"), ProviderEntry{e.provider, {}, now + 1000}));
    EXPECT_EQ(store.get(to_bytes("key5"), now).at(0).addrs, moved.addrs);

    // The last record gone, the provider and its addresses go too.
    EXPECT_EQ(store.remove_expired(now + 2000), 100u);
    EXPECT_EQ(store.provider_count(), 0u);
    EXPECT_EQ(store.bytes(), 0u);
}

}  // namespace
}  // namespace keel::kad
