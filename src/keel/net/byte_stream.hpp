#pragma once
// A reliable, ordered byte stream: a TCP socket, a Noise session over it, or one Yamux stream.
// Each layer of the upgrade wraps the one below through this interface. One reader and one writer
// at a time; the two may run concurrently.
#include <functional>
#include <span>

#include "keel/base/bytes.hpp"
#include "keel/net/asio.hpp"

namespace keel::net {

class ByteStream {
  public:
    virtual ~ByteStream() = default;
    // Reads at least one byte. End of stream is asio::error::eof.
    virtual awaitable<result<std::size_t>> read_some(std::span<std::uint8_t> buffer) = 0;
    virtual awaitable<error_code> write_all(BytesView data) = 0;
    // Half-close: no more writes from us; the peer still may write.
    virtual awaitable<error_code> close_write() = 0;
    // Abort both directions at once; pending operations complete with an error.
    virtual void reset() = 0;
    virtual asio::any_io_executor get_executor() = 0;
    // Bytes a read_some would return without waiting (already received and buffered here), or 0
    // when that is not known. Lets a reply wait for what is already there, to go in one write.
    virtual std::size_t ready_to_read() const { return 0; }
    // Takes up to buffer.size() of those bytes now, without waiting, and returns how many (0 for
    // a stream that keeps no buffer). The same bytes, in the same order, as read_some would
    // return first. Why: most messages arrive whole in one segment, and taking them here costs
    // no suspension and no coroutine frame per layer (read_exact and the framing use it first).
    virtual std::size_t read_ready(std::span<std::uint8_t> buffer) {
        (void)buffer;
        return 0;
    }
};

// What a protocol negotiated lazily (multistream.hpp) adds to a stream: `send` goes out in the
// same write as the first data, `receive` takes the answer to it off before the first read.
struct Preamble {
    Bytes send;
    std::function<awaitable<error_code>(ByteStream&)> receive;
};

// Fills the whole buffer or fails (eof mid-way is an error too).
awaitable<error_code> read_exact(ByteStream& stream, std::span<std::uint8_t> buffer);

}  // namespace keel::net
