#pragma once
// A relayed circuit as the byte stream under a connection: one Yamux stream of our connection to
// the relay (HOP or STOP), shared with the handler that opened it. `ended()` lets that handler
// wait for the circuit to end: the Host closes a stream once its handler returns.
#include <memory>

#include "keel/net/signal.hpp"
#include "keel/net/yamux_stream.hpp"

namespace keel::relay {

class CircuitStream final : public net::ByteStream {
  public:
    explicit CircuitStream(std::shared_ptr<net::YamuxStream> stream);
    ~CircuitStream() override;

    net::awaitable<net::result<std::size_t>> read_some(std::span<std::uint8_t> buffer) override;
    net::awaitable<net::error_code> write_all(BytesView data) override;
    net::awaitable<net::error_code> close_write() override;
    void reset() override;
    net::asio::any_io_executor get_executor() override { return stream_->get_executor(); }

    // Fires once the circuit cannot carry data any more: a read failed (the peer or the relay
    // went away), reset(), or this stream was destroyed with its connection.
    std::shared_ptr<net::Signal> ended() const { return ended_; }

  private:
    std::shared_ptr<net::YamuxStream> stream_;
    std::shared_ptr<net::Signal> ended_;
};

}  // namespace keel::relay
