#pragma once
// Why a relay did not give us what we asked (a HOP STATUS other than OK), and what went wrong on
// our side of the exchange.
#include <boost/system/error_code.hpp>

namespace keel::relay {

enum class relay_errc {
    reservation_refused = 1,  // RESERVATION_REFUSED: a limit of the relay
    resource_limit_exceeded,  // RESOURCE_LIMIT_EXCEEDED
    permission_denied,        // PERMISSION_DENIED
    connection_failed,        // CONNECTION_FAILED: the relay could not reach the target
    no_reservation,           // NO_RESERVATION: the target holds no reservation there
    malformed_message,        // MALFORMED_MESSAGE, or an answer we could not read
    unexpected_message,       // UNEXPECTED_MESSAGE, or an answer of the wrong type
    not_a_circuit_address,    // not <relay>/p2p/<relay>/p2p-circuit/p2p/<target>
};

const boost::system::error_category& relay_category() noexcept;
boost::system::error_code make_error_code(relay_errc e) noexcept;
// The error for a HOP/STOP status other than OK.
boost::system::error_code status_error(int status) noexcept;

}  // namespace keel::relay

template <>
struct boost::system::is_error_code_enum<keel::relay::relay_errc> : std::true_type {};
