#pragma once
// Multihash: <varint code><varint digest length><digest>. We compute identity and sha2-256 and
// carry any other code through untouched.
#include <cstddef>
#include <cstdint>

#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"

namespace keel {

struct Multihash {
    std::uint64_t code = 0;
    Bytes digest;

    static constexpr std::uint64_t identity_code = 0x00;
    static constexpr std::uint64_t sha2_256_code = 0x12;
    // Longest digest accepted when decoding (codec_errc::too_long), identity included.
    static constexpr std::size_t max_digest_size = 128;

    static Multihash identity(BytesView data);
    static Multihash sha2_256(BytesView data);

    Bytes encode() const;
    // Must consume all of `bytes` (length_mismatch otherwise).
    static boost::system::result<Multihash> decode(BytesView bytes);

    friend bool operator==(const Multihash&, const Multihash&) = default;
};

}  // namespace keel
