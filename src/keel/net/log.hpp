#pragma once
// The library logs through one named spdlog logger, "keel", in key=value form, one line per event.
// The library never chooses where lines go: the program that embeds it registers the logger
// (the CLI sends it to stderr). Until then, events are dropped.
#include <spdlog/spdlog.h>

namespace keel {

spdlog::logger& log();

}  // namespace keel
