#include "keel/net/framing.hpp"

#include <algorithm>

#include "keel/base/varint.hpp"
#include "keel/net/net_errc.hpp"

namespace keel::net {

namespace {

using UvarintBytes = std::array<std::uint8_t, max_uvarint_size>;

bool uvarint_complete(const UvarintBytes& bytes, std::size_t have) {
    return have > 0 && (bytes[have - 1] & 0x80) == 0;
}

// Takes the uvarint's bytes that are already here, after the first `have`, up to its last one;
// returns how many it has then.
std::size_t take_ready_uvarint(ByteStream& stream, UvarintBytes& bytes, std::size_t have) {
    while (!uvarint_complete(bytes, have) && have < bytes.size() &&
           stream.read_ready(std::span(bytes).subspan(have, 1)) == 1)
        ++have;
    return have;
}

result<std::uint64_t> decode_taken(const UvarintBytes& bytes, std::size_t have) {
    auto decoded = decode_uvarint(BytesView(bytes.data(), have));
    if (!decoded) return make_error_code(net_errc::malformed_message);
    return decoded->value;
}

// The rest of a uvarint whose first `have` bytes are taken, byte by byte.
awaitable<result<std::uint64_t>> finish_uvarint(ByteStream& stream, UvarintBytes bytes,
                                                std::size_t have) {
    while (!uvarint_complete(bytes, have)) {
        if (have == bytes.size()) co_return make_error_code(net_errc::malformed_message);
        if (auto ec = co_await read_exact(stream, std::span(bytes).subspan(have, 1))) co_return ec;
        have = take_ready_uvarint(stream, bytes, have + 1);
    }
    co_return decode_taken(bytes, have);
}

}  // namespace

awaitable<result<std::uint64_t>> read_uvarint(ByteStream& stream) {
    UvarintBytes bytes{};
    std::size_t have = take_ready_uvarint(stream, bytes, 0);
    if (uvarint_complete(bytes, have)) co_return decode_taken(bytes, have);
    co_return co_await finish_uvarint(stream, bytes, have);
}

awaitable<result<Bytes>> read_length_prefixed(ByteStream& stream, std::size_t max_size) {
    // A message that came whole costs this coroutine alone.
    UvarintBytes bytes{};
    std::size_t have = take_ready_uvarint(stream, bytes, 0);
    result<std::uint64_t> length = make_error_code(net_errc::malformed_message);
    if (uvarint_complete(bytes, have))
        length = decode_taken(bytes, have);
    else
        length = co_await finish_uvarint(stream, bytes, have);
    if (!length) co_return length.error();
    if (*length > max_size) co_return make_error_code(net_errc::message_too_large);
    // The buffer grows with the bytes that arrive, not with the length announced: a peer that
    // names 1 MiB on each of 512 streams and sends nothing more must not make us hold 512 MiB.
    // Held at most: twice what arrived, plus the first chunk.
    const auto total = static_cast<std::size_t>(*length);
    Bytes message(std::min(total, first_read_chunk));
    std::size_t filled = 0;
    while (true) {
        filled += stream.read_ready(std::span(message).subspan(filled));
        if (filled < message.size()) {
            if (auto ec = co_await read_exact(stream, std::span(message).subspan(filled)))
                co_return ec;
            filled = message.size();
        }
        if (filled == total) co_return message;
        message.resize(std::min(total, 2 * message.size()));
    }
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
