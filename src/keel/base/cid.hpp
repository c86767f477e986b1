#pragma once
// Content identifiers: CIDv0 (a bare sha2-256 multihash, "Qm...") and CIDv1
// (<varint version=1><varint codec><multihash>). Peer IDs use CIDv1 with codec libp2p-key.
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"
#include "keel/base/multihash.hpp"

namespace keel {

struct Cid {
    std::uint64_t version = 1;
    std::uint64_t codec = 0;
    Multihash hash;

    static constexpr std::uint64_t libp2p_key = 0x72;
    static constexpr std::uint64_t raw = 0x55;
    static constexpr std::uint64_t dag_pb = 0x70;

    Bytes to_bytes() const;
    // v0: base58btc without prefix; v1: base32 with the 'b' prefix.
    std::string to_string() const;

    static boost::system::result<Cid> from_bytes(BytesView bytes);
    // "Qm..." (46-char CIDv0) or a multibase-encoded CIDv1.
    static boost::system::result<Cid> parse(std::string_view text);

    friend bool operator==(const Cid&, const Cid&) = default;
};

}  // namespace keel
