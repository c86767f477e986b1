#include "keel/relay/circuit_stream.hpp"

namespace keel::relay {

CircuitStream::CircuitStream(std::shared_ptr<net::YamuxStream> stream)
    : stream_(std::move(stream)), ended_(std::make_shared<net::Signal>(stream_->get_executor())) {}

CircuitStream::~CircuitStream() {
    stream_->reset();
    ended_->fire();
}

net::awaitable<net::result<std::size_t>> CircuitStream::read_some(std::span<std::uint8_t> buffer) {
    auto n = co_await stream_->read_some(buffer);
    if (!n) ended_->fire();
    co_return n;
}

net::awaitable<net::error_code> CircuitStream::write_all(BytesView data) {
    co_return co_await stream_->write_all(data);
}

net::awaitable<net::error_code> CircuitStream::close_write() {
    co_return co_await stream_->close_write();
}

void CircuitStream::reset() {
    stream_->reset();
    ended_->fire();
}

}  // namespace keel::relay
