#include "keel/crypto/keys.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <memory>

#include <keel/proto/keys.pb.h>

#include "keel/crypto/crypto_errc.hpp"

namespace keel {
namespace {

// Larger RSA keys are refused: verification cost grows with the modulus and a peer chooses it
// (go-libp2p uses the same cap).
constexpr int max_rsa_bits = 8192;
constexpr std::size_t max_signature_size = 1024;  // RSA-8192 is 1024 bytes; DER ECDSA < 80

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

PkeyPtr parse_spki(BytesView der, int expected_type) {
    const unsigned char* p = der.data();
    PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    if (!key || p != der.data() + der.size()) return nullptr;  // trailing bytes are malformed
    if (EVP_PKEY_get_base_id(key.get()) != expected_type) return nullptr;
    return key;
}

// An RSA key we verify with: at most max_rsa_bits, and a public exponent under 2^31, as go's
// crypto/rsa demands (ring, under rust-libp2p, up to 2^33 - 1). A verify costs a multiplication
// per bit of the exponent: a peer whose Noise payload named a 3,072-bit key with a 3,071-bit
// exponent made each handshake's verify about 140 times dearer than with 65537.
PkeyPtr rsa_key(BytesView der) {
    auto key = parse_spki(der, EVP_PKEY_RSA);
    if (!key || EVP_PKEY_get_bits(key.get()) > max_rsa_bits) return nullptr;
    BIGNUM* exponent = nullptr;
    if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &exponent) != 1) return nullptr;
    const bool usable = BN_num_bits(exponent) <= 31;
    BN_free(exponent);
    return usable ? std::move(key) : nullptr;
}

// secp256k1 keys are a bare SEC1 point (33 bytes compressed, 65 uncompressed), not PKIX, so we
// build the EVP_PKEY from its parameters.
PkeyPtr secp256k1_key(BytesView point) {
    if (point.size() != 33 && point.size() != 65) return nullptr;
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    if (!bld) return nullptr;
    OSSL_PARAM* params = nullptr;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp256k1", 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) == 1)
        params = OSSL_PARAM_BLD_to_param(bld);
    OSSL_PARAM_BLD_free(bld);
    if (!params) return nullptr;

    EVP_PKEY* raw = nullptr;
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    if (ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &raw, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return PkeyPtr(raw);
}

bool evp_verify_sha256(EVP_PKEY* key, BytesView message, BytesView signature) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (!ctx) return false;
    // For RSA keys the default padding is PKCS#1 v1.5; for EC keys the signature is DER ECDSA.
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) return false;
    return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                            message.size()) == 1;
}

}  // namespace

Bytes PublicKey::marshal() const {
    pb::PublicKey msg;
    msg.set_type(static_cast<pb::KeyType>(type));
    msg.set_data(data.data(), data.size());
    // proto2 serialises fields in field-number order with no extras: deterministic, as the
    // peer-ids spec requires for hashing.
    Bytes out(msg.ByteSizeLong());
    msg.SerializeToArray(out.data(), static_cast<int>(out.size()));
    return out;
}

boost::system::result<PublicKey> PublicKey::unmarshal(BytesView bytes) {
    if (bytes.size() > max_marshalled_size) return crypto_errc::invalid_key;
    pb::PublicKey msg;
    // A missing required field (an unknown key type counts as missing) makes IsInitialized()
    // false. ParseFromArray would say the same but logs to stderr, and library code never prints.
    if (!msg.ParsePartialFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
        !msg.IsInitialized())
        return crypto_errc::invalid_key;
    PublicKey key{static_cast<KeyType>(msg.type()), Bytes(msg.data().begin(), msg.data().end())};
    if (key.type == KeyType::ed25519 && key.data.size() != crypto_sign_PUBLICKEYBYTES)
        return crypto_errc::invalid_key;
    if (key.type == KeyType::rsa && !rsa_key(key.data)) return crypto_errc::invalid_key;
    return key;
}

bool PublicKey::verify(BytesView message, BytesView signature) const {
    if (signature.size() > max_signature_size) return false;
    switch (type) {
        case KeyType::ed25519:
            if (data.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES)
                return false;
            return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                               data.data()) == 0;
        case KeyType::rsa: {
            auto key = rsa_key(data);
            return key && evp_verify_sha256(key.get(), message, signature);
        }
        case KeyType::ecdsa: {
            auto key = parse_spki(data, EVP_PKEY_EC);
            return key && evp_verify_sha256(key.get(), message, signature);
        }
        case KeyType::secp256k1: {
            auto key = secp256k1_key(data);
            return key && evp_verify_sha256(key.get(), message, signature);
        }
    }
    return false;
}

}  // namespace keel
