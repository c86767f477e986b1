#include "keel/protocols/echo.hpp"

#include "keel/net/deadline.hpp"

namespace keel::protocols {

net::awaitable<void> serve_echo(net::ByteStream& stream, net::Duration idle_timeout) {
    std::array<std::uint8_t, 16 * 1024> buffer{};
    while (true) {
        auto n = co_await net::with_deadline(stream.read_some(buffer), idle_timeout);
        if (!n) break;  // eof: the dialer is done; anything else: give up on this stream
        if (co_await stream.write_all(BytesView(buffer.data(), *n))) co_return;
    }
    co_await stream.close_write();
}

}  // namespace keel::protocols
