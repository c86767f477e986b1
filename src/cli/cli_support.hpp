#pragma once
// Shared pieces of the keel command line: durations, paths, logging and JSON output.
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace keel::cli {

// "10s", "250ms", "2m", "1h"; a bare number is seconds. nullopt if malformed.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);
// $KEEL_DATA_DIR, else $XDG_DATA_HOME/keel, else ~/.local/share/keel.
std::filesystem::path default_data_dir();
// Registers the library's "keel" logger on stderr at `level` (trace..off).
void setup_logging(const std::string& level);
// One JSON object per line on stdout, flushed, so that scripts can follow along.
void emit(const nlohmann::json& object);

}  // namespace keel::cli
