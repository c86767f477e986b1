#pragma once
// /keel/echo/1.0.0: writes back everything it reads until the dialer half-closes. A test protocol
// that moves bulk data through Yamux flow control; `keel node --echo` enables it.
#include "keel/net/byte_stream.hpp"

namespace keel::protocols {

inline constexpr std::string_view echo_protocol_id = "/keel/echo/1.0.0";

net::awaitable<void> serve_echo(net::ByteStream& stream, net::Duration idle_timeout);

}  // namespace keel::protocols
