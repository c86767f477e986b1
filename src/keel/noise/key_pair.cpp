#include "keel/noise/key_pair.hpp"

#include <algorithm>
#include <cstdlib>

#include <sodium.h>

#include "keel/noise/noise_errc.hpp"

namespace keel::noise {
namespace {

// libsodium needs sodium_init() before randombytes; it is idempotent and thread-safe, and
// calling it here keeps the library usable without a global init step.
void ensure_sodium() {
    static const bool ok = sodium_init() >= 0;
    if (!ok) std::abort();  // no usable randomness: continuing would produce weak keys
}

}  // namespace

KeyPair KeyPair::generate() {
    ensure_sodium();
    Key private_key;
    randombytes_buf(private_key.data(), private_key.size());
    KeyPair pair = from_private(private_key);
    sodium_memzero(private_key.data(), private_key.size());
    return pair;
}

KeyPair KeyPair::from_private(std::span<const std::uint8_t, 32> private_key) {
    KeyPair pair;
    std::copy(private_key.begin(), private_key.end(), pair.private_key.begin());
    // Clamping happens inside libsodium, so the stored private key stays as given (test vectors).
    crypto_scalarmult_curve25519_base(pair.public_key.data(), pair.private_key.data());
    return pair;
}

boost::system::result<Key> dh(const KeyPair& local, std::span<const std::uint8_t, 32> remote) {
    Key shared;
    // libsodium already returns -1 for an all-zero result; the explicit check keeps the
    // guarantee independent of that detail.
    int rc = crypto_scalarmult_curve25519(shared.data(), local.private_key.data(), remote.data());
    if (rc != 0 || sodium_is_zero(shared.data(), shared.size())) {
        sodium_memzero(shared.data(), shared.size());
        return make_error_code(noise_errc::invalid_public_key);
    }
    return shared;
}

}  // namespace keel::noise
