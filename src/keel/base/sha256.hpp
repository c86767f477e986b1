#pragma once
// SHA-256 (libsodium).
#include <array>
#include <cstdint>

#include "keel/base/bytes.hpp"

namespace keel {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(BytesView data);

}  // namespace keel
