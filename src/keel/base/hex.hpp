#pragma once
// Lower-case hexadecimal, for logs, tests and key files.
#include <optional>
#include <string>
#include <string_view>

#include "keel/base/bytes.hpp"

namespace keel {

std::string to_hex(BytesView data);
// Returns nullopt on odd length or a non-hex character.
std::optional<Bytes> from_hex(std::string_view text);

}  // namespace keel
