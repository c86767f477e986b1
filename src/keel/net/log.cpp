#include "keel/net/log.hpp"

#include <spdlog/sinks/null_sink.h>

namespace keel {

spdlog::logger& log() {
    if (auto registered = spdlog::get("keel")) return *registered;
    static auto silent = std::make_shared<spdlog::logger>(
        "keel-silent", std::make_shared<spdlog::sinks::null_sink_mt>());
    return *silent;
}

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name) {
    using spdlog::level::level_enum;
    for (auto [text, level] : {std::pair{"trace", level_enum::trace},
                               {"debug", level_enum::debug},
                               {"info", level_enum::info},
                               {"warn", level_enum::warn},
                               {"error", level_enum::err},
                               {"critical", level_enum::critical},
                               {"off", level_enum::off}})
        if (name == text) return level;
    return std::nullopt;
}

}  // namespace keel
