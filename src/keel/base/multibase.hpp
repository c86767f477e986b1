#pragma once
// The multibase encodings libp2p needs: base58btc (peer IDs), base32 and base36 (CIDs).
// Decoders reject text longer than max_multibase_text (codec_errc::too_long): nothing we parse
// (peer IDs, CIDs, multiaddr values) comes close, and it bounds the quadratic base-N conversion.
#include <cstddef>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"

namespace keel {

inline constexpr std::size_t max_multibase_text = 4096;

std::string base58btc_encode(BytesView data);
boost::system::result<Bytes> base58btc_decode(std::string_view text);

// RFC 4648 base32, lowercase alphabet, no padding. Decoding also accepts uppercase.
std::string base32_encode(BytesView data);
boost::system::result<Bytes> base32_decode(std::string_view text);

// base36, lowercase alphabet 0-9a-z. Decoding also accepts uppercase.
std::string base36_encode(BytesView data);
boost::system::result<Bytes> base36_decode(std::string_view text);

enum class Multibase { base58btc, base32, base36 };

// With the multibase prefix: 'z' base58btc, 'b' base32, 'k' base36.
std::string multibase_encode(Multibase base, BytesView data);
// Accepts 'z', 'b', 'B' (upper-case base32), 'k', 'K'; anything else is unsupported_multibase.
boost::system::result<Bytes> multibase_decode(std::string_view text);

}  // namespace keel
