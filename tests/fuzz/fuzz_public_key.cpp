// PublicKey::unmarshal, the libp2p PublicKey protobuf of identify, Noise payloads and /pk/
// records, with verify() on whatever key it yields for every key type (RSA, Ed25519, secp256k1,
// ECDSA: OpenSSL and libsodium parse the key data). Input: chunk = marshalled key, chunk =
// message, rest = signature. Properties: the input is bounded (max_marshalled_size); marshal()
// is canonical: unmarshal(marshal(k)) == k; the peer ID derived from the key matches it.
#include "fuzz_util.hpp"
#include "keel/crypto/keys.hpp"
#include "keel/crypto/peer_id.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    auto marshalled = in.chunk();
    auto message = in.chunk();
    auto signature = in.rest();
    auto key = PublicKey::unmarshal(marshalled);
    if (!key) return 0;
    KEEL_FUZZ_CHECK(marshalled.size() <= PublicKey::max_marshalled_size);
    auto again = PublicKey::unmarshal(key->marshal());
    KEEL_FUZZ_CHECK(again.has_value() && *again == *key);
    auto peer = PeerId::from_public_key(*key);
    KEEL_FUZZ_CHECK(peer.matches(*key));
    if (auto embedded = peer.extract_public_key()) KEEL_FUZZ_CHECK(*embedded == *key);
    (void)key->verify(message, signature);
    return 0;
}
