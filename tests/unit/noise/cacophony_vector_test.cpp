// Noise_XX_25519_ChaChaPoly_SHA256 against the cacophony test vector: both sides run with the
// vector's fixed keys and every byte on the wire must match.
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "keel/base/hex.hpp"
#include "keel/noise/handshake_state.hpp"

namespace keel::noise {
namespace {

Bytes hex(const nlohmann::json& value) {
    auto bytes = from_hex(value.get<std::string>());
    EXPECT_TRUE(bytes) << value;
    return bytes.value_or(Bytes{});
}

KeyPair key_pair(const nlohmann::json& value) {
    Bytes priv = hex(value);
    EXPECT_EQ(priv.size(), 32u);
    priv.resize(32);
    return KeyPair::from_private(std::span<const std::uint8_t, 32>(priv.data(), 32));
}

nlohmann::json load_vector() {
    std::ifstream in(std::string(KEEL_TEST_DATA) + "/noise_xx_25519_chachapoly_sha256.json");
    EXPECT_TRUE(in) << "missing test vector";
    auto doc = nlohmann::json::parse(in);
    for (const auto& v : doc.at("vectors")) {
        if (v.at("protocol_name") == protocol_name) return v;
    }
    ADD_FAILURE() << "no vector for " << protocol_name;
    return {};
}

TEST(NoiseCacophony, XxHandshakeAndTransport) {
    auto v = load_vector();
    ASSERT_FALSE(v.is_null());
    HandshakeState init(Role::initiator, hex(v.at("init_prologue")), key_pair(v.at("init_static")),
                        key_pair(v.at("init_ephemeral")));
    HandshakeState resp(Role::responder, hex(v.at("resp_prologue")), key_pair(v.at("resp_static")),
                        key_pair(v.at("resp_ephemeral")));

    const auto& messages = v.at("messages");
    ASSERT_GE(messages.size(), 3u);
    // Cacophony alternates senders for the whole session: even messages come from the initiator.
    for (std::size_t i = 0; i < 3; ++i) {
        auto& sender = i % 2 == 0 ? init : resp;
        auto& receiver = i % 2 == 0 ? resp : init;
        ASSERT_TRUE(sender.is_my_turn());
        ASSERT_FALSE(receiver.is_my_turn());
        auto wire = sender.write_message(hex(messages[i].at("payload")));
        ASSERT_TRUE(wire) << wire.error().message();
        EXPECT_EQ(to_hex(*wire), messages[i].at("ciphertext").get<std::string>())
            << "message " << i;
        auto payload = receiver.read_message(*wire);
        ASSERT_TRUE(payload) << payload.error().message();
        EXPECT_EQ(*payload, hex(messages[i].at("payload"))) << "message " << i;
    }

    ASSERT_TRUE(init.complete());
    ASSERT_TRUE(resp.complete());
    EXPECT_EQ(to_hex(init.handshake_hash()), v.at("handshake_hash").get<std::string>());
    EXPECT_EQ(init.handshake_hash(), resp.handshake_hash());
    ASSERT_TRUE(init.remote_static());
    ASSERT_TRUE(resp.remote_static());
    EXPECT_EQ(*init.remote_static(), key_pair(v.at("resp_static")).public_key);
    EXPECT_EQ(*resp.remote_static(), key_pair(v.at("init_static")).public_key);

    auto init_split = init.split();
    auto resp_split = resp.split();
    ASSERT_TRUE(init_split);
    ASSERT_TRUE(resp_split);
    ASSERT_GT(messages.size(), 3u) << "vector has no transport messages";
    for (std::size_t i = 3; i < messages.size(); ++i) {
        auto& send = i % 2 == 0 ? init_split->send : resp_split->send;
        auto& receive = i % 2 == 0 ? resp_split->receive : init_split->receive;
        auto wire = send.encrypt_with_ad({}, hex(messages[i].at("payload")));
        ASSERT_TRUE(wire) << wire.error().message();
        EXPECT_EQ(to_hex(*wire), messages[i].at("ciphertext").get<std::string>())
            << "message " << i;
        auto payload = receive.decrypt_with_ad({}, *wire);
        ASSERT_TRUE(payload) << payload.error().message();
        EXPECT_EQ(*payload, hex(messages[i].at("payload"))) << "message " << i;
    }
}

}  // namespace
}  // namespace keel::noise
