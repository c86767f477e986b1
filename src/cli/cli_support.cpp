#include "cli_support.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <cstdlib>
#include <iostream>

namespace keel::cli {

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
    std::size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (value < 0) return std::nullopt;
    std::string unit = text.substr(used);
    double ms = 0;
    if (unit.empty() || unit == "s")
        ms = value * 1000;
    else if (unit == "ms")
        ms = value;
    else if (unit == "m")
        ms = value * 60'000;
    else if (unit == "h")
        ms = value * 3'600'000;
    else
        return std::nullopt;
    return std::chrono::milliseconds(static_cast<long long>(ms));
}

std::filesystem::path default_data_dir() {
    if (const char* dir = std::getenv("KEEL_DATA_DIR"); dir && *dir) return dir;
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
        return std::filesystem::path(xdg) / "keel";
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::filesystem::path(home) / ".local/share/keel";
    return ".keel";
}

void setup_logging(const std::string& level) {
    auto logger = spdlog::stderr_logger_mt("keel");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
    logger->set_level(spdlog::level::from_str(level));
}

void emit(const nlohmann::json& object) {
    std::cout << object.dump() << std::endl;
}

}  // namespace keel::cli
