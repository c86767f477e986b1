#pragma once
// How users name content in the DHT: a CID, or any text (a file name, a hash) which becomes a
// CIDv1 (raw, sha2-256 of the text). The DHT key is the CID's multihash, as js-libp2p expects.
#include <string_view>

#include "keel/base/cid.hpp"

namespace keel::kad {

inline Cid content_cid(std::string_view text) {
    if (auto cid = Cid::parse(text)) return *cid;
    return Cid{1, Cid::raw, Multihash::sha2_256(as_bytes(text))};
}

}  // namespace keel::kad
