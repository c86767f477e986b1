#include "keel/base/varint.hpp"

#include "keel/base/codec_errc.hpp"

namespace keel {

void append_uvarint(Bytes& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<std::uint8_t>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(v));
}

std::size_t uvarint_size(std::uint64_t v) {
    std::size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

boost::system::result<UvarintDecoded> decode_uvarint(BytesView in) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        // The spec caps varints at 9 bytes (63 bits): a 10th byte is an overflow even if it
        // would fit in 64 bits.
        if (i == max_uvarint_size) return codec_errc::varint_overflow;
        const std::uint8_t b = in[i];
        value |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            // A trailing zero group (other than the value 0 itself) means padding: reject it
            // so each value has a single encoding.
            if (b == 0 && i > 0) return codec_errc::varint_not_minimal;
            return UvarintDecoded{value, i + 1};
        }
    }
    if (in.size() >= max_uvarint_size) return codec_errc::varint_overflow;
    return codec_errc::truncated;
}

}  // namespace keel
