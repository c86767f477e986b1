#include "cli_support.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <vector>

#include "keel/net/log.hpp"

namespace keel::cli {

std::filesystem::path default_data_dir() {
    if (const char* dir = std::getenv("KEEL_DATA_DIR"); dir && *dir) return dir;
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
        return std::filesystem::path(xdg) / "keel";
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::filesystem::path(home) / ".local/share/keel";
    return ".keel";
}

void setup_logging(const std::string& level) {
    auto parsed = parse_log_level(level);
    if (!parsed)
        throw std::invalid_argument(
            "log level \"" + level +
            "\": expected trace, debug, info, warn, error, critical or off");
    auto logger = spdlog::stderr_logger_mt("keel");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
    logger->set_level(*parsed);
}

void emit(const nlohmann::json& object) {
    std::cout << object.dump() << std::endl;
}

std::string find_ui_dir() {
    std::vector<std::filesystem::path> candidates;
#ifdef KEEL_SOURCE_UI_DIR
    candidates.emplace_back(KEEL_SOURCE_UI_DIR);
#endif
    for (const char* relative : {"ui/dist", "../ui/dist", "../../ui/dist"})
        candidates.emplace_back(relative);
    for (const auto& candidate : candidates)
        if (std::filesystem::exists(candidate / "index.html"))
            return std::filesystem::absolute(candidate).string();
    return {};
}

}  // namespace keel::cli
