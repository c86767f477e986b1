#pragma once
// Loads tests/data/peer-ids.json (libp2p/specs peer-ids test vectors, peer IDs from js-libp2p 3).
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "keel/base/hex.hpp"

namespace keel::test {

struct KeyVector {
    std::string key_type;
    Bytes private_key;                                                      // protobuf PrivateKey
    Bytes public_key;                                                       // protobuf PublicKey
    std::string peer_id_base58, peer_id_cid_base32, peer_id_multihash_hex;  // empty for ECDSA
};

inline std::vector<KeyVector> load_key_vectors() {
    std::ifstream in(std::string(KEEL_TEST_DATA) + "/peer-ids.json");
    if (!in) throw std::runtime_error("cannot open peer-ids.json");
    const auto json = nlohmann::json::parse(in);
    std::vector<KeyVector> out;
    for (const auto& v : json.at("vectors")) {
        KeyVector k;
        k.key_type = v.at("key_type").get<std::string>();
        k.private_key = from_hex(v.at("private_key_protobuf_hex").get<std::string>()).value();
        k.public_key = from_hex(v.at("public_key_protobuf_hex").get<std::string>()).value();
        k.peer_id_base58 = v.value("peer_id_base58", "");
        k.peer_id_cid_base32 = v.value("peer_id_cid_base32", "");
        k.peer_id_multihash_hex = v.value("peer_id_multihash_hex", "");
        out.push_back(std::move(k));
    }
    return out;
}

inline KeyVector key_vector(std::string_view type) {
    for (auto& k : load_key_vectors())
        if (k.key_type == type) return k;
    throw std::runtime_error("no vector for " + std::string(type));
}

}  // namespace keel::test
