#pragma once
// Our own identity key: Ed25519 (libsodium). The secret is wiped on destruction.
#include <array>
#include <cstdint>
#include <span>

#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"
#include "keel/crypto/keys.hpp"

namespace keel {

class Ed25519KeyPair {
  public:
    static Ed25519KeyPair generate();
    static Ed25519KeyPair from_seed(std::span<const std::uint8_t, 32> seed);

    Ed25519KeyPair(const Ed25519KeyPair&) = default;
    Ed25519KeyPair& operator=(const Ed25519KeyPair&) = default;
    ~Ed25519KeyPair();

    Bytes sign(BytesView message) const;  // 64-byte signature
    PublicKey public_key() const;
    const std::array<std::uint8_t, 32>& public_bytes() const { return public_; }

    // keel::pb::PrivateKey with Type Ed25519 and Data = 32-byte seed || 32-byte public key.
    Bytes marshal_private() const;
    // Accepts the 64-byte form (checks the public half matches the seed) and a bare 32-byte seed.
    static boost::system::result<Ed25519KeyPair> unmarshal_private(BytesView bytes);

  private:
    Ed25519KeyPair() = default;

    std::array<std::uint8_t, 64> secret_{};  // libsodium's form: seed || public key
    std::array<std::uint8_t, 32> public_{};
};

}  // namespace keel
