// Positions in the keyspace: SHA-256 keys, XOR distance, common-prefix length, "closer".
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "kad_test_util.hpp"
#include "keel/kad/kad_key.hpp"

namespace keel::kad {
namespace {

KadKey with_bit(int bit) {
    KadKey k{};
    k[static_cast<std::size_t>(bit / 8)] = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    return k;
}

TEST(KadKey, IsSha256OfTheKeyBytes) {
    // SHA-256("abc") = ba7816bf 8f01cfea ...
    auto k = kad_key(as_bytes("abc"));
    EXPECT_EQ(k[0], 0xba);
    EXPECT_EQ(k[1], 0x78);
    EXPECT_EQ(k[2], 0x16);
    EXPECT_EQ(k[3], 0xbf);
    EXPECT_EQ(k[31], 0xad);
    auto p = test::peer(1);
    EXPECT_EQ(kad_key(p), kad_key(BytesView(p.bytes())));
}

TEST(KadKey, CommonPrefixLength) {
    KadKey zero{};
    EXPECT_EQ(common_prefix_length(zero, zero), 256);
    for (int bit : {0, 1, 7, 8, 9, 100, 254, 255}) {
        EXPECT_EQ(common_prefix_length(zero, with_bit(bit)), bit) << bit;
        EXPECT_EQ(common_prefix_length(with_bit(bit), zero), bit) << bit;
    }
    // Only the first differing bit counts.
    KadKey a{};
    a[3] = 0x10;  // bit 27
    a[20] = 0xff;
    EXPECT_EQ(common_prefix_length(zero, a), 27);
    auto k = kad_key(as_bytes("x"));
    EXPECT_EQ(common_prefix_length(k, k), 256);
}

TEST(KadKey, DistanceIsXorAndSymmetric) {
    auto a = kad_key(as_bytes("a"));
    auto b = kad_key(as_bytes("b"));
    auto d = distance(a, b);
    for (std::size_t i = 0; i < d.size(); ++i) EXPECT_EQ(d[i], a[i] ^ b[i]);
    EXPECT_EQ(distance(b, a), d);
    EXPECT_EQ(distance(a, a), KadKey{});
    // cpl(a, b) is the number of leading zero bits of their distance.
    EXPECT_EQ(common_prefix_length(KadKey{}, d), common_prefix_length(a, b));
}

TEST(KadKey, CloserOrdersByXorDistanceMostSignificantBitFirst) {
    KadKey target{};
    // A difference in a high bit outweighs any number of differences in lower bits.
    KadKey far = with_bit(0);
    KadKey near{};
    near.fill(0xff);
    near[0] = 0x7f;
    EXPECT_TRUE(closer(target, near, far));
    EXPECT_FALSE(closer(target, far, near));
    EXPECT_FALSE(closer(target, near, near));  // strict
    EXPECT_TRUE(closer(target, target, near));

    // Sorting by closer() agrees with sorting by common-prefix length, longest first.
    auto t = kad_key(as_bytes("target"));
    std::vector<KadKey> keys;
    for (std::uint32_t i = 0; i < 200; ++i) keys.push_back(kad_key(test::peer(i)));
    std::sort(keys.begin(), keys.end(),
              [&](const KadKey& x, const KadKey& y) { return closer(t, x, y); });
    for (std::size_t i = 1; i < keys.size(); ++i) {
        EXPECT_GE(common_prefix_length(t, keys[i - 1]), common_prefix_length(t, keys[i]));
        EXPECT_LE(distance(t, keys[i - 1]), distance(t, keys[i]));
    }
}

}  // namespace
}  // namespace keel::kad
