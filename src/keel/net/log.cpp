#include "keel/net/log.hpp"

#include <spdlog/sinks/null_sink.h>

namespace keel {

spdlog::logger& log() {
    if (auto registered = spdlog::get("keel")) return *registered;
    static auto silent = std::make_shared<spdlog::logger>(
        "keel-silent", std::make_shared<spdlog::sinks::null_sink_mt>());
    return *silent;
}

}  // namespace keel
