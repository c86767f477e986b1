#include "keel/crypto/ed25519.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

#include <keel/proto/keys.pb.h>

#include "keel/crypto/crypto_errc.hpp"

namespace keel {
namespace {

void ensure_sodium() {
    // sodium_init() is idempotent and thread-safe; it fails only if the system RNG is unusable,
    // and then no key can be generated safely.
    static const int rc = sodium_init();
    if (rc < 0) throw std::runtime_error("libsodium initialisation failed");
}

}  // namespace

Ed25519KeyPair::~Ed25519KeyPair() {
    sodium_memzero(secret_.data(), secret_.size());
}

Ed25519KeyPair Ed25519KeyPair::generate() {
    std::array<std::uint8_t, 32> seed;
    ensure_sodium();
    randombytes_buf(seed.data(), seed.size());
    Ed25519KeyPair pair = from_seed(seed);
    sodium_memzero(seed.data(), seed.size());
    return pair;
}

Ed25519KeyPair Ed25519KeyPair::from_seed(std::span<const std::uint8_t, 32> seed) {
    ensure_sodium();
    Ed25519KeyPair pair;
    crypto_sign_seed_keypair(pair.public_.data(), pair.secret_.data(), seed.data());
    return pair;
}

Bytes Ed25519KeyPair::sign(BytesView message) const {
    Bytes sig(crypto_sign_BYTES);
    crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
    return sig;
}

PublicKey Ed25519KeyPair::public_key() const {
    return {KeyType::ed25519, Bytes(public_.begin(), public_.end())};
}

Bytes Ed25519KeyPair::marshal_private() const {
    pb::PrivateKey msg;
    msg.set_type(pb::Ed25519);
    msg.set_data(secret_.data(), secret_.size());  // libsodium's secret key is seed || public
    Bytes out(msg.ByteSizeLong());
    msg.SerializeToArray(out.data(), static_cast<int>(out.size()));
    // The protobuf object's copy of the secret is freed without wiping; clear what we can.
    auto* data = msg.mutable_data();
    sodium_memzero(data->data(), data->size());
    return out;
}

boost::system::result<Ed25519KeyPair> Ed25519KeyPair::unmarshal_private(BytesView bytes) {
    if (bytes.size() > 4096) return crypto_errc::invalid_key;
    pb::PrivateKey msg;
    if (!msg.ParsePartialFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
        !msg.IsInitialized())
        return crypto_errc::invalid_key;
    if (msg.type() != pb::Ed25519) return crypto_errc::unsupported_key_type;
    auto* data = msg.mutable_data();
    const auto* d = reinterpret_cast<const std::uint8_t*>(data->data());
    const std::size_t n = data->size();

    // 64 bytes (seed || public) is the spec's form; go-libp2p once wrote 96 (public repeated),
    // and a bare 32-byte seed is accepted for convenience.
    boost::system::result<Ed25519KeyPair> out = crypto_errc::invalid_key;
    if (n == 32 || n == 64 || n == 96) {
        Ed25519KeyPair pair = from_seed(std::span<const std::uint8_t, 32>(d, 32));
        bool consistent = true;
        for (std::size_t off = 32; off < n; off += 32)
            consistent =
                consistent && std::equal(pair.public_.begin(), pair.public_.end(), d + off);
        if (consistent) out = std::move(pair);
    }
    sodium_memzero(data->data(), data->size());
    return out;
}

}  // namespace keel
