#include "keel/base/cid.hpp"

#include "keel/base/codec_errc.hpp"
#include "keel/base/multibase.hpp"
#include "keel/base/varint.hpp"

namespace keel {

Bytes Cid::to_bytes() const {
    if (version == 0) return hash.encode();
    Bytes out;
    append_uvarint(out, version);
    append_uvarint(out, codec);
    const Bytes mh = hash.encode();
    out.insert(out.end(), mh.begin(), mh.end());
    return out;
}

std::string Cid::to_string() const {
    if (version == 0) return base58btc_encode(hash.encode());
    return multibase_encode(Multibase::base32, to_bytes());
}

boost::system::result<Cid> Cid::from_bytes(BytesView bytes) {
    // CIDv0 is a bare sha2-256 multihash: it starts with 0x12 0x20, which cannot begin a CIDv1.
    if (bytes.size() == 34 && bytes[0] == 0x12 && bytes[1] == 0x20) {
        auto mh = Multihash::decode(bytes);
        if (!mh) return mh.error();
        return Cid{0, dag_pb, std::move(*mh)};
    }
    auto version = decode_uvarint(bytes);
    if (!version) return version.error();
    if (version->value != 1) return codec_errc::unsupported_cid;
    bytes = bytes.subspan(version->length);
    auto codec = decode_uvarint(bytes);
    if (!codec) return codec.error();
    auto mh = Multihash::decode(bytes.subspan(codec->length));
    if (!mh) return mh.error();
    return Cid{1, codec->value, std::move(*mh)};
}

boost::system::result<Cid> Cid::parse(std::string_view text) {
    if (text.size() == 46 && text.starts_with("Qm")) {
        auto bytes = base58btc_decode(text);
        if (!bytes) return bytes.error();
        auto cid = from_bytes(*bytes);
        if (!cid) return cid.error();
        if (cid->version != 0) return codec_errc::unsupported_cid;
        return cid;
    }
    auto bytes = multibase_decode(text);
    if (!bytes) return bytes.error();
    auto cid = from_bytes(*bytes);
    if (!cid) return cid.error();
    // A multibase string must carry a CIDv1; a CIDv0 is only ever written bare.
    if (cid->version != 1) return codec_errc::unsupported_cid;
    return cid;
}

}  // namespace keel
