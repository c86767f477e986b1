#pragma once
// libp2p public keys (peer-ids spec): the protobuf form that peer IDs hash, and signature
// verification for all four key types, so we can check any peer's identify / signed records.
#include <cstddef>

#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"

namespace keel {

enum class KeyType : int { rsa = 0, ed25519 = 1, secp256k1 = 2, ecdsa = 3 };

struct PublicKey {
    KeyType type = KeyType::ed25519;
    // ed25519: 32 raw bytes; secp256k1: compressed (33) or uncompressed (65) point;
    // rsa and ecdsa: DER SubjectPublicKeyInfo.
    Bytes data;

    static constexpr std::size_t max_marshalled_size = 4096;

    // Deterministic keel::pb::PublicKey encoding (fields in order), as peer IDs require.
    Bytes marshal() const;
    // Bounded (max_marshalled_size); checks ed25519 keys are 32 bytes, and RSA keys are PKIX
    // of at most 8,192 bits with a public exponent under 2^31.
    static boost::system::result<PublicKey> unmarshal(BytesView bytes);

    // ed25519: plain Ed25519. rsa: RSASSA-PKCS1-v1_5 with SHA-256. secp256k1 and ecdsa: DER ECDSA
    // signature over SHA-256(message). False on any malformed key or signature.
    bool verify(BytesView message, BytesView signature) const;

    friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

}  // namespace keel
