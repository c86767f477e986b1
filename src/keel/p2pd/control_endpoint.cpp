#include "keel/p2pd/control_endpoint.hpp"

#include <boost/asio/connect.hpp>

#include "keel/host/tcp_address.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/tcp_stream.hpp"

namespace keel::p2pd {

namespace asio = net::asio;
using local = asio::local::stream_protocol;

net::result<ControlEndpoint> control_endpoint(const Multiaddr& addr) {
    if (const auto* unix_path = addr.find(proto_code::unix)) {
        if (addr.components().size() != 1)
            return make_error_code(net::net_errc::unsupported_address);
        std::string path(as_chars(unix_path->value));
        // sockaddr_un has room for about 107 bytes; asio would throw on a longer path.
        if (path.size() >= sizeof(sockaddr_un::sun_path))
            return make_error_code(net::net_errc::unsupported_address);
        return ControlEndpoint{local::endpoint(path)};
    }
    if (auto tcp = tcp_endpoint(addr); tcp && addr.components().size() == 2)
        return ControlEndpoint{*tcp};
    return make_error_code(net::net_errc::unsupported_address);
}

Multiaddr control_multiaddr(const ControlEndpoint& endpoint) {
    if (const auto* tcp = std::get_if<asio::ip::tcp::endpoint>(&endpoint))
        return tcp_multiaddr(*tcp);
    auto path = std::get<local::endpoint>(endpoint).path();
    return Multiaddr{}.with_component(proto_code::unix, to_bytes(path));
}

namespace {

template <typename Protocol>
net::awaitable<net::result<std::unique_ptr<net::ByteStream>>> connect_socket(
    asio::any_io_executor executor, typename Protocol::endpoint endpoint) {
    typename Protocol::socket socket(executor);
    auto [ec] = co_await socket.async_connect(endpoint, net::use_result);
    if (ec) co_return ec;
    co_return std::make_unique<net::SocketStream<Protocol>>(std::move(socket));
}

}  // namespace

net::awaitable<net::result<std::unique_ptr<net::ByteStream>>> connect_control(
    asio::any_io_executor executor, const ControlEndpoint& endpoint, net::Duration timeout) {
    if (const auto* tcp = std::get_if<asio::ip::tcp::endpoint>(&endpoint))
        co_return co_await net::with_deadline(connect_socket<asio::ip::tcp>(executor, *tcp),
                                              timeout);
    co_return co_await net::with_deadline(
        connect_socket<local>(executor, std::get<local::endpoint>(endpoint)), timeout);
}

}  // namespace keel::p2pd
