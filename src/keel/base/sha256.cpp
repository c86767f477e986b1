#include "keel/base/sha256.hpp"

#include <sodium.h>

namespace keel {

Sha256Digest sha256(BytesView data) {
    // libsodium asks for sodium_init() before any use; it is idempotent and thread-safe.
    static const int init = sodium_init();
    (void)init;
    Sha256Digest out;
    crypto_hash_sha256(out.data(), data.data(), data.size());
    return out;
}

}  // namespace keel
