#include "keel/kad/kad_key.hpp"

#include <bit>

#include "keel/base/sha256.hpp"

namespace keel::kad {

KadKey kad_key(BytesView key) {
    return sha256(key);
}

KadKey distance(const KadKey& a, const KadKey& b) {
    KadKey d{};
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = a[i] ^ b[i];
    return d;
}

int common_prefix_length(const KadKey& a, const KadKey& b) {
    for (std::size_t i = 0; i < a.size(); ++i) {
        std::uint8_t x = a[i] ^ b[i];
        if (x != 0) return static_cast<int>(i * 8) + std::countl_zero(x);
    }
    return 256;
}

bool closer(const KadKey& target, const KadKey& a, const KadKey& b) {
    return distance(target, a) < distance(target, b);
}

}  // namespace keel::kad
