#pragma once
// A stream socket (TCP, or a unix socket for the daemon's control connections) as a ByteStream,
// with a small read-ahead buffer so that the byte-sized reads of multistream-select and Noise's
// 2-byte length prefixes do not each cost a system call. A write is tried at once (the socket is
// non-blocking) and only what the kernel does not take waits: most writes fit in the send buffer
// and then cost no suspension of the writer.
#include <array>
#include <cstdint>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "keel/net/byte_stream.hpp"

namespace keel::net {

template <typename Protocol>
class SocketStream final : public ByteStream {
  public:
    using socket_type = typename Protocol::socket;
    explicit SocketStream(socket_type socket);
    ~SocketStream() override;
    SocketStream(const SocketStream&) = delete;
    SocketStream& operator=(const SocketStream&) = delete;

    awaitable<result<std::size_t>> read_some(std::span<std::uint8_t> buffer) override;
    awaitable<error_code> write_all(BytesView data) override;
    awaitable<error_code> close_write() override;
    void reset() override;
    asio::any_io_executor get_executor() override { return socket_.get_executor(); }
    std::size_t ready_to_read() const override { return ahead_end_ - ahead_begin_; }
    std::size_t read_ready(std::span<std::uint8_t> buffer) override;

    socket_type& socket() { return socket_; }

    // The upgrade's deadline (multistream, Noise, the muxer's negotiation), as
    // YamuxStream::set_deadline: once it passes, a read or write that has to wait ends with
    // net_errc::timeout, until it is set again (time_point::max() for none). One timer for the
    // whole handshake, where with_deadline would run it in a parallel group.
    void set_deadline(Clock::time_point deadline);

  private:
    // What the timer's completion reaches: the stream, or nothing once it is gone. A timer that
    // has already fired cannot be cancelled, so its completion may run after the stream died or
    // after the deadline was moved; `generation` tells the latter.
    struct DeadlineLink {
        SocketStream* stream = nullptr;
        std::uint64_t generation = 0;
    };
    void deadline_passed();
    error_code waited(error_code ec) const;

    static constexpr std::size_t read_ahead_size = 4096;
    socket_type socket_;
    std::array<std::uint8_t, read_ahead_size> read_ahead_{};
    std::size_t ahead_begin_ = 0;
    std::size_t ahead_end_ = 0;
    asio::steady_timer deadline_timer_;
    std::shared_ptr<DeadlineLink> deadline_link_;  // made by the first set_deadline
    bool deadline_passed_ = false;
};

// Both are instantiated once, in tcp_stream.cpp.
extern template class SocketStream<asio::ip::tcp>;
extern template class SocketStream<asio::local::stream_protocol>;
using TcpStream = SocketStream<asio::ip::tcp>;
using UnixStream = SocketStream<asio::local::stream_protocol>;

}  // namespace keel::net
