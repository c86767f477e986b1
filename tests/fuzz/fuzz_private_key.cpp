// The PrivateKey protobuf (the identity file's content, go-libp2p-daemon's -id format) through
// Ed25519KeyPair::unmarshal_private. Properties: an accepted key's public half matches its seed:
// it signs what its own public key verifies; marshal_private() round-trips to the same key.
#include "fuzz_util.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/keys.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto key = Ed25519KeyPair::unmarshal_private(BytesView(data, size));
    if (!key) return 0;
    auto again = Ed25519KeyPair::unmarshal_private(key->marshal_private());
    KEEL_FUZZ_CHECK(again.has_value());
    KEEL_FUZZ_CHECK(again->public_bytes() == key->public_bytes());
    KEEL_FUZZ_CHECK(again->marshal_private() == key->marshal_private());
    auto message = to_bytes("keel fuzz");
    KEEL_FUZZ_CHECK(key->public_key().verify(message, key->sign(message)));
    return 0;
}
