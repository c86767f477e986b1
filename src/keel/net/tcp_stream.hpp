#pragma once
// A TCP socket as a ByteStream, with a small read-ahead buffer so that the byte-sized reads of
// multistream-select and Noise's 2-byte length prefixes do not each cost a system call.
#include <array>
#include <boost/asio/ip/tcp.hpp>

#include "keel/net/byte_stream.hpp"

namespace keel::net {

class TcpStream final : public ByteStream {
  public:
    explicit TcpStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

    awaitable<result<std::size_t>> read_some(std::span<std::uint8_t> buffer) override;
    awaitable<error_code> write_all(BytesView data) override;
    awaitable<error_code> close_write() override;
    void reset() override;
    asio::any_io_executor get_executor() override { return socket_.get_executor(); }

    asio::ip::tcp::socket& socket() { return socket_; }

  private:
    static constexpr std::size_t read_ahead_size = 4096;
    asio::ip::tcp::socket socket_;
    std::array<std::uint8_t, read_ahead_size> read_ahead_{};
    std::size_t ahead_begin_ = 0;
    std::size_t ahead_end_ = 0;
};

}  // namespace keel::net
