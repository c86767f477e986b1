// Unsigned varint: multiformats/unsigned-varint spec examples and its rules (9 bytes, minimal).
#include <gtest/gtest.h>

#include "keel/base/codec_errc.hpp"
#include "keel/base/hex.hpp"
#include "keel/base/varint.hpp"

namespace keel {
namespace {

Bytes hex(std::string_view h) {
    return *from_hex(h);
}

TEST(Varint, SpecExamples) {
    // From the unsigned-varint spec README.
    const std::pair<std::uint64_t, std::string_view> cases[] = {
        {1, "01"},     {127, "7f"},       {128, "8001"}, {255, "ff01"},
        {300, "ac02"}, {16384, "808001"}, {0, "00"},
    };
    for (const auto& [value, h] : cases) {
        Bytes out;
        append_uvarint(out, value);
        EXPECT_EQ(to_hex(out), h) << value;
        EXPECT_EQ(uvarint_size(value), out.size());
        auto d = decode_uvarint(out);
        ASSERT_TRUE(d) << value;
        EXPECT_EQ(d->value, value);
        EXPECT_EQ(d->length, out.size());
    }
}

TEST(Varint, MaxValueIsNineBytes) {
    const std::uint64_t max = (std::uint64_t{1} << 63) - 1;
    Bytes out;
    append_uvarint(out, max);
    EXPECT_EQ(out.size(), 9u);
    auto d = decode_uvarint(out);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->value, max);
}

TEST(Varint, DecodeStopsAtFirstVarint) {
    auto d = decode_uvarint(hex("ac02ff"));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->value, 300u);
    EXPECT_EQ(d->length, 2u);
}

TEST(Varint, Truncated) {
    EXPECT_EQ(decode_uvarint({}).error(), codec_errc::truncated);
    EXPECT_EQ(decode_uvarint(hex("80")).error(), codec_errc::truncated);
    EXPECT_EQ(decode_uvarint(hex("ffffff")).error(), codec_errc::truncated);
}

TEST(Varint, Overflow) {
    EXPECT_EQ(decode_uvarint(hex("ffffffffffffffffff")).error(), codec_errc::varint_overflow);
    EXPECT_EQ(decode_uvarint(hex("ffffffffffffffffff01")).error(), codec_errc::varint_overflow);
}

TEST(Varint, NotMinimal) {
    EXPECT_EQ(decode_uvarint(hex("8100")).error(), codec_errc::varint_not_minimal);
    EXPECT_EQ(decode_uvarint(hex("808000")).error(), codec_errc::varint_not_minimal);
}

TEST(CodecErrc, CategoryAndMessage) {
    const boost::system::error_code ec = codec_errc::truncated;
    EXPECT_STREQ(ec.category().name(), "keel.codec");
    EXPECT_EQ(ec.message(), "input truncated");
    EXPECT_TRUE(ec == codec_errc::truncated);
}

}  // namespace
}  // namespace keel
