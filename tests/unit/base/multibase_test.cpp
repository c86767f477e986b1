// Multibase: vectors from the multiformats/multibase spec test files ("yes mani !").
#include <gtest/gtest.h>

#include "keel/base/codec_errc.hpp"
#include "keel/base/hex.hpp"
#include "keel/base/multibase.hpp"
#include "keel/base/sha256.hpp"

namespace keel {
namespace {

const Bytes yes_mani = to_bytes("yes mani !");

TEST(Multibase, SpecVectors) {
    EXPECT_EQ(multibase_encode(Multibase::base58btc, yes_mani), "z7paNL19xttacUY");
    EXPECT_EQ(multibase_encode(Multibase::base32, yes_mani), "bpfsxgidnmfxgsibb");
    EXPECT_EQ(multibase_encode(Multibase::base36, yes_mani), "k2lcpzo5yikidynfl");
    for (auto text : {"z7paNL19xttacUY", "bpfsxgidnmfxgsibb", "BPFSXGIDNMFXGSIBB",
                      "k2lcpzo5yikidynfl", "K2LCPZO5YIKIDYNFL"}) {
        auto d = multibase_decode(text);
        ASSERT_TRUE(d) << text;
        EXPECT_EQ(*d, yes_mani) << text;
    }
}

TEST(Multibase, LeadingZerosSurvive) {
    Bytes data = yes_mani;
    data.insert(data.begin(), 2, 0);
    EXPECT_EQ(base58btc_encode(data), "117paNL19xttacUY");
    EXPECT_EQ(base36_encode(data), "002lcpzo5yikidynfl");
    EXPECT_EQ(*base58btc_decode("117paNL19xttacUY"), data);
    EXPECT_EQ(*base36_decode("002lcpzo5yikidynfl"), data);
    EXPECT_EQ(base58btc_encode(Bytes{0}), "1");
    EXPECT_EQ(base58btc_encode({}), "");
    EXPECT_TRUE(base58btc_decode("")->empty());
}

TEST(Multibase, Base32Rfc4648) {
    // RFC 4648 section 10, lower-cased and unpadded.
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"", ""},
        {"f", "my"},
        {"fo", "mzxq"},
        {"foo", "mzxw6"},
        {"foob", "mzxw6yq"},
        {"fooba", "mzxw6ytb"},
        {"foobar", "mzxw6ytboi"},
    };
    for (const auto& [plain, encoded] : cases) {
        EXPECT_EQ(base32_encode(as_bytes(plain)), encoded);
        auto d = base32_decode(encoded);
        ASSERT_TRUE(d) << encoded;
        EXPECT_EQ(as_chars(*d), plain);
    }
}

TEST(Multibase, RoundTripsRandomishData) {
    for (std::size_t n = 0; n < 70; ++n) {
        Bytes data(n);
        auto h = sha256(as_bytes(std::to_string(n)));
        for (std::size_t i = 0; i < n; ++i) data[i] = h[i % 32] & (i % 3 ? 0xff : 0x00);
        for (auto base : {Multibase::base58btc, Multibase::base32, Multibase::base36}) {
            auto d = multibase_decode(multibase_encode(base, data));
            ASSERT_TRUE(d);
            EXPECT_EQ(*d, data);
        }
    }
}

TEST(Multibase, Errors) {
    EXPECT_EQ(multibase_decode("").error(), codec_errc::truncated);
    EXPECT_EQ(multibase_decode("m eWVz").error(), codec_errc::unsupported_multibase);
    EXPECT_EQ(multibase_decode("f796573").error(), codec_errc::unsupported_multibase);
    EXPECT_EQ(base58btc_decode("0OIl").error(), codec_errc::invalid_character);
    EXPECT_EQ(base36_decode("abc!").error(), codec_errc::invalid_character);
    EXPECT_EQ(base32_decode("mzxw1").error(), codec_errc::invalid_character);
    EXPECT_EQ(base32_decode("m").error(), codec_errc::length_mismatch);
    EXPECT_EQ(base32_decode("mz").error(), codec_errc::invalid_character);  // non-zero pad bits
    EXPECT_EQ(base58btc_decode(std::string(5000, '2')).error(), codec_errc::too_long);
    EXPECT_EQ(multibase_decode("z" + std::string(5000, '2')).error(), codec_errc::too_long);
}

TEST(Sha256, KnownDigests) {
    // FIPS 180-2 examples.
    EXPECT_EQ(to_hex(sha256({})),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(to_hex(sha256(as_bytes("abc"))),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace keel
