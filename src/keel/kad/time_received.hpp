#pragma once
// Record.timeReceived: RFC 3339 in UTC with nanoseconds ("2006-01-02T15:04:05.999999999Z"), as
// the spec says and go-libp2p and js-libp2p write it (js reads it with `new Date(...)`: a bare
// number of milliseconds would be an Invalid Date there). Keel holds it as a time; the text is
// only the wire's.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace keel::kad {

std::string rfc3339(std::chrono::system_clock::time_point when);
// go's RFC3339Nano (trailing zeros trimmed, any offset), js's toISOString (milliseconds, Z),
// ours. Nullopt for anything else, and for years outside 1900-2200 (a time point holds them).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace keel::kad
