// The daemon control protocol's framing: uvarint-length-prefixed protobufs, the length checked
// before anything is read or allocated, and truncated, unparsable or incomplete requests refused.
#include "keel/p2pd/control_messages.hpp"

#include <gtest/gtest.h>

#include <array>

#include "keel/base/codec_errc.hpp"
#include "keel/base/varint.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/p2pd/control_daemon.hpp"
#include "support/net_test_util.hpp"

namespace keel::p2pd {
namespace {

namespace asio = net::asio;
using net::awaitable;
using net::test::ProbeStream;
using net::test::run;

PeerId some_peer() {
    return PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
}

std::string as_string(BytesView bytes) {
    return std::string(as_chars(bytes));
}

pb::p2pd::Request find_peer_request(const PeerId& peer) {
    pb::p2pd::Request request;
    request.set_type(pb::p2pd::Request::DHT);
    auto* dht = request.mutable_dht();
    dht->set_type(pb::p2pd::DHTRequest::FIND_PEER);
    dht->set_peer(as_string(peer.bytes()));
    dht->set_timeout(7);
    return request;
}

// Writes `raw`, half-closes, and reads one request with the daemon's limit.
awaitable<net::result<pb::p2pd::Request>> read_raw(Bytes raw) {
    auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
    if (auto ec = co_await streams.first->write_all(raw)) co_return ec;
    co_await streams.first->close_write();
    co_return co_await read_request(*streams.second, max_control_message);
}

TEST(ControlMessages, RequestRoundTrip) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        const auto request = find_peer_request(some_peer());
        KEEL_CO_ASSERT_NO_ERROR(co_await write_message(*streams.first, request));
        auto got = co_await read_request(*streams.second, max_control_message);
        KEEL_CO_ASSERT_OK(got);
        EXPECT_EQ(got->SerializeAsString(), request.SerializeAsString());
        EXPECT_EQ(got->type(), pb::p2pd::Request::DHT);
        EXPECT_EQ(got->dht().type(), pb::p2pd::DHTRequest::FIND_PEER);
        EXPECT_EQ(got->dht().timeout(), 7);
    });
}

TEST(ControlMessages, RequestsFollowOneAnotherOnOneConnection) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        pb::p2pd::Request identify;
        identify.set_type(pb::p2pd::Request::IDENTIFY);
        const auto dht = find_peer_request(some_peer());
        pb::p2pd::Request list;
        list.set_type(pb::p2pd::Request::LIST_PEERS);
        KEEL_CO_ASSERT_NO_ERROR(co_await write_message(*streams.first, identify));
        KEEL_CO_ASSERT_NO_ERROR(co_await write_message(*streams.first, dht));
        KEEL_CO_ASSERT_NO_ERROR(co_await write_message(*streams.first, list));
        // An IDENTIFY request has no fields past its type: zero-length bodies are messages too.
        const std::array<const pb::p2pd::Request*, 3> sent{&identify, &dht, &list};
        for (const auto* want : sent) {
            auto got = co_await read_request(*streams.second, max_control_message);
            KEEL_CO_ASSERT_OK(got);
            EXPECT_EQ(got->SerializeAsString(), want->SerializeAsString());
        }
    });
}

TEST(ControlMessages, LengthOverTheLimitIsRefusedUnread) {
    run([]() -> awaitable<void> {
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        ProbeStream reader(std::move(streams.second));
        Bytes wire;
        append_uvarint(wire, 1001);
        const auto prefix_size = wire.size();
        wire.resize(wire.size() + 1001, 0x08);
        KEEL_CO_ASSERT_NO_ERROR(co_await streams.first->write_all(wire));
        auto got = co_await read_request(reader, 1000);
        KEEL_CO_ASSERT(!got);
        EXPECT_EQ(got.error(), net::net_errc::message_too_large);
        EXPECT_EQ(reader.log()->bytes_read, prefix_size);  // nothing past the length
    });
}

TEST(ControlMessages, DaemonLimitRefusesAHugeLength) {
    run([]() -> awaitable<void> {
        Bytes wire;
        append_uvarint(wire, std::uint64_t{1} << 40);
        auto got = co_await read_raw(wire);
        KEEL_CO_ASSERT(!got);
        EXPECT_EQ(got.error(), net::net_errc::message_too_large);
        wire.clear();
        append_uvarint(wire, max_control_message + 1);
        got = co_await read_raw(wire);
        KEEL_CO_ASSERT(!got);
        EXPECT_EQ(got.error(), net::net_errc::message_too_large);
    });
}

TEST(ControlMessages, TruncatedInputIsRefused) {
    run([]() -> awaitable<void> {
        const auto whole =
            net::length_prefixed(to_bytes(find_peer_request(some_peer()).SerializeAsString()));
        // The body cut short, the length prefix cut short, and nothing at all.
        Bytes body_cut(whole.begin(), whole.end() - 3);
        auto got = co_await read_raw(body_cut);
        EXPECT_FALSE(got);
        Bytes prefix_cut{0x80};
        got = co_await read_raw(prefix_cut);
        EXPECT_FALSE(got);
        Bytes nothing;
        got = co_await read_raw(nothing);
        EXPECT_FALSE(got);
    });
}

TEST(ControlMessages, UnparsableBodyIsInvalid) {
    run([]() -> awaitable<void> {
        const Bytes junk{0x12, 0x09, 0x01};  // field 2, 9 bytes long, with 1
        auto got = co_await read_raw(net::length_prefixed(junk));
        KEEL_CO_ASSERT(!got);
        EXPECT_EQ(got.error(), codec_errc::invalid_value);
    });
}

TEST(ControlMessages, MissingRequiredFieldsAreInvalid) {
    run([]() -> awaitable<void> {
        // No type at all: an empty body.
        const Bytes empty;
        auto got = co_await read_raw(net::length_prefixed(empty));
        KEEL_CO_ASSERT(!got);
        EXPECT_EQ(got.error(), codec_errc::invalid_value);

        // A DHT request whose DHTRequest has no type.
        pb::p2pd::Request request;
        request.set_type(pb::p2pd::Request::DHT);
        request.mutable_dht()->set_key("k");
        got = co_await read_raw(net::length_prefixed(to_bytes(request.SerializePartialAsString())));
        KEEL_CO_ASSERT(!got);
        EXPECT_EQ(got.error(), codec_errc::invalid_value);
    });
}

TEST(ControlMessages, OkAndErrorResponses) {
    auto ok = ok_response();
    EXPECT_EQ(ok.type(), pb::p2pd::Response::OK);
    EXPECT_FALSE(ok.has_error());
    EXPECT_TRUE(ok.IsInitialized());

    auto error = error_response("FIND_PEER needs a valid peer ID");
    EXPECT_EQ(error.type(), pb::p2pd::Response::ERROR);
    ASSERT_TRUE(error.has_error());
    EXPECT_EQ(error.error().msg(), "FIND_PEER needs a valid peer ID");
    EXPECT_TRUE(error.IsInitialized());

    // What a client reads back.
    pb::p2pd::Response parsed;
    ASSERT_TRUE(parsed.ParseFromString(error.SerializeAsString()));
    EXPECT_EQ(parsed.error().msg(), "FIND_PEER needs a valid peer ID");
}

TEST(ControlMessages, PeerIdField) {
    const auto peer = some_peer();
    auto parsed = peer_id_field(as_string(peer.bytes()));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, peer);
    EXPECT_FALSE(peer_id_field("").has_value());
    EXPECT_FALSE(peer_id_field("not a multihash").has_value());
    EXPECT_FALSE(peer_id_field(peer.to_base58()).has_value());  // text is not the wire form
    auto cut = as_string(peer.bytes());
    cut.pop_back();
    EXPECT_FALSE(peer_id_field(cut).has_value());
}

TEST(ControlMessages, PeerInfoCarriesTheIdAndAddresses) {
    const auto peer = some_peer();
    const std::vector<Multiaddr> addrs{Multiaddr::parse("/ip4/127.0.0.1/tcp/4001").value(),
                                       Multiaddr::parse("/ip6/::1/tcp/4002").value()};
    auto info = peer_info(peer, addrs);
    EXPECT_TRUE(info.IsInitialized());
    EXPECT_EQ(peer_id_field(info.id()), peer);
    ASSERT_EQ(info.addrs_size(), 2);
    for (int i = 0; i < 2; ++i) {
        auto addr = Multiaddr::from_bytes(as_bytes(info.addrs(i)));
        ASSERT_TRUE(addr) << i;
        EXPECT_EQ(*addr, addrs[static_cast<std::size_t>(i)]);
    }
    EXPECT_EQ(peer_info(peer, {}).addrs_size(), 0);
}

}  // namespace
}  // namespace keel::p2pd
