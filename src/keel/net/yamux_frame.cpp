#include "keel/net/yamux_frame.hpp"

namespace keel::net::yamux {
namespace {

void put32(std::uint8_t* at, std::uint32_t v) {
    at[0] = static_cast<std::uint8_t>(v >> 24);
    at[1] = static_cast<std::uint8_t>(v >> 16);
    at[2] = static_cast<std::uint8_t>(v >> 8);
    at[3] = static_cast<std::uint8_t>(v);
}

std::uint32_t get32(const std::uint8_t* at) {
    return std::uint32_t{at[0]} << 24 | std::uint32_t{at[1]} << 16 | std::uint32_t{at[2]} << 8 |
           std::uint32_t{at[3]};
}

}  // namespace

std::array<std::uint8_t, header_size> FrameHeader::encode() const {
    std::array<std::uint8_t, header_size> out{};
    out[0] = protocol_version;
    out[1] = static_cast<std::uint8_t>(type);
    out[2] = static_cast<std::uint8_t>(flags >> 8);
    out[3] = static_cast<std::uint8_t>(flags);
    put32(&out[4], stream_id);
    put32(&out[8], length);
    return out;
}

std::optional<FrameHeader> FrameHeader::decode(const std::array<std::uint8_t, header_size>& bytes) {
    if (bytes[0] != protocol_version || bytes[1] > static_cast<std::uint8_t>(FrameType::go_away))
        return std::nullopt;
    FrameHeader h;
    h.type = static_cast<FrameType>(bytes[1]);
    h.flags = static_cast<std::uint16_t>(bytes[2] << 8 | bytes[3]);
    h.stream_id = get32(&bytes[4]);
    h.length = get32(&bytes[8]);
    return h;
}

}  // namespace keel::net::yamux
