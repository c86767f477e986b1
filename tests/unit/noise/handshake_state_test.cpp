#include "keel/noise/handshake_state.hpp"

#include <optional>
#include <utility>

#include <gtest/gtest.h>

#include "keel/noise/constants.hpp"
#include "keel/noise/noise_errc.hpp"

namespace keel::noise {
namespace {

struct Pair {
    KeyPair init_static = KeyPair::generate();
    KeyPair resp_static = KeyPair::generate();
    HandshakeState init{Role::initiator, as_bytes("keel test"), init_static};
    HandshakeState resp{Role::responder, as_bytes("keel test"), resp_static};
};

// Runs one handshake message from sender to receiver and returns the wire bytes.
Bytes relay(HandshakeState& sender, HandshakeState& receiver, std::string_view payload) {
    auto wire = sender.write_message(as_bytes(payload));
    EXPECT_TRUE(wire);
    if (!wire) return {};
    auto got = receiver.read_message(*wire);
    EXPECT_TRUE(got);
    if (got) {
        EXPECT_EQ(*got, to_bytes(payload));
    }
    return *wire;
}

TEST(NoiseHandshake, RandomKeysRoundTrip) {
    Pair p;
    EXPECT_TRUE(p.init.is_my_turn());
    EXPECT_FALSE(p.resp.is_my_turn());
    EXPECT_EQ(relay(p.init, p.resp, "").size(), 32u);
    EXPECT_FALSE(p.resp.remote_static());
    EXPECT_EQ(relay(p.resp, p.init, "responder payload").size(), 32u + 48 + 17 + 16);
    EXPECT_EQ(p.init.remote_static(), p.resp_static.public_key);
    EXPECT_FALSE(p.init.complete());
    EXPECT_EQ(relay(p.init, p.resp, "initiator payload").size(), 48u + 17 + 16);
    EXPECT_EQ(p.resp.remote_static(), p.init_static.public_key);
    ASSERT_TRUE(p.init.complete());
    ASSERT_TRUE(p.resp.complete());
    EXPECT_FALSE(p.init.is_my_turn());
    EXPECT_FALSE(p.resp.is_my_turn());
    EXPECT_EQ(p.init.handshake_hash(), p.resp.handshake_hash());

    auto a = p.init.split();
    auto b = p.resp.split();
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    for (int round = 0; round < 3; ++round) {
        auto to_resp = a->send.encrypt_with_ad({}, as_bytes("ping"));
        ASSERT_TRUE(to_resp);
        auto ping = b->receive.decrypt_with_ad({}, *to_resp);
        ASSERT_TRUE(ping);
        EXPECT_EQ(*ping, to_bytes("ping"));

        Bytes buf = to_bytes("pong");
        buf.resize(4 + tag_size);
        auto n = b->send.encrypt(BytesView(buf.data(), 4), buf);  // in place
        ASSERT_TRUE(n);
        auto m = a->receive.decrypt(BytesView(buf.data(), *n), buf);
        ASSERT_TRUE(m);
        EXPECT_EQ(Bytes(buf.begin(), buf.begin() + *m), to_bytes("pong"));
    }
    EXPECT_EQ(a->send.nonce(), 3u);
    EXPECT_EQ(b->receive.nonce(), 3u);
    EXPECT_EQ(b->send.nonce(), 3u);
    EXPECT_EQ(a->receive.nonce(), 3u);
}

TEST(NoiseHandshake, DirectionsUseDifferentKeys) {
    Pair p;
    relay(p.init, p.resp, "");
    relay(p.resp, p.init, "");
    relay(p.init, p.resp, "");
    auto a = p.init.split();
    auto b = p.resp.split();
    ASSERT_TRUE(a && b);
    auto wire = a->send.encrypt_with_ad({}, as_bytes("x"));
    ASSERT_TRUE(wire);
    // Reflecting a message back to its sender must not decrypt.
    EXPECT_EQ(a->receive.decrypt_with_ad({}, *wire).error(), noise_errc::decrypt_failed);
}

TEST(NoiseHandshake, OutOfOrderCalls) {
    Pair p;
    EXPECT_EQ(p.resp.write_message({}).error(), noise_errc::handshake_out_of_order);
    EXPECT_EQ(p.init.read_message(Bytes(32)).error(), noise_errc::handshake_out_of_order);
    EXPECT_EQ(p.init.split().error(), noise_errc::handshake_not_complete);

    auto m1 = p.init.write_message({});
    ASSERT_TRUE(m1);
    EXPECT_EQ(p.init.write_message({}).error(), noise_errc::handshake_out_of_order);
    ASSERT_TRUE(p.resp.read_message(*m1));
    EXPECT_EQ(p.resp.read_message(*m1).error(), noise_errc::handshake_out_of_order);
    relay(p.resp, p.init, "");
    relay(p.init, p.resp, "");

    EXPECT_EQ(p.init.write_message({}).error(), noise_errc::handshake_out_of_order);
    EXPECT_EQ(p.resp.read_message(Bytes(64)).error(), noise_errc::handshake_out_of_order);
    ASSERT_TRUE(p.init.split());
    EXPECT_EQ(p.init.split().error(), noise_errc::handshake_out_of_order);
}

TEST(NoiseHandshake, TruncatedMessagesAreRejectedWithoutHarm) {
    Pair p;
    auto m1 = p.init.write_message({});
    ASSERT_TRUE(m1);
    EXPECT_EQ(p.resp.read_message(BytesView(*m1).first(31)).error(), noise_errc::message_too_short);
    EXPECT_EQ(p.resp.read_message({}).error(), noise_errc::message_too_short);
    ASSERT_TRUE(p.resp.read_message(*m1));  // a length error changes nothing

    auto m2 = p.resp.write_message({});
    ASSERT_TRUE(m2);
    ASSERT_EQ(m2->size(), 32u + 48 + 16);
    EXPECT_EQ(p.init.read_message(BytesView(*m2).first(m2->size() - 1)).error(),
              noise_errc::message_too_short);
    EXPECT_EQ(p.init.read_message(BytesView(*m2).first(32 + 48)).error(),
              noise_errc::message_too_short);
    ASSERT_TRUE(p.init.read_message(*m2));

    auto m3 = p.init.write_message({});
    ASSERT_TRUE(m3);
    ASSERT_EQ(m3->size(), 48u + 16);
    EXPECT_EQ(p.resp.read_message(BytesView(*m3).first(63)).error(), noise_errc::message_too_short);
    ASSERT_TRUE(p.resp.read_message(*m3));
    EXPECT_TRUE(p.resp.complete());
}

TEST(NoiseHandshake, OversizedMessages) {
    Pair p;
    EXPECT_EQ(p.init.write_message(Bytes(max_message_size - 32 + 1)).error(),
              noise_errc::message_too_long);
    EXPECT_EQ(p.resp.read_message(Bytes(max_message_size + 1)).error(),
              noise_errc::message_too_long);
    auto m1 = p.init.write_message(Bytes(max_message_size - 32));  // exactly the limit
    ASSERT_TRUE(m1);
    EXPECT_EQ(m1->size(), max_message_size);
    ASSERT_TRUE(p.resp.read_message(*m1));
    EXPECT_EQ(p.resp.write_message(Bytes(max_message_size - 32 - 48 - 16 + 1)).error(),
              noise_errc::message_too_long);
}

TEST(NoiseHandshake, TamperedMessagesFail) {
    for (std::size_t flip : {32u, 32u + 47, 32u + 48}) {  // encrypted s, its tag, the payload
        Pair p;
        relay(p.init, p.resp, "");
        auto m2 = p.resp.write_message(as_bytes("payload"));
        ASSERT_TRUE(m2);
        (*m2)[flip] ^= 0x80;
        EXPECT_EQ(p.init.read_message(*m2).error(), noise_errc::decrypt_failed) << flip;
        // The handshake state has moved on partially; it must not be usable any more.
        EXPECT_FALSE(p.init.is_my_turn());
        EXPECT_FALSE(p.init.complete());
        EXPECT_EQ(p.init.write_message({}).error(), noise_errc::handshake_out_of_order);
    }
    {
        // A changed ephemeral key changes every derived key, so the encrypted s fails.
        Pair p;
        relay(p.init, p.resp, "");
        auto m2 = p.resp.write_message({});
        ASSERT_TRUE(m2);
        (*m2)[0] ^= 0x01;
        EXPECT_EQ(p.init.read_message(*m2).error(), noise_errc::decrypt_failed);
    }
    {
        Pair p;
        relay(p.init, p.resp, "");
        relay(p.resp, p.init, "");
        auto m3 = p.init.write_message({});
        ASSERT_TRUE(m3);
        m3->back() ^= 0x01;
        EXPECT_EQ(p.resp.read_message(*m3).error(), noise_errc::decrypt_failed);
        EXPECT_FALSE(p.resp.complete());
        EXPECT_EQ(p.resp.split().error(), noise_errc::handshake_not_complete);
    }
}

TEST(NoiseHandshake, PrologueMismatchFails) {
    HandshakeState init(Role::initiator, as_bytes("one"), KeyPair::generate());
    HandshakeState resp(Role::responder, as_bytes("two"), KeyPair::generate());
    auto m1 = init.write_message({});
    ASSERT_TRUE(m1);
    ASSERT_TRUE(resp.read_message(*m1));  // nothing is authenticated yet
    auto m2 = resp.write_message({});
    ASSERT_TRUE(m2);
    EXPECT_EQ(init.read_message(*m2).error(), noise_errc::decrypt_failed);
}

TEST(NoiseHandshake, LowOrderEphemeralRejected) {
    HandshakeState resp(Role::responder, {}, KeyPair::generate());
    ASSERT_TRUE(resp.read_message(Bytes(32)));  // the all-zero point: DH result would be zero
    EXPECT_EQ(resp.write_message({}).error(), noise_errc::invalid_public_key);
    EXPECT_EQ(resp.write_message({}).error(), noise_errc::handshake_out_of_order);
}

TEST(NoiseHandshake, FixedEphemeralIsDeterministic) {
    auto s1 = KeyPair::generate(), s2 = KeyPair::generate(), e = KeyPair::generate();
    HandshakeState a(Role::initiator, {}, s1, e);
    HandshakeState b(Role::initiator, {}, s2, e);
    auto ma = a.write_message(as_bytes("hi"));
    auto mb = b.write_message(as_bytes("hi"));
    ASSERT_TRUE(ma && mb);
    EXPECT_EQ(*ma, *mb);  // the first message depends only on e and the payload
    EXPECT_EQ(BytesView(*ma).first(32).size(), 32u);
    EXPECT_TRUE(std::equal(e.public_key.begin(), e.public_key.end(), ma->begin()));
}

TEST(NoiseHandshake, MovableMidHandshake) {
    Pair p;
    relay(p.init, p.resp, "");
    std::optional<HandshakeState> moved(std::move(p.init));
    relay(p.resp, *moved, "x");
    relay(*moved, p.resp, "y");
    EXPECT_TRUE(moved->complete());
    EXPECT_EQ(moved->handshake_hash(), p.resp.handshake_hash());
}

}  // namespace
}  // namespace keel::noise
