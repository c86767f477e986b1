// Kademlia messages: round trip, proto3 defaults, bounds, and lenient decoding of bad peers.
#include <gtest/gtest.h>
#include <keel/proto/kad.pb.h>

#include "kad_test_util.hpp"
#include "keel/kad/kad_errc.hpp"
#include "keel/kad/kad_message.hpp"

namespace keel::kad {
namespace {

using test::addr;
using test::peer;

Bytes serialize(const pb::Message& msg) {
    return to_bytes(msg.SerializeAsString());
}

TEST(KadMessage, RoundTripsEveryField) {
    KadMessage m;
    m.type = MessageType::get_providers;
    m.key = to_bytes("some key");
    m.record =
        Record{to_bytes("/pk/abc"),
               to_bytes("value bytes"),
               std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123)),
               {},
               0,
               0};
    m.closer_peers.push_back(
        KadPeer{peer(1), {addr("/ip4/10.0.0.1/tcp/4001"), addr("/ip6/::1/tcp/5")}, true});
    m.closer_peers.push_back(KadPeer{peer(2), {}, false});
    m.provider_peers.push_back(KadPeer{peer(3), {addr("/dns4/example.com/tcp/443")}, false});

    auto decoded = decode_message(encode_message(m));
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded->type, m.type);
    EXPECT_EQ(decoded->key, m.key);
    ASSERT_TRUE(decoded->record.has_value());
    EXPECT_EQ(decoded->record->key, m.record->key);
    EXPECT_EQ(decoded->record->value, m.record->value);
    EXPECT_EQ(decoded->record->time_received, m.record->time_received);
    ASSERT_EQ(decoded->closer_peers.size(), 2u);
    EXPECT_EQ(decoded->closer_peers[0].id, peer(1));
    EXPECT_EQ(decoded->closer_peers[0].addrs, m.closer_peers[0].addrs);
    EXPECT_TRUE(decoded->closer_peers[0].connected);
    EXPECT_EQ(decoded->closer_peers[1].id, peer(2));
    EXPECT_TRUE(decoded->closer_peers[1].addrs.empty());
    EXPECT_FALSE(decoded->closer_peers[1].connected);
    ASSERT_EQ(decoded->provider_peers.size(), 1u);
    EXPECT_EQ(decoded->provider_peers[0].id, peer(3));
    EXPECT_EQ(decoded->provider_peers[0].addrs, m.provider_peers[0].addrs);
    EXPECT_EQ(decoded->dropped_entries, 0u);
}

TEST(KadMessage, RoundTripsEveryType) {
    for (auto type : {MessageType::put_value, MessageType::get_value, MessageType::add_provider,
                      MessageType::get_providers, MessageType::find_node, MessageType::ping}) {
        KadMessage m;
        m.type = type;
        m.key = to_bytes("k");
        auto decoded = decode_message(encode_message(m));
        ASSERT_TRUE(decoded) << message_type_name(type);
        EXPECT_EQ(decoded->type, type);
        EXPECT_FALSE(decoded->record.has_value());
    }
    EXPECT_EQ(message_type_name(MessageType::find_node), "FIND_NODE");
}

TEST(KadMessage, MissingTypeDecodesAsPutValue) {
    // proto3: PUT_VALUE is 0, the default, so it is not on the wire at all.
    const Bytes wire{0x12, 0x01, 'k'};  // field 2 (key), length 1, "k"
    auto decoded = decode_message(wire);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded->type, MessageType::put_value);
    EXPECT_EQ(decoded->key, to_bytes("k"));
    // And we encode it the same way.
    KadMessage m;
    m.type = MessageType::put_value;
    m.key = to_bytes("k");
    EXPECT_EQ(encode_message(m), wire);
    // The empty message is a PUT_VALUE with an empty key.
    auto empty = decode_message(Bytes{});
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->type, MessageType::put_value);
}

TEST(KadMessage, OversizedMessageIsRefused) {
    Bytes big(max_message_size + 1, 0);
    auto decoded = decode_message(big);
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error(), make_error_code(kad_errc::message_too_large));
}

TEST(KadMessage, TooManyPeersIsRefused) {
    for (bool providers : {false, true}) {
        pb::Message msg;
        msg.set_type(pb::Message::FIND_NODE);
        for (std::size_t i = 0; i <= max_peers_per_message; ++i) {
            auto* p = providers ? msg.add_providerpeers() : msg.add_closerpeers();
            auto id = peer(static_cast<std::uint32_t>(i));
            p->set_id(id.bytes().data(), id.bytes().size());
        }
        auto decoded = decode_message(serialize(msg));
        ASSERT_FALSE(decoded);
        EXPECT_EQ(decoded.error(), make_error_code(kad_errc::message_too_large));
        // Exactly the limit is fine.
        if (providers)
            msg.mutable_providerpeers()->RemoveLast();
        else
            msg.mutable_closerpeers()->RemoveLast();
        EXPECT_TRUE(decode_message(serialize(msg)));
    }
}

TEST(KadMessage, OversizedKeyOrRecordIsRefused) {
    pb::Message msg;
    msg.set_type(pb::Message::GET_VALUE);
    msg.set_key(std::string(max_key_size + 1, 'k'));
    auto decoded = decode_message(serialize(msg));
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error(), make_error_code(kad_errc::message_too_large));

    pb::Message put;
    put.set_key("k");
    put.mutable_record()->set_key("k");
    put.mutable_record()->set_value(std::string(max_record_value_size + 1, 'v'));
    decoded = decode_message(serialize(put));
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error(), make_error_code(kad_errc::message_too_large));
}

TEST(KadMessage, GarbageAndUnknownTypesAreMalformed) {
    const Bytes garbage{0xff, 0xff, 0xff, 0xff, 0xff};
    auto decoded = decode_message(garbage);
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error(), make_error_code(kad_errc::malformed_message));

    const Bytes unknown_type{0x08, 0x07};  // type = 7
    decoded = decode_message(unknown_type);
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error(), make_error_code(kad_errc::malformed_message));

    const Bytes truncated{0x12, 0x05, 'k'};  // key says 5 bytes, has 1
    EXPECT_FALSE(decode_message(truncated));
}

TEST(KadMessage, UnparseablePeersAndAddressesAreDroppedAndCounted) {
    pb::Message msg;
    msg.set_type(pb::Message::FIND_NODE);
    auto good = peer(1);
    auto* p = msg.add_closerpeers();  // bad ID: dropped entirely
    p->set_id("definitely not a multihash");
    p->add_addrs(addr("/ip4/10.0.0.1/tcp/1").to_bytes().data(), 8);
    p = msg.add_closerpeers();  // empty ID
    p = msg.add_closerpeers();  // good ID, one good and two bad addresses
    p->set_id(good.bytes().data(), good.bytes().size());
    auto a = addr("/ip4/10.0.0.2/tcp/4001").to_bytes();
    p->add_addrs(a.data(), a.size());
    p->add_addrs("\xff\xff\xff garbage");
    p->add_addrs(std::string());
    p = msg.add_providerpeers();  // bad provider ID
    p->set_id(std::string("\x12\x20short", 7));
    p = msg.add_providerpeers();
    p->set_id(good.bytes().data(), good.bytes().size());

    auto decoded = decode_message(serialize(msg));
    ASSERT_TRUE(decoded) << decoded.error().message();
    ASSERT_EQ(decoded->closer_peers.size(), 1u);
    EXPECT_EQ(decoded->closer_peers[0].id, good);
    ASSERT_EQ(decoded->closer_peers[0].addrs.size(), 1u);
    EXPECT_EQ(decoded->closer_peers[0].addrs[0], addr("/ip4/10.0.0.2/tcp/4001"));
    ASSERT_EQ(decoded->provider_peers.size(), 1u);
    EXPECT_EQ(decoded->provider_peers[0].id, good);
    // 2 bad closer IDs + 2 bad addresses + 1 bad provider ID.
    EXPECT_EQ(decoded->dropped_entries, 5u);
}

TEST(KadMessage, AddressesBeyondThePerPeerLimitAreDropped) {
    pb::Message msg;
    msg.set_type(pb::Message::FIND_NODE);
    auto id = peer(1);
    auto* p = msg.add_closerpeers();
    p->set_id(id.bytes().data(), id.bytes().size());
    for (std::size_t i = 0; i < max_addrs_per_peer + 5; ++i) {
        auto a = addr("/ip4/10.0.0.1/tcp/" + std::to_string(1000 + i)).to_bytes();
        p->add_addrs(a.data(), a.size());
    }
    auto decoded = decode_message(serialize(msg));
    ASSERT_TRUE(decoded);
    ASSERT_EQ(decoded->closer_peers.size(), 1u);
    EXPECT_EQ(decoded->closer_peers[0].addrs.size(), max_addrs_per_peer);
    EXPECT_GE(decoded->dropped_entries, 1u);
}

// rust-libp2p refuses Kademlia messages over 16 KiB: 20 closer peers with 16 long addresses
// each (about 28 KiB) are cut to fit, addresses first, and every peer stays.
TEST(KadMessage, AnAnswerIsTrimmedToFitRustsSixteenKiB) {
    KadMessage m;
    m.type = MessageType::find_node;
    m.key = Bytes(32, 7);
    for (int i = 0; i < 20; ++i) {
        KadPeer p{peer(static_cast<std::uint8_t>(i + 1)), {}, false};
        for (int j = 0; j < 16; ++j)
            p.addrs.push_back(addr("/dns4/a-rather-long-host-name-of-a-node-" + std::to_string(j) +
                                   ".example.org/tcp/" + std::to_string(4000 + j)));
        m.closer_peers.push_back(std::move(p));
    }
    ASSERT_GT(encode_message(m).size(), max_sent_message_size);
    fit_message(m);
    EXPECT_LE(encode_message(m).size(), max_sent_message_size);
    ASSERT_EQ(m.closer_peers.size(), 20u);
    for (const auto& p : m.closer_peers) EXPECT_GE(p.addrs.size(), 1u);
}

TEST(KadMessage, FittingKeepsARecordAndDropsFarPeersWhenAddressesAreNotEnough) {
    KadMessage m;
    m.type = MessageType::get_value;
    m.record =
        Record{Bytes(10, 1), Bytes(15 * 1024, 2), std::chrono::system_clock::now(), {}, 0, 0};
    for (int i = 0; i < 20; ++i)
        m.closer_peers.push_back(KadPeer{
            peer(static_cast<std::uint8_t>(i + 1)), {addr("/ip4/10.0.0.1/tcp/4001")}, false});
    fit_message(m);
    EXPECT_LE(encode_message(m).size(), max_sent_message_size);
    ASSERT_TRUE(m.record);
    EXPECT_EQ(m.record->value.size(), 15u * 1024);
    EXPECT_LT(m.closer_peers.size(), 20u);
    EXPECT_EQ(m.closer_peers.front().id, peer(1));
}

// rust-libp2p's record extensions (publisher = 666, ttl = 777) survive a round trip.
TEST(KadMessage, RustPublisherAndTtlRoundTrip) {
    KadMessage m;
    m.type = MessageType::put_value;
    m.key = to_bytes("/pk/x");
    m.record = Record{to_bytes("/pk/x"), to_bytes("v"), std::nullopt, peer(3).bytes(), 129'600, 0};
    auto decoded = decode_message(encode_message(m));
    ASSERT_TRUE(decoded) << decoded.error().message();
    ASSERT_TRUE(decoded->record);
    EXPECT_EQ(decoded->record->publisher, peer(3).bytes());
    EXPECT_EQ(decoded->record->ttl, 129'600u);
}

}  // namespace
}  // namespace keel::kad
