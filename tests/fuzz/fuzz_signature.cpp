// Signature verification for each key type with real keys (tests/data/peer-ids.json: RSA,
// Ed25519, secp256k1, ECDSA), as identify's signed records and Noise's identity_sig need it.
// Input: byte = key (0..3), chunk = message, rest = signature. Properties: verify() never crashes
// or leaks whatever the signature bytes (DER parsing in OpenSSL, lengths in libsodium), and for our
// own Ed25519 key verify(m, sign(m)) holds while a flipped bit in the signature fails.
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "keel/base/hex.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/keys.hpp"

using namespace keel;

namespace {

std::vector<PublicKey> load_keys() {
    std::vector<PublicKey> keys;
    std::ifstream file(KEEL_TEST_DATA "/peer-ids.json");
    if (!file) return keys;
    const auto json = nlohmann::json::parse(file);
    for (const auto& v : json.at("vectors")) {
        auto bytes = from_hex(v.at("public_key_protobuf_hex").get<std::string>());
        if (!bytes) continue;
        if (auto key = PublicKey::unmarshal(*bytes)) keys.push_back(*key);
    }
    return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::vector<PublicKey> keys = load_keys();
    static const Ed25519KeyPair ours = Ed25519KeyPair::from_seed(std::array<std::uint8_t, 32>{7});
    if (keys.size() != 4) std::abort();  // the vectors are part of the target
    fuzz::Input in(data, size);
    auto which = in.byte();
    auto message = in.chunk();
    auto signature = in.rest();
    if (which < 8) {
        // Keys ordered by type: rsa, ed25519, secp256k1, ecdsa.
        for (const auto& key : keys)
            if (static_cast<int>(key.type) == which % 4) (void)key.verify(message, signature);
    } else {
        auto sig = ours.sign(message);
        KEEL_FUZZ_CHECK(ours.public_key().verify(message, sig));
        if (!signature.empty()) {
            sig[signature[0] % sig.size()] ^=
                static_cast<std::uint8_t>(1u << (signature.size() % 8));
            KEEL_FUZZ_CHECK(!ours.public_key().verify(message, sig));
        }
    }
    return 0;
}
