#pragma once
// The 12-byte Yamux frame header (github.com/hashicorp/yamux spec.md, as used by libp2p):
// version(8) type(8) flags(16) stream id(32) length(32), all big-endian.
#include <array>
#include <cstdint>
#include <optional>

namespace keel::net::yamux {

enum class FrameType : std::uint8_t { data = 0, window_update = 1, ping = 2, go_away = 3 };

namespace flag {
inline constexpr std::uint16_t syn = 0x1;
inline constexpr std::uint16_t ack = 0x2;
inline constexpr std::uint16_t fin = 0x4;
inline constexpr std::uint16_t rst = 0x8;
}  // namespace flag

enum class GoAwayCode : std::uint32_t { normal = 0, protocol_error = 1, internal_error = 2 };

inline constexpr std::size_t header_size = 12;
inline constexpr std::uint8_t protocol_version = 0;

struct FrameHeader {
    FrameType type = FrameType::data;
    std::uint16_t flags = 0;
    std::uint32_t stream_id = 0;
    std::uint32_t length = 0;

    std::array<std::uint8_t, header_size> encode() const;
    // nullopt for an unknown version or type: the caller ends the session with a protocol error.
    static std::optional<FrameHeader> decode(const std::array<std::uint8_t, header_size>& bytes);
};

}  // namespace keel::net::yamux
