#pragma once
// Where a daemon control socket lives: a TCP address (/ip4|ip6/HOST/tcp/PORT) or a unix socket
// path (/unix/PATH). The daemon listens on one; a STREAM_HANDLER client listens on another, which
// the daemon dials for every inbound stream.
#include <filesystem>
#include <memory>
#include <variant>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/byte_stream.hpp"

namespace keel::p2pd {

using ControlEndpoint =
    std::variant<net::asio::ip::tcp::endpoint, net::asio::local::stream_protocol::endpoint>;

// net_errc::unsupported_address for anything but an IP address with a TCP port, or a unix path.
net::result<ControlEndpoint> control_endpoint(const Multiaddr& addr);
Multiaddr control_multiaddr(const ControlEndpoint& endpoint);

// Connects to a control endpoint within `timeout` (net_errc::timeout after).
net::awaitable<net::result<std::unique_ptr<net::ByteStream>>> connect_control(
    net::asio::any_io_executor executor, const ControlEndpoint& endpoint, net::Duration timeout);

}  // namespace keel::p2pd
