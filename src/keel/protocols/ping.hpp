#pragma once
// /ipfs/ping/1.0.0 (libp2p/specs ping/ping.md): the dialer sends 32 random bytes, the listener
// echoes them; repeat on the same stream.
#include <vector>

#include "keel/net/byte_stream.hpp"

namespace keel::protocols {

inline constexpr std::string_view ping_protocol_id = "/ipfs/ping/1.0.0";
inline constexpr std::size_t ping_payload_size = 32;

// Echoes until the dialer closes the stream or stays silent for `idle_timeout`.
net::awaitable<void> serve_ping(net::ByteStream& stream, net::Duration idle_timeout);
// One round trip; a reply that differs from what we sent is an error.
net::awaitable<net::result<net::Clock::duration>> ping_once(net::ByteStream& stream);

}  // namespace keel::protocols
