#include "keel/net/tcp_stream.hpp"

#include <algorithm>
#include <boost/asio/write.hpp>
#include <cstring>
#include <type_traits>

#include "keel/net/net_errc.hpp"

namespace keel::net {

template <typename Protocol>
SocketStream<Protocol>::SocketStream(socket_type socket)
    : socket_(std::move(socket)), deadline_timer_(socket_.get_executor()) {
    error_code ignored;  // if it fails, every write just takes the asynchronous way
    socket_.non_blocking(true, ignored);
}

template <typename Protocol>
SocketStream<Protocol>::~SocketStream() {
    if (deadline_link_) deadline_link_->stream = nullptr;
}

template <typename Protocol>
void SocketStream<Protocol>::set_deadline(Clock::time_point deadline) {
    deadline_passed_ = false;
    if (!deadline_link_) {
        if (deadline == Clock::time_point::max()) return;
        deadline_link_ = std::make_shared<DeadlineLink>(DeadlineLink{this, 0});
    }
    auto generation = ++deadline_link_->generation;
    deadline_timer_.cancel();
    if (deadline == Clock::time_point::max()) return;
    deadline_timer_.expires_at(deadline);
    deadline_timer_.async_wait([link = deadline_link_, generation](error_code ec) {
        if (!ec && link->stream && link->generation == generation) link->stream->deadline_passed();
    });
}

template <typename Protocol>
void SocketStream<Protocol>::deadline_passed() {
    deadline_passed_ = true;
    error_code ignored;
    socket_.cancel(ignored);  // what waits ends now, as operation_aborted: waited() renames it
}

template <typename Protocol>
error_code SocketStream<Protocol>::waited(error_code ec) const {
    if (ec && deadline_passed_) return make_error_code(net_errc::timeout);
    return ec;
}

template <typename Protocol>
awaitable<result<std::size_t>> SocketStream<Protocol>::read_some(std::span<std::uint8_t> buffer) {
    if (buffer.empty()) co_return std::size_t{0};
    if (ahead_begin_ == ahead_end_) {
        if (deadline_passed_) co_return make_error_code(net_errc::timeout);
        // Large reads go straight to the caller's buffer; small ones fill the read-ahead.
        if (buffer.size() >= read_ahead_size) {
            auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer), use_result);
            if (ec) co_return waited(ec);
            co_return n;
        }
        auto [ec, n] = co_await socket_.async_read_some(asio::buffer(read_ahead_), use_result);
        if (ec) co_return waited(ec);
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
    if (deadline_passed_) co_return make_error_code(net_errc::timeout);
    auto [ec, n] =
        co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()), use_result);
    (void)n;
    co_return waited(ec);
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
