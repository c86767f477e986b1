#include "keel/net/socket_records.hpp"

#include <vector>

#include <boost/asio/ip/tcp.hpp>

namespace keel::net {

std::size_t reserve_socket_records(asio::any_io_executor executor, std::size_t count) {
    std::vector<asio::ip::tcp::socket> sockets;
    sockets.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        asio::ip::tcp::socket socket(executor);
        error_code ec;
        socket.open(asio::ip::tcp::v4(), ec);  // registers the descriptor: one record
        if (ec) break;
        sockets.push_back(std::move(socket));
    }
    return sockets.size();  // closed on the way out: the records go back to the pool
}

}  // namespace keel::net
