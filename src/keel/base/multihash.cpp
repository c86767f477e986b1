#include "keel/base/multihash.hpp"

#include "keel/base/codec_errc.hpp"
#include "keel/base/sha256.hpp"
#include "keel/base/varint.hpp"

namespace keel {

Multihash Multihash::identity(BytesView data) {
    return {identity_code, Bytes(data.begin(), data.end())};
}

Multihash Multihash::sha2_256(BytesView data) {
    const auto digest = sha256(data);
    return {sha2_256_code, Bytes(digest.begin(), digest.end())};
}

Bytes Multihash::encode() const {
    Bytes out;
    out.reserve(uvarint_size(code) + uvarint_size(digest.size()) + digest.size());
    append_uvarint(out, code);
    append_uvarint(out, digest.size());
    out.insert(out.end(), digest.begin(), digest.end());
    return out;
}

boost::system::result<Multihash> Multihash::decode(BytesView bytes) {
    auto code = decode_uvarint(bytes);
    if (!code) return code.error();
    bytes = bytes.subspan(code->length);
    auto length = decode_uvarint(bytes);
    if (!length) return length.error();
    bytes = bytes.subspan(length->length);
    // Bound before allocating: no digest we use is longer, and identity multihashes (which embed
    // a key) are capped so a peer cannot make us store arbitrary blobs as "IDs".
    if (length->value > max_digest_size) return codec_errc::too_long;
    if (bytes.size() < length->value) return codec_errc::truncated;
    if (bytes.size() > length->value) return codec_errc::length_mismatch;
    return Multihash{code->value, Bytes(bytes.begin(), bytes.end())};
}

}  // namespace keel
