// Kademlia record validation (PUT_VALUE and GET_VALUE answers): ValidatorRegistry with its "/pk/"
// validator, on a fuzzer key and values. Input: chunk = key, then chunks = values. Properties:
// validate() never crashes; a value validate() accepts under "/pk/" is a public key whose peer ID
// is the key's; select() picks an index within the values, and nothing for unknown namespaces.
#include "fuzz_util.hpp"
#include "keel/crypto/keys.hpp"
#include "keel/crypto/peer_id.hpp"
#include "keel/kad/record_validator.hpp"

using namespace keel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const kad::ValidatorRegistry registry;
    fuzz::Input in(data, size);
    auto key = in.chunk();
    std::vector<Bytes> values;
    while (!in.empty() && values.size() < 16) {
        auto v = in.chunk();
        values.emplace_back(v.begin(), v.end());
    }
    std::vector<Bytes> valid;
    for (const auto& value : values) {
        if (registry.validate(key, value)) continue;
        valid.push_back(value);
        auto text = as_chars(key);
        KEEL_FUZZ_CHECK(text.starts_with("/pk/"));
        auto pk = PublicKey::unmarshal(value);
        KEEL_FUZZ_CHECK(pk.has_value());
        auto id = PeerId::from_bytes(key.subspan(4));
        KEEL_FUZZ_CHECK(id.has_value() && id->matches(*pk));
    }
    if (!valid.empty()) {
        auto best = registry.select(key, valid);
        KEEL_FUZZ_CHECK(best.has_value() && *best < valid.size());
    }
    auto any = registry.select(key, values);
    if (any) KEEL_FUZZ_CHECK(*any < values.size());
    return 0;
}
