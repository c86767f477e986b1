#include "keel/store/addr_blob.hpp"

#include "keel/base/varint.hpp"

namespace keel::store {

Bytes encode_addrs(const std::vector<Multiaddr>& addrs) {
    Bytes out;
    for (const auto& a : addrs) {
        const Bytes b = a.to_bytes();
        append_uvarint(out, b.size());
        out.insert(out.end(), b.begin(), b.end());
    }
    return out;
}

std::optional<std::vector<Multiaddr>> decode_addrs(BytesView in) {
    std::vector<Multiaddr> out;
    while (!in.empty()) {
        auto len = decode_uvarint(in);
        if (!len) return std::nullopt;
        in = in.subspan(len->length);
        if (len->value > Multiaddr::max_bytes || len->value > in.size()) return std::nullopt;
        const auto n = static_cast<std::size_t>(len->value);
        auto addr = Multiaddr::from_bytes(in.first(n));
        if (!addr) return std::nullopt;
        out.push_back(std::move(*addr));
        in = in.subspan(n);
    }
    return out;
}

}  // namespace keel::store
