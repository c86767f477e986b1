#include "keel/noise/cipher_state.hpp"

#include <limits>

#include <gtest/gtest.h>

#include "keel/noise/constants.hpp"
#include "keel/noise/noise_errc.hpp"

namespace keel::noise {
namespace {

Key test_key(std::uint8_t fill) {
    Key k;
    k.fill(fill);
    return k;
}

TEST(NoiseCipherState, WithoutKeyPassesThrough) {
    CipherState c;
    EXPECT_FALSE(c.has_key());
    auto out = c.encrypt_with_ad(as_bytes("ad"), as_bytes("hello"));
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, to_bytes("hello"));
    EXPECT_EQ(c.nonce(), 0u);
}

TEST(NoiseCipherState, NonceIncrementsPerMessage) {
    CipherState send(test_key(7)), receive(test_key(7));
    for (std::uint64_t i = 0; i < 5; ++i) {
        EXPECT_EQ(send.nonce(), i);
        auto wire = send.encrypt_with_ad({}, as_bytes("x"));
        ASSERT_TRUE(wire);
        EXPECT_EQ(wire->size(), 1 + tag_size);
        auto plain = receive.decrypt_with_ad({}, *wire);
        ASSERT_TRUE(plain);
        EXPECT_EQ(receive.nonce(), i + 1);
    }
    // Same plaintext, different nonce: different ciphertext.
    CipherState a(test_key(7));
    auto first = a.encrypt_with_ad({}, as_bytes("x"));
    auto second = a.encrypt_with_ad({}, as_bytes("x"));
    EXPECT_NE(*first, *second);
}

TEST(NoiseCipherState, TamperedCiphertextFailsAndKeepsNonce) {
    CipherState send(test_key(1)), receive(test_key(1));
    auto wire = send.encrypt_with_ad(as_bytes("ad"), as_bytes("payload"));
    ASSERT_TRUE(wire);
    for (std::size_t i = 0; i < wire->size(); ++i) {
        Bytes bad = *wire;
        bad[i] ^= 0x01;
        auto r = receive.decrypt_with_ad(as_bytes("ad"), bad);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), noise_errc::decrypt_failed);
        EXPECT_EQ(receive.nonce(), 0u);
    }
    EXPECT_EQ(receive.decrypt_with_ad(as_bytes("other"), *wire).error(),
              noise_errc::decrypt_failed);
    auto ok = receive.decrypt_with_ad(as_bytes("ad"), *wire);
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, to_bytes("payload"));
    EXPECT_EQ(receive.nonce(), 1u);
}

TEST(NoiseCipherState, InPlaceRoundTrip) {
    CipherState send(test_key(2)), receive(test_key(2));
    Bytes buf = to_bytes("in place transport frame");
    const Bytes original = buf;
    std::size_t len = buf.size();
    buf.resize(len + tag_size);
    auto n = send.encrypt(BytesView(buf.data(), len), buf);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, len + tag_size);
    auto m = receive.decrypt(BytesView(buf.data(), *n), buf);
    ASSERT_TRUE(m);
    EXPECT_EQ(Bytes(buf.begin(), buf.begin() + *m), original);
}

TEST(NoiseCipherState, LengthChecks) {
    CipherState c(test_key(3));
    Bytes out(100);
    EXPECT_EQ(c.decrypt(Bytes(tag_size - 1), out).error(), noise_errc::message_too_short);
    EXPECT_EQ(c.encrypt(Bytes(10), std::span(out).first(10 + tag_size - 1)).error(),
              noise_errc::message_too_long);
    EXPECT_EQ(c.encrypt_with_ad({}, Bytes(max_message_size - tag_size + 1)).error(),
              noise_errc::message_too_long);
    EXPECT_EQ(c.decrypt_with_ad({}, Bytes(max_message_size + 1)).error(),
              noise_errc::message_too_long);
    EXPECT_EQ(c.nonce(), 0u);
    auto largest = c.encrypt_with_ad({}, Bytes(max_message_size - tag_size));
    ASSERT_TRUE(largest);
    EXPECT_EQ(largest->size(), max_message_size);
    // An empty plaintext still carries a tag.
    auto empty = c.encrypt_with_ad({}, {});
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->size(), tag_size);
}

TEST(NoiseCipherState, NonceExhausted) {
    CipherState send(test_key(4)), receive(test_key(4));
    send.set_nonce(std::numeric_limits<std::uint64_t>::max() - 1);
    receive.set_nonce(std::numeric_limits<std::uint64_t>::max() - 1);
    auto last = send.encrypt_with_ad({}, as_bytes("last"));
    ASSERT_TRUE(last);
    ASSERT_TRUE(receive.decrypt_with_ad({}, *last));
    EXPECT_EQ(send.encrypt_with_ad({}, as_bytes("one more")).error(), noise_errc::nonce_exhausted);
    EXPECT_EQ(receive.decrypt_with_ad({}, *last).error(), noise_errc::nonce_exhausted);
}

TEST(NoiseCipherState, RekeyChangesKeyOnBothSides) {
    CipherState send(test_key(5)), receive(test_key(5)), stale(test_key(5));
    send.rekey();
    receive.rekey();
    auto wire = send.encrypt_with_ad({}, as_bytes("after rekey"));
    ASSERT_TRUE(wire);
    EXPECT_TRUE(receive.decrypt_with_ad({}, *wire));
    EXPECT_EQ(stale.decrypt_with_ad({}, *wire).error(), noise_errc::decrypt_failed);
}

TEST(NoiseErrc, Category) {
    boost::system::error_code ec = noise_errc::handshake_out_of_order;
    EXPECT_STREQ(ec.category().name(), "keel.noise");
    EXPECT_EQ(ec.value(), 4);
    EXPECT_FALSE(ec.message().empty());
    EXPECT_EQ(make_error_code(noise_errc::decrypt_failed).value(), 1);
}

}  // namespace
}  // namespace keel::noise
