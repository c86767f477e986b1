#include "keel/app/duration.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace keel::app {

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
    std::size_t used = 0;
    bool dot = false;
    while (used < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[used])) || (text[used] == '.' && !dot))) {
        dot |= text[used] == '.';
        ++used;
    }
    auto number = text.substr(0, used);
    if (number.empty() || number == "." || number.size() > 20) return std::nullopt;
    double value = std::strtod(number.c_str(), nullptr);
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
    if (!std::isfinite(ms) || ms > static_cast<double>(max_duration.count())) return std::nullopt;
    return std::chrono::milliseconds(static_cast<long long>(ms));
}

std::string format_duration(std::chrono::milliseconds d) {
    auto ms = d.count();
    if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

}  // namespace keel::app
