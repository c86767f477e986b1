// Multihash and CID. Vectors: the multihash spec's sha2-256 example and the IPFS docs' CIDv0/v1
// pair for the same content.
#include <gtest/gtest.h>

#include "keel/base/cid.hpp"
#include "keel/base/codec_errc.hpp"
#include "keel/base/hex.hpp"
#include "keel/base/multibase.hpp"
#include "keel/base/multihash.hpp"
#include "keel/base/varint.hpp"

namespace keel {
namespace {

Bytes hex(std::string_view h) {
    return *from_hex(h);
}

TEST(Multihash, Sha256Encode) {
    // multiformats/multihash README: sha2-256 of "Merkle–Damgård".
    const auto mh = Multihash::sha2_256(as_bytes("Merkle–Damgård"));
    EXPECT_EQ(to_hex(mh.encode()),
              "122041dd7b6443542e75701aa98a0c235951a28a0d851b11564d20022ab11d2589a8");
}

TEST(Multihash, IdentityRoundTrip) {
    const auto mh = Multihash::identity(as_bytes("abc"));
    EXPECT_EQ(to_hex(mh.encode()), "0003616263");
    auto d = Multihash::decode(mh.encode());
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, mh);
}

TEST(Multihash, DecodeAcceptsOtherCodes) {
    // sha2-512 (0x13) with a 64-byte digest is carried through untouched.
    Bytes b = {0x13, 0x40};
    b.resize(66, 0xab);
    auto d = Multihash::decode(b);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->code, 0x13u);
    EXPECT_EQ(d->digest.size(), 64u);
}

TEST(Multihash, DecodeErrors) {
    EXPECT_EQ(Multihash::decode({}).error(), codec_errc::truncated);
    EXPECT_EQ(Multihash::decode(hex("12")).error(), codec_errc::truncated);
    EXPECT_EQ(Multihash::decode(hex("1220abcd")).error(), codec_errc::truncated);
    EXPECT_EQ(Multihash::decode(hex("0003616263ff")).error(), codec_errc::length_mismatch);
    Bytes big = {0x00};
    append_uvarint(big, 129);
    big.resize(big.size() + 129);
    EXPECT_EQ(Multihash::decode(big).error(), codec_errc::too_long);
    // A huge declared length is rejected before anything is allocated.
    EXPECT_EQ(Multihash::decode(hex("00ffffffffffffffff7f")).error(), codec_errc::too_long);
}

TEST(Cid, V0AndV1OfTheSameContent) {
    // docs.ipfs.tech "Content Identifiers": the same dag-pb node as CIDv0 and CIDv1.
    const std::string_view v0 = "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR";
    const std::string_view v1 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    auto c0 = Cid::parse(v0);
    ASSERT_TRUE(c0);
    EXPECT_EQ(c0->version, 0u);
    EXPECT_EQ(c0->codec, Cid::dag_pb);
    EXPECT_EQ(c0->to_string(), v0);

    auto c1 = Cid::parse(v1);
    ASSERT_TRUE(c1);
    EXPECT_EQ(c1->version, 1u);
    EXPECT_EQ(c1->codec, Cid::dag_pb);
    EXPECT_EQ(c1->hash, c0->hash);
    EXPECT_EQ(c1->to_string(), v1);

    Cid upgraded = *c0;
    upgraded.version = 1;
    EXPECT_EQ(upgraded.to_string(), v1);
    auto from = Cid::from_bytes(c1->to_bytes());
    ASSERT_TRUE(from);
    EXPECT_EQ(*from, *c1);
}

TEST(Cid, OtherMultibasesParse) {
    Cid cid{1, Cid::raw, Multihash::sha2_256(as_bytes("hello"))};
    for (auto base : {Multibase::base58btc, Multibase::base32, Multibase::base36}) {
        auto parsed = Cid::parse(multibase_encode(base, cid.to_bytes()));
        ASSERT_TRUE(parsed);
        EXPECT_EQ(*parsed, cid);
    }
}

TEST(Cid, Errors) {
    EXPECT_FALSE(Cid::parse(""));
    EXPECT_EQ(Cid::parse("xabc").error(), codec_errc::unsupported_multibase);
    // Version 2 does not exist.
    Bytes v2 = {0x02, 0x55, 0x00, 0x01, 0x61};
    EXPECT_EQ(Cid::from_bytes(v2).error(), codec_errc::unsupported_cid);
    // A CIDv0 may not be wrapped in multibase.
    auto v0 = Cid::parse("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR");
    EXPECT_EQ(Cid::parse(multibase_encode(Multibase::base32, v0->to_bytes())).error(),
              codec_errc::unsupported_cid);
    EXPECT_EQ(Cid::from_bytes(hex("0155")).error(), codec_errc::truncated);
}

}  // namespace
}  // namespace keel
