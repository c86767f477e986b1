#pragma once
// Unsigned-varint length-prefixed messages, the framing of multistream-select, identify and most
// libp2p protocols. The length is checked against the caller's named limit before allocating.
#include "keel/net/byte_stream.hpp"

namespace keel::net {

// Reads one uvarint byte by byte, so that nothing past it is consumed.
awaitable<result<std::uint64_t>> read_uvarint(ByteStream& stream);
// Memory follows the bytes that arrive: the first `first_read_chunk` bytes are allocated with the
// length, the rest as it comes (so a length up to `max_size` is a limit, not a reservation).
inline constexpr std::size_t first_read_chunk = 16 * 1024;
awaitable<result<Bytes>> read_length_prefixed(ByteStream& stream, std::size_t max_size);
// Prefixes the message with its length and writes both in one call.
awaitable<error_code> write_length_prefixed(ByteStream& stream, BytesView message);
Bytes length_prefixed(BytesView message);

}  // namespace keel::net
