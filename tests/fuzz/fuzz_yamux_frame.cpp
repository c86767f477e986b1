// The 12-byte Yamux frame header. Properties: decode accepts only version 0 and the four frame
// types, and encode(decode(b)) == b for every accepted header (no field is lost or normalised).
#include "fuzz_util.hpp"
#include "keel/net/yamux_frame.hpp"

using namespace keel::net::yamux;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < header_size) return 0;
    std::array<std::uint8_t, header_size> bytes{};
    std::copy_n(data, header_size, bytes.begin());
    auto header = FrameHeader::decode(bytes);
    if (!header) return 0;
    KEEL_FUZZ_CHECK(bytes[0] == protocol_version);
    KEEL_FUZZ_CHECK(static_cast<std::uint8_t>(header->type) <= 3);
    KEEL_FUZZ_CHECK(header->encode() == bytes);
    return 0;
}
