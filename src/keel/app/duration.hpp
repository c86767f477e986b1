#pragma once
// Durations as people write them in flags and config files: "10s", "250ms", "2m", "1h"; a bare
// number is seconds.
#include <chrono>
#include <optional>
#include <string>

namespace keel::app {

// Longer than any deadline or interval Keel has a use for; what is past it is a typo, and would
// overflow the clock's arithmetic (every deadline then "expires" at once).
inline constexpr std::chrono::milliseconds max_duration{std::chrono::hours(24 * 7)};

// nullopt if malformed, negative, or over max_duration. Only decimal digits with an optional
// fraction, then an optional unit: no "inf", "nan", exponents, hex or spaces.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);
// The shortest exact spelling: "250ms", "10s", "2m", "1h".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace keel::app
