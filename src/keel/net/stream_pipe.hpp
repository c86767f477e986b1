#pragma once
// Joins two byte streams: what one side reads the other writes, both ways at once. The daemon uses
// it to hand a libp2p stream to a control-socket client. An end of stream on one side becomes a
// half-close (close_write) on the other; an error on either side resets both.
#include "keel/net/byte_stream.hpp"

namespace keel::net {

struct PipeResult {
    std::uint64_t a_to_b = 0;  // bytes copied
    std::uint64_t b_to_a = 0;
    bool idle_timeout = false;  // ended because nothing moved for idle_timeout
};

// Returns once both directions have ended, or after `idle_timeout` without a byte moving either
// way (then both streams are reset): an abandoned pipe does not hold its streams forever.
awaitable<PipeResult> pipe_streams(ByteStream& a, ByteStream& b, Duration idle_timeout);

}  // namespace keel::net
