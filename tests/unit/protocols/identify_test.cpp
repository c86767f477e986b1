// identify and identify push: the message codec (round trip, limits, what is skipped and what is
// an error) and the stream side (one record, a record split over several messages, bad framing).
#include "keel/protocols/identify.hpp"

#include <keel/proto/identify.pb.h>

#include <algorithm>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/base/varint.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/net/net_errc.hpp"
#include "support/net_test_util.hpp"

namespace keel::protocols {
namespace {

namespace asio = net::asio;
using net::awaitable;
using net::test::run;

Multiaddr addr(std::string_view text) {
    return Multiaddr::parse(text).value();
}

IdentifyInfo sample_info() {
    IdentifyInfo info;
    info.protocol_version = "ipfs/0.1.0";
    info.agent_version = "keel/test";
    info.public_key = Ed25519KeyPair::generate().public_key();
    info.listen_addrs = {addr("/ip4/127.0.0.1/tcp/4001"), addr("/ip6/::1/tcp/4002")};
    info.observed_addr = addr("/ip4/203.0.113.7/tcp/55000");
    info.protocols = {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/ipfs/kad/1.0.0"};
    return info;
}

void expect_same(const IdentifyInfo& got, const IdentifyInfo& want) {
    EXPECT_EQ(got.protocol_version, want.protocol_version);
    EXPECT_EQ(got.agent_version, want.agent_version);
    EXPECT_EQ(got.public_key, want.public_key);
    EXPECT_EQ(got.listen_addrs, want.listen_addrs);
    EXPECT_EQ(got.observed_addr, want.observed_addr);
    EXPECT_EQ(got.protocols, want.protocols);
}

Bytes serialize(const pb::Identify& msg) {
    return to_bytes(msg.SerializeAsString());
}

// ---- the message codec ------------------------------------------------------------------------

TEST(Identify, EncodeDecodeRoundTrip) {
    auto info = sample_info();
    auto decoded = decode_identify(encode_identify(info));
    ASSERT_TRUE(decoded) << decoded.error().message();
    expect_same(*decoded, info);
}

// A host encodes the shared part of its record once and appends each connection's observed
// address: the result decodes as the whole record encoded at once, and protobuf (go, rust, js
// parse it with their generated code) reads fields in any order.
TEST(Identify, ObservedAddressAppendedToASharedRecord) {
    auto info = sample_info();
    auto shared = info;
    shared.observed_addr.reset();
    auto record = with_observed_addr(encode_identify(shared), *info.observed_addr);
    auto decoded = decode_identify(record);
    ASSERT_TRUE(decoded.has_value());
    expect_same(*decoded, info);
    pb::Identify msg;
    ASSERT_TRUE(msg.ParseFromArray(record.data(), static_cast<int>(record.size())));
    EXPECT_EQ(to_bytes(msg.observedaddr()), info.observed_addr->to_bytes());
}

TEST(Identify, EmptyRecordRoundTrips) {
    auto decoded = decode_identify(encode_identify(IdentifyInfo{}));
    ASSERT_TRUE(decoded) << decoded.error().message();
    expect_same(*decoded, IdentifyInfo{});
    // Zero bytes are a valid (empty) protobuf message too.
    EXPECT_TRUE(decode_identify(BytesView{}));
}

TEST(Identify, MessageOverTheLimitIsAnError) {
    IdentifyInfo info;
    info.agent_version.assign(max_identify_message, 'a');
    auto encoded = encode_identify(info);
    ASSERT_GT(encoded.size(), max_identify_message);
    auto decoded = decode_identify(encoded);
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error(), net::net_errc::malformed_message);

    // The same record just under the limit is fine.
    info.agent_version.assign(max_identify_message - 16, 'a');
    encoded = encode_identify(info);
    ASSERT_LE(encoded.size(), max_identify_message);
    EXPECT_TRUE(decode_identify(encoded));
}

TEST(Identify, MalformedBytesAreAnError) {
    auto encoded = encode_identify(sample_info());
    std::vector<Bytes> bad{
        Bytes(encoded.begin(), encoded.end() - 1),  // the last field cut short
        Bytes{0x0a, 0x05, 0x01},                    // a 5-byte field with 1 byte
        Bytes{0x00},                                // field number 0
        Bytes{0xff, 0xff, 0xff},                    // a tag that never ends
    };
    for (std::size_t i = 0; i < bad.size(); ++i) {
        auto decoded = decode_identify(bad[i]);
        ASSERT_FALSE(decoded) << i;
        EXPECT_EQ(decoded.error(), net::net_errc::malformed_message) << i;
    }
}

TEST(Identify, InvalidPublicKeyIsAnError) {
    pb::Identify msg;
    msg.set_agentversion("keel/test");
    msg.set_publickey("not a public key");
    auto decoded = decode_identify(serialize(msg));
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error(), net::net_errc::malformed_message);
}

TEST(Identify, UnparseableAddressesAreSkipped) {
    pb::Identify msg;
    const auto good = addr("/ip4/10.0.0.1/tcp/4001").to_bytes();
    msg.add_listenaddrs("\xff\xfe garbage");
    msg.add_listenaddrs(good.data(), good.size());
    msg.add_listenaddrs(std::string("\x06\x0f", 2));   // tcp with half a port
    msg.set_observedaddr(std::string("\x04\x7f", 2));  // ip4 cut short
    msg.add_protocols("/ipfs/ping/1.0.0");
    auto decoded = decode_identify(serialize(msg));
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded->listen_addrs, std::vector<Multiaddr>{addr("/ip4/10.0.0.1/tcp/4001")});
    EXPECT_FALSE(decoded->observed_addr.has_value());
    EXPECT_EQ(decoded->protocols, std::vector<std::string>{"/ipfs/ping/1.0.0"});
}

TEST(Identify, AddressesAndProtocolsPastTheLimitsAreDropped) {
    IdentifyInfo info;
    for (std::size_t i = 0; i < max_identify_addrs + 10; ++i)
        info.listen_addrs.push_back(addr("/ip4/10.0.0.1/tcp/" + std::to_string(1000 + i)));
    for (std::size_t i = 0; i < max_identify_protocols + 10; ++i)
        info.protocols.push_back("/test/" + std::to_string(i));
    auto decoded = decode_identify(encode_identify(info));
    ASSERT_TRUE(decoded) << decoded.error().message();
    // The first ones are kept, in order; the peer itself is not refused.
    ASSERT_EQ(decoded->listen_addrs.size(), max_identify_addrs);
    EXPECT_TRUE(std::equal(decoded->listen_addrs.begin(), decoded->listen_addrs.end(),
                           info.listen_addrs.begin()));
    ASSERT_EQ(decoded->protocols.size(), max_identify_protocols);
    EXPECT_TRUE(
        std::equal(decoded->protocols.begin(), decoded->protocols.end(), info.protocols.begin()));
}

// ---- over a stream ----------------------------------------------------------------------------

TEST(Identify, SendThenReceiveOverAStream) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& dialer = *streams.first;
        auto& listener = *streams.second;
        const auto info = sample_info();
        auto send = [&]() -> awaitable<net::error_code> {
            co_return co_await send_identify(listener, info);
        };
        auto receive = [&]() -> awaitable<net::result<IdentifyInfo>> {
            co_return co_await receive_identify(dialer);
        };
        using namespace asio::experimental::awaitable_operators;
        auto [sent, received] = co_await (send() && receive());
        KEEL_CO_ASSERT_NO_ERROR(sent);
        KEEL_CO_ASSERT_OK(received);
        expect_same(*received, info);
    });
}

TEST(Identify, RecordInSeveralMessagesIsMerged) {
    // Protobuf merge semantics: a later message's scalars win, repeated fields append, fields it
    // leaves out keep the earlier value.
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& writer = *streams.first;
        auto& reader = *streams.second;
        const auto key = Ed25519KeyPair::generate().public_key();
        IdentifyInfo first;
        first.protocol_version = "ipfs/0.1.0";
        first.agent_version = "first";
        first.public_key = key;
        first.listen_addrs = {addr("/ip4/10.0.0.1/tcp/1")};
        first.observed_addr = addr("/ip4/203.0.113.1/tcp/9");
        first.protocols = {"/a/1"};
        IdentifyInfo second;
        second.agent_version = "second";
        second.listen_addrs = {addr("/ip4/10.0.0.2/tcp/2")};
        second.protocols = {"/b/1", "/c/1"};
        pb::Identify second_msg;  // leaves protocolVersion, publicKey and observedAddr unset
        second_msg.set_agentversion(second.agent_version);
        for (const auto& a : second.listen_addrs) {
            auto bytes = a.to_bytes();
            second_msg.add_listenaddrs(bytes.data(), bytes.size());
        }
        for (const auto& p : second.protocols) second_msg.add_protocols(p);

        KEEL_CO_ASSERT_NO_ERROR(
            co_await net::write_length_prefixed(writer, encode_identify(first)));
        KEEL_CO_ASSERT_NO_ERROR(co_await net::write_length_prefixed(writer, serialize(second_msg)));
        KEEL_CO_ASSERT_NO_ERROR(co_await writer.close_write());
        auto merged = co_await receive_identify(reader);
        KEEL_CO_ASSERT_OK(merged);
        EXPECT_EQ(merged->protocol_version, "ipfs/0.1.0");
        EXPECT_EQ(merged->agent_version, "second");
        EXPECT_EQ(merged->public_key, key);
        EXPECT_EQ(merged->listen_addrs, (std::vector<Multiaddr>{addr("/ip4/10.0.0.1/tcp/1"),
                                                                addr("/ip4/10.0.0.2/tcp/2")}));
        EXPECT_EQ(merged->observed_addr, first.observed_addr);
        EXPECT_EQ(merged->protocols, (std::vector<std::string>{"/a/1", "/b/1", "/c/1"}));
    });
}

TEST(Identify, StreamClosedBeforeAnyMessageIsAnError) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& writer = *streams.first;
        auto& reader = *streams.second;
        KEEL_CO_ASSERT_NO_ERROR(co_await writer.close_write());
        auto got = co_await receive_identify(reader);
        EXPECT_FALSE(got);
    });
}

TEST(Identify, LengthPrefixOverTheLimitIsAnError) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& writer = *streams.first;
        auto& reader = *streams.second;
        Bytes wire;
        append_uvarint(wire, max_identify_message + 1);
        wire.resize(wire.size() + 32, 0x0a);
        KEEL_CO_ASSERT_NO_ERROR(co_await writer.write_all(wire));
        KEEL_CO_ASSERT_NO_ERROR(co_await writer.close_write());
        auto got = co_await receive_identify(reader);
        KEEL_CO_ASSERT(!got);
        EXPECT_EQ(got.error(), net::net_errc::message_too_large);
    });
}

TEST(Identify, MessagesTogetherOverTheLimitAreAnError) {
    // Each message is under the limit on its own; the budget is for the whole record.
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& writer = *streams.first;
        auto& reader = *streams.second;
        IdentifyInfo part;
        part.agent_version.assign(max_identify_message * 2 / 3, 'a');
        const auto encoded = encode_identify(part);
        KEEL_CO_ASSERT(encoded.size() < max_identify_message);
        KEEL_CO_ASSERT_NO_ERROR(co_await net::write_length_prefixed(writer, encoded));
        KEEL_CO_ASSERT_NO_ERROR(co_await net::write_length_prefixed(writer, encoded));
        KEEL_CO_ASSERT_NO_ERROR(co_await writer.close_write());
        auto got = co_await receive_identify(reader);
        KEEL_CO_ASSERT(!got);
        EXPECT_EQ(got.error(), net::net_errc::message_too_large);
    });
}

TEST(Identify, TruncatedFirstMessageIsAnError) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& writer = *streams.first;
        auto& reader = *streams.second;
        auto wire = net::length_prefixed(encode_identify(sample_info()));
        wire.resize(wire.size() / 2);
        KEEL_CO_ASSERT_NO_ERROR(co_await writer.write_all(wire));
        KEEL_CO_ASSERT_NO_ERROR(co_await writer.close_write());
        auto got = co_await receive_identify(reader);
        EXPECT_FALSE(got);
    });
}

TEST(Identify, UnparseableMessageOnAStreamIsAnError) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& writer = *streams.first;
        auto& reader = *streams.second;
        const Bytes junk{0x0a, 0x05, 0x01};
        auto good = encode_identify(sample_info());
        // A good message first: a bad one later still fails the whole record.
        KEEL_CO_ASSERT_NO_ERROR(co_await net::write_length_prefixed(writer, good));
        KEEL_CO_ASSERT_NO_ERROR(co_await net::write_length_prefixed(writer, junk));
        KEEL_CO_ASSERT_NO_ERROR(co_await writer.close_write());
        auto got = co_await receive_identify(reader);
        KEEL_CO_ASSERT(!got);
        EXPECT_EQ(got.error(), net::net_errc::malformed_message);
    });
}

TEST(Identify, InvalidPublicKeyOnAStreamIsAnError) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        auto& writer = *streams.first;
        auto& reader = *streams.second;
        pb::Identify msg;
        msg.set_publickey("not a public key");
        KEEL_CO_ASSERT_NO_ERROR(co_await net::write_length_prefixed(writer, serialize(msg)));
        KEEL_CO_ASSERT_NO_ERROR(co_await writer.close_write());
        auto got = co_await receive_identify(reader);
        KEEL_CO_ASSERT(!got);
        EXPECT_EQ(got.error(), net::net_errc::malformed_message);
    });
}

}  // namespace
}  // namespace keel::protocols
