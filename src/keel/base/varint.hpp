#pragma once
// Unsigned varint (multiformats unsigned-varint): LEB128, at most 9 bytes / 63 bits, and the
// encoding must be minimal so every value has exactly one byte form.
#include <cstddef>
#include <cstdint>

#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"

namespace keel {

inline constexpr std::size_t max_uvarint_size = 9;

void append_uvarint(Bytes& out, std::uint64_t v);
std::size_t uvarint_size(std::uint64_t v);

struct UvarintDecoded {
    std::uint64_t value;
    std::size_t length;  // bytes consumed
};

// codec_errc::truncated if `in` ends mid-varint (stream readers treat it as "need more bytes"),
// varint_overflow past 9 bytes / 63 bits, varint_not_minimal for padded encodings.
boost::system::result<UvarintDecoded> decode_uvarint(BytesView in);

}  // namespace keel
