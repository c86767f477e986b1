#include "keel/host/failure.hpp"

#include <stdexcept>

namespace keel {

std::string_view phase_name(Phase phase) {
    switch (phase) {
        case Phase::dial:
            return "dial";
        case Phase::security:
            return "security";
        case Phase::muxer:
            return "muxer";
        case Phase::identify:
            return "identify";
        case Phase::protocol:
            return "protocol";
    }
    return "unknown";
}

std::string Failure::message() const {
    std::string out(phase_name(phase));
    out += ": ";
    out += error.message();
    if (!detail.empty()) out += " (" + detail + ")";
    return out;
}

void throw_exception_from_error(const Failure& failure, const boost::source_location&) {
    throw std::runtime_error(failure.message());
}

}  // namespace keel
