#pragma once
// Byte containers used across Keel: owned Bytes, borrowed BytesView.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

using Bytes = std::vector<std::uint8_t>;
using BytesView = std::span<const std::uint8_t>;

inline BytesView as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(BytesView b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes to_bytes(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

}  // namespace keel
