#include "keel/net/byte_stream.hpp"

namespace keel::net {

awaitable<error_code> read_exact(ByteStream& stream, std::span<std::uint8_t> buffer) {
    std::size_t done = stream.read_ready(buffer);
    while (done < buffer.size()) {
        auto n = co_await stream.read_some(buffer.subspan(done));
        if (!n) co_return n.error();
        done += *n;
    }
    co_return error_code{};
}

}  // namespace keel::net
