#pragma once
// Shared pieces of the keel command line: durations, paths, logging and JSON output.
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "keel/app/duration.hpp"

namespace keel::cli {

using app::parse_duration;
// $KEEL_DATA_DIR, else $XDG_DATA_HOME/keel, else ~/.local/share/keel.
std::filesystem::path default_data_dir();
// Registers the library's "keel" logger on stderr at `level` (trace..off).
void setup_logging(const std::string& level);
// The web UI's built files (scripts/setup builds them into ui/dist): those of the checkout this
// binary was built from, else a ui/dist next to the working directory; empty if none.
std::string find_ui_dir();
// One JSON object per line on stdout, flushed, so that scripts can follow along.
void emit(const nlohmann::json& object);

}  // namespace keel::cli
