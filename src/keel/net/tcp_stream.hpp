#pragma once
// A stream socket (TCP, or a unix socket for the daemon's control connections) as a ByteStream,
// with a small read-ahead buffer so that the byte-sized reads of multistream-select and Noise's
// 2-byte length prefixes do not each cost a system call. A write is tried at once (the socket is
// non-blocking) and only what the kernel does not take waits: most writes fit in the send buffer
// and then cost no suspension of the writer.
#include <array>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "keel/net/byte_stream.hpp"

namespace keel::net {

template <typename Protocol>
class SocketStream final : public ByteStream {
  public:
    using socket_type = typename Protocol::socket;
    explicit SocketStream(socket_type socket);

    awaitable<result<std::size_t>> read_some(std::span<std::uint8_t> buffer) override;
    awaitable<error_code> write_all(BytesView data) override;
    awaitable<error_code> close_write() override;
    void reset() override;
    asio::any_io_executor get_executor() override { return socket_.get_executor(); }
    std::size_t ready_to_read() const override { return ahead_end_ - ahead_begin_; }
    std::size_t read_ready(std::span<std::uint8_t> buffer) override;

    socket_type& socket() { return socket_; }

  private:
    static constexpr std::size_t read_ahead_size = 4096;
    socket_type socket_;
    std::array<std::uint8_t, read_ahead_size> read_ahead_{};
    std::size_t ahead_begin_ = 0;
    std::size_t ahead_end_ = 0;
};

// Both are instantiated once, in tcp_stream.cpp.
extern template class SocketStream<asio::ip::tcp>;
extern template class SocketStream<asio::local::stream_protocol>;
using TcpStream = SocketStream<asio::ip::tcp>;
using UnixStream = SocketStream<asio::local::stream_protocol>;

}  // namespace keel::net
