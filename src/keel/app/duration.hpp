#pragma once
// Durations as people write them in flags and config files: "10s", "250ms", "2m", "1h"; a bare
// number is seconds.
#include <chrono>
#include <optional>
#include <string>

namespace keel::app {

// nullopt if malformed or negative.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);
// The shortest exact spelling: "250ms", "10s", "2m", "1h".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace keel::app
