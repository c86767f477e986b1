#include "keel/protocols/ping.hpp"

#include <sodium.h>

#include "keel/net/deadline.hpp"
#include "keel/net/net_errc.hpp"

namespace keel::protocols {

net::awaitable<void> serve_ping(net::ByteStream& stream, net::Duration idle_timeout) {
    std::array<std::uint8_t, ping_payload_size> payload{};
    while (true) {
        auto ec = co_await net::with_deadline(net::read_exact(stream, payload), idle_timeout);
        if (ec) break;
        if (co_await stream.write_all(payload)) break;
    }
    co_await stream.close_write();
}

net::awaitable<net::result<net::Clock::duration>> ping_once(net::ByteStream& stream) {
    std::array<std::uint8_t, ping_payload_size> sent{}, received{};
    randombytes_buf(sent.data(), sent.size());
    auto start = net::Clock::now();
    if (auto ec = co_await stream.write_all(sent)) co_return ec;
    if (auto ec = co_await net::read_exact(stream, received)) co_return ec;
    if (sent != received) co_return make_error_code(net::net_errc::malformed_message);
    co_return net::Clock::now() - start;
}

}  // namespace keel::protocols
