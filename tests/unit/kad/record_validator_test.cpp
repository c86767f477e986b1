// The /pk/ namespace validator and the registry that routes keys to validators.
#include <gtest/gtest.h>

#include "kad_test_util.hpp"
#include "keel/kad/kad_errc.hpp"
#include "keel/kad/record_validator.hpp"

namespace keel::kad {
namespace {

Bytes pk_key(const PeerId& peer) {
    Bytes key = to_bytes("/pk/");
    key.insert(key.end(), peer.bytes().begin(), peer.bytes().end());
    return key;
}

const boost::system::error_code invalid = make_error_code(kad_errc::invalid_record);

TEST(PublicKeyValidator, AcceptsTheKeyOfThePeerInTheKey) {
    auto pair = test::key_pair(1);
    auto peer = PeerId::from_public_key(pair.public_key());
    PublicKeyValidator v;
    EXPECT_FALSE(v.validate(pk_key(peer), pair.public_key().marshal()));
    ValidatorRegistry registry;
    EXPECT_FALSE(registry.validate(pk_key(peer), pair.public_key().marshal()));
    std::vector<Bytes> values{pair.public_key().marshal(), pair.public_key().marshal()};
    EXPECT_EQ(registry.select(pk_key(peer), values), std::size_t{0});
}

TEST(PublicKeyValidator, RejectsAnotherPeersKey) {
    auto mine = test::key_pair(1);
    auto theirs = test::key_pair(2);
    auto peer = PeerId::from_public_key(mine.public_key());
    EXPECT_EQ(PublicKeyValidator().validate(pk_key(peer), theirs.public_key().marshal()), invalid);
    EXPECT_EQ(ValidatorRegistry().validate(pk_key(peer), theirs.public_key().marshal()), invalid);
}

TEST(PublicKeyValidator, RejectsMalformedKeysAndValues) {
    auto pair = test::key_pair(1);
    auto peer = PeerId::from_public_key(pair.public_key());
    auto value = pair.public_key().marshal();
    PublicKeyValidator v;
    // Not a marshalled public key.
    EXPECT_EQ(v.validate(pk_key(peer), to_bytes("garbage")), invalid);
    EXPECT_EQ(v.validate(pk_key(peer), Bytes{}), invalid);
    Bytes truncated(value.begin(), value.end() - 1);
    EXPECT_EQ(v.validate(pk_key(peer), truncated), invalid);
    // Key without a peer, with a truncated peer, with trailing bytes, without the prefix.
    EXPECT_EQ(v.validate(to_bytes("/pk/"), value), invalid);
    Bytes short_key = pk_key(peer);
    short_key.pop_back();
    EXPECT_EQ(v.validate(short_key, value), invalid);
    Bytes long_key = pk_key(peer);
    long_key.push_back(0);
    EXPECT_EQ(v.validate(long_key, value), invalid);
    Bytes wrong_prefix = to_bytes("/pq/");
    wrong_prefix.insert(wrong_prefix.end(), peer.bytes().begin(), peer.bytes().end());
    EXPECT_EQ(v.validate(wrong_prefix, value), invalid);
    // The key holds the base58 text instead of the multihash bytes.
    EXPECT_EQ(v.validate(to_bytes("/pk/" + peer.to_base58()), value), invalid);
}

TEST(ValidatorRegistry, UnknownNamespaceIsRefused) {
    ValidatorRegistry registry;
    auto pair = test::key_pair(1);
    const auto unknown = make_error_code(kad_errc::unknown_namespace);
    EXPECT_EQ(registry.validate(to_bytes("/ipns/whatever"), to_bytes("v")), unknown);
    EXPECT_EQ(registry.validate(to_bytes("no-namespace"), to_bytes("v")), unknown);
    EXPECT_EQ(registry.validate(to_bytes("/pk"), pair.public_key().marshal()), unknown);
    EXPECT_EQ(registry.validate(Bytes{}, to_bytes("v")), unknown);
    std::vector<Bytes> values{to_bytes("v")};
    EXPECT_EQ(registry.select(to_bytes("/ipns/whatever"), values), std::nullopt);
    EXPECT_EQ(registry.select(pk_key(PeerId::from_public_key(pair.public_key())), {}),
              std::nullopt);
}

class AcceptAll final : public RecordValidator {
  public:
    boost::system::error_code validate(BytesView, BytesView) const override { return {}; }
    std::size_t select(BytesView, const std::vector<Bytes>& values) const override {
        return values.size() - 1;
    }
};

TEST(ValidatorRegistry, AddedNamespacesAreUsed) {
    ValidatorRegistry registry;
    registry.add("test", std::make_shared<AcceptAll>());
    EXPECT_FALSE(registry.validate(to_bytes("/test/x"), to_bytes("v")));
    std::vector<Bytes> values{to_bytes("a"), to_bytes("b"), to_bytes("c")};
    EXPECT_EQ(registry.select(to_bytes("/test/x"), values), std::size_t{2});
}

}  // namespace
}  // namespace keel::kad
