#pragma once
// Joins two byte streams: what one side reads the other writes, both ways at once. The daemon uses
// it to hand a libp2p stream to a control-socket client, the relay to join a circuit's two halves.
// An end of stream on one side becomes a half-close (close_write) on the other; an error on either
// side resets both.
#include <optional>

#include "keel/net/byte_stream.hpp"

namespace keel::net {

struct PipeLimits {
    Duration idle_timeout;                 // nothing moved either way for this long
    std::optional<Duration> max_duration;  // since the pipe started
    std::uint64_t max_bytes_each_way = 0;  // 0: no limit
};

enum class PipeEnd { closed, idle, duration, bytes };
inline constexpr PipeEnd all_pipe_ends[] = {PipeEnd::closed, PipeEnd::idle, PipeEnd::duration,
                                            PipeEnd::bytes};
// "closed", "idle", "duration", "bytes".
std::string_view pipe_end_name(PipeEnd end);

struct PipeResult {
    std::uint64_t a_to_b = 0;  // bytes copied
    std::uint64_t b_to_a = 0;
    PipeEnd end = PipeEnd::closed;
    bool idle_timeout = false;  // end == PipeEnd::idle
};

// Returns once both directions have ended, or when a limit is reached (then both streams are
// reset): an abandoned pipe does not hold its streams forever, and a relayed circuit cannot carry
// more than it was granted. A direction that would pass max_bytes_each_way copies up to it and
// then resets both.
awaitable<PipeResult> pipe_streams(ByteStream& a, ByteStream& b, PipeLimits limits);
inline awaitable<PipeResult> pipe_streams(ByteStream& a, ByteStream& b, Duration idle_timeout) {
    return pipe_streams(a, b, PipeLimits{idle_timeout, std::nullopt, 0});
}

}  // namespace keel::net
