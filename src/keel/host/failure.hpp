#pragma once
// A failed dial or request says which phase of the connection failed and why, so that a user
// sees "security: remote peer ID does not match" instead of a spinner.
#include <array>
#include <boost/system/result.hpp>
#include <string>

#include "keel/net/asio.hpp"

namespace keel {

enum class Phase { dial, security, muxer, identify, protocol };
inline constexpr std::array all_phases{Phase::dial, Phase::security, Phase::muxer, Phase::identify,
                                       Phase::protocol};

std::string_view phase_name(Phase phase);

struct Failure {
    Phase phase = Phase::dial;
    net::error_code error;
    std::string detail;  // e.g. the address dialed

    std::string message() const;  // "dial: Connection refused (/ip4/127.0.0.1/tcp/1)"
};

// Lets boost::system::result<T, Failure>::value() throw a readable exception.
[[noreturn]] void throw_exception_from_error(const Failure& failure,
                                             const boost::source_location& location);

template <class T>
using HostResult = boost::system::result<T, Failure>;

}  // namespace keel
