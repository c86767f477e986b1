// Signature verification for all four libp2p key types. The private keys come from the peer-ids
// spec vectors (tests/data/peer-ids.json); the test signs with OpenSSL / libsodium directly and
// checks that PublicKey::verify, which only sees the public key, accepts exactly those signatures.
#include <gtest/gtest.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include <memory>

#include <keel/proto/keys.pb.h>

#include "keel/crypto/crypto_errc.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/keys.hpp"
#include "test_vectors.hpp"

namespace keel {
namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

Bytes private_data(const test::KeyVector& v) {
    pb::PrivateKey msg;
    EXPECT_TRUE(msg.ParseFromArray(v.private_key.data(), static_cast<int>(v.private_key.size())));
    return Bytes(msg.data().begin(), msg.data().end());
}

// RSA private Data is PKCS#1 DER, ECDSA private Data is SEC1 DER.
PkeyPtr der_private_key(int type, const Bytes& der) {
    const unsigned char* p = der.data();
    return PkeyPtr(d2i_PrivateKey(type, nullptr, &p, static_cast<long>(der.size())));
}

// secp256k1 private Data is the raw 32-byte scalar.
PkeyPtr secp256k1_private_key(const Bytes& scalar, const Bytes& public_point) {
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    BIGNUM* priv = BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), nullptr);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp256k1", 0);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, public_point.data(),
                                     public_point.size());
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    EVP_PKEY* key = nullptr;
    EVP_PKEY_fromdata_init(ctx);
    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    BN_free(priv);
    OSSL_PARAM_BLD_free(bld);
    return PkeyPtr(key);
}

Bytes openssl_sign_sha256(EVP_PKEY* key, BytesView message) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = 0;
    Bytes sig;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
        EVP_DigestSign(ctx, nullptr, &len, message.data(), message.size()) == 1) {
        sig.resize(len);
        if (EVP_DigestSign(ctx, sig.data(), &len, message.data(), message.size()) == 1)
            sig.resize(len);
        else
            sig.clear();
    }
    EVP_MD_CTX_free(ctx);
    return sig;
}

const Bytes message = to_bytes("libp2p signed envelope payload");
const Bytes tampered = to_bytes("libp2p signed envelope payloaD");

void expect_verifies(const test::KeyVector& v, const Bytes& sig) {
    auto key = PublicKey::unmarshal(v.public_key);
    ASSERT_TRUE(key);
    ASSERT_FALSE(sig.empty());
    EXPECT_TRUE(key->verify(message, sig));
    EXPECT_FALSE(key->verify(tampered, sig));
    Bytes bad = sig;
    bad[bad.size() / 2] ^= 0x01;
    EXPECT_FALSE(key->verify(message, bad));
    EXPECT_FALSE(key->verify(message, {}));
}

TEST(Keys, VerifyRsa) {
    const auto v = test::key_vector("rsa");
    auto priv = der_private_key(EVP_PKEY_RSA, private_data(v));
    ASSERT_TRUE(priv);
    expect_verifies(v, openssl_sign_sha256(priv.get(), message));
}

// A 3,072-bit modulus (random: only its size matters here) with `exponent`, as PKIX DER.
Bytes rsa_public_der(const BIGNUM* exponent) {
    std::unique_ptr<BIGNUM, decltype(&BN_free)> modulus(BN_new(), BN_free);
    if (!modulus || BN_rand(modulus.get(), 3072, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD) != 1)
        return {};
    // OSSL_PARAM takes big numbers as native-endian bytes.
    std::vector<unsigned char> n(384), e(384);
    if (BN_bn2nativepad(modulus.get(), n.data(), 384) < 0 ||
        BN_bn2nativepad(exponent, e.data(), 384) < 0)
        return {};
    OSSL_PARAM params[] = {OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, n.data(), n.size()),
                           OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, e.data(), e.size()),
                           OSSL_PARAM_construct_end()};
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
        EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), EVP_PKEY_CTX_free);
    EVP_PKEY* raw = nullptr;
    if (!context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
        EVP_PKEY_fromdata(context.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1)
        return {};
    PkeyPtr key(raw);
    unsigned char* der = nullptr;
    const int size = i2d_PUBKEY(key.get(), &der);
    if (size <= 0) return {};
    Bytes out(der, der + size);
    OPENSSL_free(der);
    return out;
}

// A remote's key whose public exponent is huge made each verify cost a multiplication per bit of
// it (a Noise handshake's signature check): refused as go refuses it, exponents up to 2^31 - 1.
TEST(Keys, RsaKeysWithAHugePublicExponentAreRefused) {
    std::unique_ptr<BIGNUM, decltype(&BN_free)> e(BN_new(), BN_free);
    ASSERT_TRUE(e);
    ASSERT_EQ(BN_set_word(e.get(), 65537), 1);
    const auto usual = rsa_public_der(e.get());
    ASSERT_FALSE(usual.empty());
    EXPECT_TRUE(PublicKey::unmarshal(PublicKey{KeyType::rsa, usual}.marshal()));
    BN_zero(e.get());
    ASSERT_EQ(BN_set_bit(e.get(), 3070), 1);
    ASSERT_EQ(BN_set_bit(e.get(), 0), 1);
    const auto huge = rsa_public_der(e.get());
    ASSERT_FALSE(huge.empty());
    const PublicKey key{KeyType::rsa, huge};
    EXPECT_EQ(PublicKey::unmarshal(key.marshal()).error(), crypto_errc::invalid_key);
    EXPECT_FALSE(key.verify(message, Bytes(384, 0x5a)));
    ASSERT_EQ(BN_set_word(e.get(), (1u << 31) - 1), 1);
    EXPECT_TRUE(PublicKey::unmarshal(PublicKey{KeyType::rsa, rsa_public_der(e.get())}.marshal()));
    ASSERT_EQ(BN_set_word(e.get(), (1u << 31) + 1), 1);
    EXPECT_FALSE(PublicKey::unmarshal(PublicKey{KeyType::rsa, rsa_public_der(e.get())}.marshal()));
}

TEST(Keys, VerifyEcdsa) {
    const auto v = test::key_vector("ECDSA");
    auto priv = der_private_key(EVP_PKEY_EC, private_data(v));
    ASSERT_TRUE(priv);
    expect_verifies(v, openssl_sign_sha256(priv.get(), message));
}

TEST(Keys, VerifySecp256k1) {
    const auto v = test::key_vector("secp256k1");
    const auto pub = PublicKey::unmarshal(v.public_key).value();
    EXPECT_EQ(pub.data.size(), 33u);
    auto priv = secp256k1_private_key(private_data(v), pub.data);
    ASSERT_TRUE(priv);
    const Bytes sig = openssl_sign_sha256(priv.get(), message);
    expect_verifies(v, sig);

    // The same key as an uncompressed 65-byte point verifies too.
    unsigned char point[65];
    std::size_t len = 0;
    ASSERT_EQ(EVP_PKEY_set_utf8_string_param(priv.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                             "uncompressed"),
              1);
    ASSERT_EQ(EVP_PKEY_get_octet_string_param(priv.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                              sizeof point, &len),
              1);
    ASSERT_EQ(len, 65u);
    const PublicKey uncompressed{KeyType::secp256k1, Bytes(point, point + 65)};
    EXPECT_TRUE(uncompressed.verify(message, sig));
    // A point not on the curve is rejected, not trusted.
    PublicKey off_curve = pub;
    off_curve.data[5] ^= 0x01;
    EXPECT_FALSE(off_curve.verify(message, sig));
}

TEST(Keys, VerifyEd25519AndPrivateKeyRoundTrip) {
    const auto v = test::key_vector("ED25519");
    auto pair = Ed25519KeyPair::unmarshal_private(v.private_key);
    ASSERT_TRUE(pair);
    EXPECT_EQ(pair->marshal_private(), v.private_key);
    EXPECT_EQ(pair->public_key().marshal(), v.public_key);
    expect_verifies(v, pair->sign(message));

    // Copies sign identically (Ed25519 is deterministic).
    const Ed25519KeyPair copy = *pair;
    EXPECT_EQ(copy.sign(message), pair->sign(message));
}

TEST(Keys, Ed25519FromSeedAndGenerate) {
    std::array<std::uint8_t, 32> seed{};
    const auto a = Ed25519KeyPair::from_seed(seed);
    const auto b = Ed25519KeyPair::from_seed(seed);
    EXPECT_EQ(a.public_bytes(), b.public_bytes());
    const auto g1 = Ed25519KeyPair::generate();
    const auto g2 = Ed25519KeyPair::generate();
    EXPECT_NE(g1.public_bytes(), g2.public_bytes());
    EXPECT_TRUE(g1.public_key().verify(message, g1.sign(message)));
    EXPECT_FALSE(g2.public_key().verify(message, g1.sign(message)));
}

TEST(Keys, Ed25519UnmarshalRejectsBadKeys) {
    // Another key type.
    EXPECT_EQ(Ed25519KeyPair::unmarshal_private(test::key_vector("secp256k1").private_key).error(),
              crypto_errc::unsupported_key_type);
    // Public half not matching the seed.
    Bytes bad = test::key_vector("ED25519").private_key;
    bad.back() ^= 1;
    EXPECT_EQ(Ed25519KeyPair::unmarshal_private(bad).error(), crypto_errc::invalid_key);
    EXPECT_FALSE(Ed25519KeyPair::unmarshal_private(to_bytes("garbage")));
    EXPECT_FALSE(Ed25519KeyPair::unmarshal_private({}));
}

TEST(Keys, UnmarshalBounds) {
    // Ed25519 data must be 32 bytes.
    EXPECT_EQ(PublicKey::unmarshal(*from_hex("0801121f" + std::string(62, '0'))).error(),
              crypto_errc::invalid_key);
    // Unknown key type 9.
    EXPECT_FALSE(PublicKey::unmarshal(*from_hex("0809120100")));
    // Missing Data.
    EXPECT_FALSE(PublicKey::unmarshal(*from_hex("0801")));
    EXPECT_FALSE(PublicKey::unmarshal(to_bytes("\xff\xff\xff")));
    Bytes huge = {0x08, 0x00, 0x12, 0x81, 0x20};  // RSA, 4097 bytes of data
    huge.resize(huge.size() + 4097);
    EXPECT_EQ(PublicKey::unmarshal(huge).error(), crypto_errc::invalid_key);
    // Malformed DER never verifies.
    EXPECT_FALSE((PublicKey{KeyType::rsa, to_bytes("not der")}.verify(message, message)));
    EXPECT_FALSE((PublicKey{KeyType::ecdsa, {}}.verify(message, message)));
    // An RSA SPKI presented as ECDSA is refused.
    auto rsa = PublicKey::unmarshal(test::key_vector("rsa").public_key).value();
    EXPECT_FALSE((PublicKey{KeyType::ecdsa, rsa.data}.verify(message, message)));
}

TEST(CryptoErrc, Category) {
    const boost::system::error_code ec = crypto_errc::bad_signature;
    EXPECT_STREQ(ec.category().name(), "keel.crypto");
    EXPECT_EQ(ec.message(), "bad signature");
}

}  // namespace
}  // namespace keel
