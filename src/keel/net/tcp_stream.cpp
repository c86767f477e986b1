#include "keel/net/tcp_stream.hpp"

#include <algorithm>
#include <boost/asio/write.hpp>
#include <cstring>
#include <type_traits>

namespace keel::net {

template <typename Protocol>
SocketStream<Protocol>::SocketStream(socket_type socket) : socket_(std::move(socket)) {
    error_code ignored;  // if it fails, every write just takes the asynchronous way
    socket_.non_blocking(true, ignored);
}

template <typename Protocol>
awaitable<result<std::size_t>> SocketStream<Protocol>::read_some(std::span<std::uint8_t> buffer) {
    if (buffer.empty()) co_return std::size_t{0};
    if (ahead_begin_ == ahead_end_) {
        // Large reads go straight to the caller's buffer; small ones fill the read-ahead.
        if (buffer.size() >= read_ahead_size) {
            auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer), use_result);
            if (ec) co_return ec;
            co_return n;
        }
        auto [ec, n] = co_await socket_.async_read_some(asio::buffer(read_ahead_), use_result);
        if (ec) co_return ec;
        ahead_begin_ = 0;
        ahead_end_ = n;
    }
    co_return read_ready(buffer);
}

template <typename Protocol>
std::size_t SocketStream<Protocol>::read_ready(std::span<std::uint8_t> buffer) {
    std::size_t n = std::min(buffer.size(), ahead_end_ - ahead_begin_);
    if (n > 0) std::memcpy(buffer.data(), read_ahead_.data() + ahead_begin_, n);
    ahead_begin_ += n;
    return n;
}

template <typename Protocol>
awaitable<error_code> SocketStream<Protocol>::write_all(BytesView data) {
    if (socket_.non_blocking()) {
        error_code ec;
        std::size_t sent = socket_.write_some(asio::buffer(data.data(), data.size()), ec);
        if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return ec;
        data = data.subspan(ec ? 0 : sent);
        if (data.empty()) co_return error_code{};
    }
    auto [ec, n] =
        co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()), use_result);
    (void)n;
    co_return ec;
}

template <typename Protocol>
awaitable<error_code> SocketStream<Protocol>::close_write() {
    error_code ec;
    socket_.shutdown(asio::socket_base::shutdown_send, ec);
    co_return ec;
}

template <typename Protocol>
void SocketStream<Protocol>::reset() {
    error_code ignored;
    // A reset, not an orderly close: TCP sends RST (unix sockets have no such thing).
    if constexpr (std::is_same_v<Protocol, asio::ip::tcp>)
        socket_.set_option(asio::socket_base::linger(true, 0), ignored);
    socket_.close(ignored);
}

template class SocketStream<asio::ip::tcp>;
template class SocketStream<asio::local::stream_protocol>;

}  // namespace keel::net
