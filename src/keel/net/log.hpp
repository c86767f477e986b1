#pragma once
// The library logs through one named spdlog logger, "keel", in key=value form, one line per event.
// The library never chooses where lines go: the program that embeds it registers the logger
// (the CLI sends it to stderr). Until then, events are dropped.
#include <spdlog/spdlog.h>

#include <optional>
#include <string_view>

namespace keel {

spdlog::logger& log();

// "trace", "debug", "info", "warn", "error", "critical" or "off"; nullopt for anything else
// (spdlog's own from_str quietly turns an unknown name into "off").
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name);

}  // namespace keel
