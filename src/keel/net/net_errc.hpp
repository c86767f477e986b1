#pragma once
// Errors of the network layer (framing, multistream-select, connection lifetime).
#include <boost/system/error_code.hpp>

namespace keel::net {

enum class net_errc {
    timeout = 1,             // a deadline fired
    message_too_large,       // a length prefix over its named limit
    malformed_message,       // bytes that do not parse
    protocol_not_supported,  // multistream: every proposal answered "na"
    bad_multistream_header,  // the peer does not speak /multistream/1.0.0
    too_many_proposals,      // a listener's patience for "na" ran out
    peer_id_mismatch,        // dialed /p2p/X, reached someone else
    connection_closed,       // the connection went away under us
    stream_reset,            // the remote reset the stream
    stream_limit,            // too many streams on one connection
    write_queue_full,        // the remote does not read what we send
    unsupported_address,     // a multiaddr we cannot dial
    no_addresses,            // nothing to dial
    shutting_down,
    bad_handshake_payload,   // Noise payload missing or not a valid libp2p identity
    bad_identity_signature,  // the identity key did not sign the Noise static key
    no_common_muxer,         // both offered muxers in the handshake, none in common
    protocol_error,          // the peer broke the muxer's rules (bad frame, window violation)
};

const boost::system::error_category& net_category() noexcept;
inline boost::system::error_code make_error_code(net_errc e) noexcept {
    return {static_cast<int>(e), net_category()};
}

}  // namespace keel::net

template <>
struct boost::system::is_error_code_enum<keel::net::net_errc> : std::true_type {};
