#pragma once
// Errors of the Kademlia DHT.
#include <boost/system/error_code.hpp>

namespace keel::kad {

enum class kad_errc {
    malformed_message = 1,  // not a Kademlia message, or fields that contradict each other
    message_too_large,
    invalid_record,     // a record its namespace's validator rejects
    unknown_namespace,  // no validator for the record's key
    not_found,          // the lookup finished without the peer / value
    no_peers,           // nothing in the routing table to ask
    quorum_failed,      // fewer peers stored or agreed than asked for
    not_provider,       // ADD_PROVIDER for someone other than the sender
    dial_backoff,       // the peer's last dial failed a moment ago: not dialled again yet
};

const boost::system::error_category& kad_category() noexcept;
inline boost::system::error_code make_error_code(kad_errc e) noexcept {
    return {static_cast<int>(e), kad_category()};
}

}  // namespace keel::kad

template <>
struct boost::system::is_error_code_enum<keel::kad::kad_errc> : std::true_type {};
