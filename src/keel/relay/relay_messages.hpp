#pragma once
// HOP and STOP messages on a stream: length-prefixed protobufs, each read bounded in size
// (max_relay_message) and in time; and the reservation voucher a relay signs.
#include <chrono>

#include <google/protobuf/message_lite.h>

#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/peer_id.hpp"
#include "keel/net/byte_stream.hpp"

namespace keel::relay {

// Reads one message into `message`; net_errc::malformed_message if it does not parse (a required
// field missing included), timeout past `timeout`.
net::awaitable<net::error_code> read_relay_message(net::ByteStream& stream,
                                                   google::protobuf::MessageLite& message,
                                                   net::Duration timeout);
net::awaitable<net::error_code> write_relay_message(net::ByteStream& stream,
                                                    const google::protobuf::MessageLite& message);

// The envelope domain and payload type of a reservation voucher (as go-libp2p and js-libp2p).
inline constexpr std::string_view voucher_domain = "libp2p-relay-rsvp";
inline constexpr std::array<std::uint8_t, 2> voucher_payload_type{0x03, 0x02};

// A signed envelope saying that `relay` holds a reservation for `peer` until `expires`.
Bytes reservation_voucher(const Ed25519KeyPair& relay_key, const PeerId& relay, const PeerId& peer,
                          std::chrono::system_clock::time_point expires);

}  // namespace keel::relay
