#include "keel/net/framing.hpp"

#include "keel/base/varint.hpp"
#include "keel/net/net_errc.hpp"

namespace keel::net {

awaitable<result<std::uint64_t>> read_uvarint(ByteStream& stream) {
    std::array<std::uint8_t, max_uvarint_size> bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (auto ec = co_await read_exact(stream, std::span(bytes).subspan(i, 1))) co_return ec;
        if ((bytes[i] & 0x80) == 0) {
            auto decoded = decode_uvarint(BytesView(bytes.data(), i + 1));
            if (!decoded) co_return make_error_code(net_errc::malformed_message);
            co_return decoded->value;
        }
    }
    co_return make_error_code(net_errc::malformed_message);
}

awaitable<result<Bytes>> read_length_prefixed(ByteStream& stream, std::size_t max_size) {
    auto length = co_await read_uvarint(stream);
    if (!length) co_return length.error();
    if (*length > max_size) co_return make_error_code(net_errc::message_too_large);
    Bytes message(static_cast<std::size_t>(*length));
    if (auto ec = co_await read_exact(stream, message)) co_return ec;
    co_return message;
}

Bytes length_prefixed(BytesView message) {
    Bytes out;
    out.reserve(message.size() + uvarint_size(message.size()));
    append_uvarint(out, message.size());
    out.insert(out.end(), message.begin(), message.end());
    return out;
}

awaitable<error_code> write_length_prefixed(ByteStream& stream, BytesView message) {
    co_return co_await stream.write_all(length_prefixed(message));
}

}  // namespace keel::net
