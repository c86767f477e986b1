#include "keel/net/yamux_frame.hpp"

#include <gtest/gtest.h>

namespace keel::net::yamux {
namespace {

using Raw = std::array<std::uint8_t, header_size>;

TEST(YamuxFrame, RoundTrip) {
    const FrameHeader cases[] = {
        {FrameType::data, 0, 1, 0},
        {FrameType::data, flag::fin, 3, 16 * 1024},
        {FrameType::window_update, flag::syn, 5, 0},
        {FrameType::window_update, flag::ack | flag::rst, 0xfffffffd, 0xffffffff},
        {FrameType::ping, flag::syn, 0, 0x12345678},
        {FrameType::ping, flag::ack, 0, 0x12345678},
        {FrameType::go_away, 0, 0, static_cast<std::uint32_t>(GoAwayCode::protocol_error)},
        {FrameType::data, 0xffff, 0x80000000, 0x80000000},
    };
    for (const auto& h : cases) {
        auto decoded = FrameHeader::decode(h.encode());
        ASSERT_TRUE(decoded);
        EXPECT_EQ(decoded->type, h.type);
        EXPECT_EQ(decoded->flags, h.flags);
        EXPECT_EQ(decoded->stream_id, h.stream_id);
        EXPECT_EQ(decoded->length, h.length);
        EXPECT_EQ(decoded->encode(), h.encode());
    }
}

TEST(YamuxFrame, UnknownVersionOrTypeIsRejected) {
    Raw ok = FrameHeader{FrameType::data, 0, 1, 4}.encode();
    ASSERT_TRUE(FrameHeader::decode(ok));

    Raw bad_version = ok;
    bad_version[0] = 1;
    EXPECT_FALSE(FrameHeader::decode(bad_version));
    bad_version[0] = 0xff;
    EXPECT_FALSE(FrameHeader::decode(bad_version));

    Raw bad_type = ok;
    bad_type[1] = 4;  // one past go_away
    EXPECT_FALSE(FrameHeader::decode(bad_type));
    bad_type[1] = 0xff;
    EXPECT_FALSE(FrameHeader::decode(bad_type));
}

// Byte layouts derived from hashicorp/yamux spec.md: Version(8) Type(8) Flags(16) StreamID(32)
// Length(32), network order.
TEST(YamuxFrame, ByteLayoutIsBigEndian) {
    // A stream opened with a window update: type 1, SYN, stream 1, delta 0.
    EXPECT_EQ((FrameHeader{FrameType::window_update, flag::syn, 1, 0}.encode()),
              (Raw{0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}));
    // 256 KiB of window granted on stream 2: length 0x00040000.
    EXPECT_EQ((FrameHeader{FrameType::window_update, 0, 2, 256 * 1024}.encode()),
              (Raw{0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00}));
    // Data frame with FIN|RST on a large stream ID, every byte distinct to catch swaps.
    EXPECT_EQ(
        (FrameHeader{FrameType::data, flag::fin | flag::rst, 0x01020304, 0x0a0b0c0d}.encode()),
        (Raw{0x00, 0x00, 0x00, 0x0c, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d}));
    // Ping ACK, opaque value in the length field.
    EXPECT_EQ((FrameHeader{FrameType::ping, flag::ack, 0, 0xdeadbeef}.encode()),
              (Raw{0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef}));
    // GoAway with the internal-error code.
    EXPECT_EQ((FrameHeader{FrameType::go_away, 0, 0, 2}.encode()),
              (Raw{0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02}));
    // Flags use both bytes: 0x0102 must come out high byte first.
    auto wide = FrameHeader{FrameType::data, 0x0102, 0, 0}.encode();
    EXPECT_EQ(wide[2], 0x01);
    EXPECT_EQ(wide[3], 0x02);

    auto decoded = FrameHeader::decode(
        Raw{0x00, 0x00, 0x00, 0x0c, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d});
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->type, FrameType::data);
    EXPECT_EQ(decoded->flags, flag::fin | flag::rst);
    EXPECT_EQ(decoded->stream_id, 0x01020304u);
    EXPECT_EQ(decoded->length, 0x0a0b0c0du);
}

}  // namespace
}  // namespace keel::net::yamux
