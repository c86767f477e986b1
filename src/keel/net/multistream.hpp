#pragma once
// multistream-select 1.0 (github.com/multiformats/multistream-select): how both ends of a
// connection or stream agree on the protocol that follows. Messages are uvarint-length-prefixed
// and end in '\n'. The dialer pipelines its header with its first proposal (one round trip when the
// listener agrees); the listener reads exactly one message at a time, so data a dialer sends
// optimistically after its proposal stays in the stream for the protocol.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/net/byte_stream.hpp"

namespace keel::net {

inline constexpr std::string_view multistream_header = "/multistream/1.0.0";
// Protocol IDs are short; 1 KiB bounds every multistream message including `ls` answers.
inline constexpr std::size_t max_multistream_message = 1024;
// How many "na" answers a listener gives before it hangs up on a dialer that keeps guessing.
inline constexpr std::size_t max_multistream_proposals = 32;

// Dialer side: proposes `protocols` in order, returns the one the listener accepted.
awaitable<result<std::string>> multistream_select(ByteStream& stream,
                                                  const std::vector<std::string>& protocols);

// A lazy dialer (0-RTT; go-libp2p opens streams so for a protocol the peer announced, and
// rust-libp2p's dialer negotiates its security protocol so, `Version::V1Lazy`): one that proposes
// a single protocol settles on it at once. Its header and proposal go out in the same write as
// the protocol's first message, and before the protocol's first read it takes the listener's
// header and echo off ("na": protocol_not_supported).
Preamble multistream_lazy(std::string protocol);

// When the listener may hold its answer to the accepted proposal back (in `held_answer`), for
// the protocol's first write to take along: one frame and one segment instead of two.
enum class HoldAnswer {
    // Only when the dialer already sent more (a lazy dialer's first message): for a transport
    // that cannot send the answer by itself before the protocol waits to read (TCP before Noise:
    // a dialer that waits for the answer would wait for ever).
    if_pipelined,
    // Always: for a stream that sends what is held before it waits to read (a YamuxStream's
    // preamble), so a dialer that waits for the answer gets it in time.
    always,
};

// Listener side: answers proposals until one is supported; returns it. With `held_answer`, the
// answer to the accepted proposal is left there (as `hold` says) instead of written.
awaitable<result<std::string>> multistream_handle(
    ByteStream& stream, const std::function<bool(std::string_view)>& supported,
    Bytes* held_answer = nullptr, HoldAnswer hold = HoldAnswer::if_pipelined);

}  // namespace keel::net
