#include "keel/base/hex.hpp"

#include <gtest/gtest.h>

namespace keel {
namespace {

TEST(Hex, RoundTrip) {
    Bytes data{0x00, 0x01, 0xab, 0xff};
    EXPECT_EQ(to_hex(data), "0001abff");
    EXPECT_EQ(from_hex("0001ABff"), data);
}

TEST(Hex, RejectsOddLengthAndNonHex) {
    EXPECT_FALSE(from_hex("abc"));
    EXPECT_FALSE(from_hex("zz"));
}

}  // namespace
}  // namespace keel
