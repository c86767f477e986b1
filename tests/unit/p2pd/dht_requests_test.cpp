// The DHT part of the control protocol against a DHT that knows no peers (nothing leaves the
// process): requests without the fields their type needs, and unsupported ones, get one ERROR
// response naming them; what needs no lookup is answered; streamed answers are BEGIN ... END;
// a control connection that went away is reported as a write error.
#include "keel/p2pd/dht_requests.hpp"

#include <gtest/gtest.h>

#include <sodium.h>

#include <array>

#include "keel/base/cid.hpp"
#include "keel/base/multihash.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/memory_stream.hpp"
#include "keel/p2pd/control_daemon.hpp"
#include "support/net_test_util.hpp"

namespace keel::p2pd {
namespace {

namespace asio = net::asio;
using namespace std::chrono_literals;
using net::awaitable;
using net::test::run;
using DHTRequest = pb::p2pd::DHTRequest;
using DHTResponse = pb::p2pd::DHTResponse;

struct Answer {
    DhtAnswer result;
    std::vector<Bytes> frames;  // what the client read, one message each
};

// Answers `request` on one end of a memory stream and reads every message from the other.
awaitable<Answer> ask(kad::Dht& dht, DHTRequest request, net::Duration timeout = 2000ms) {
    auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
    Answer out;
    out.result = co_await answer_dht_request(dht, request, *streams.first, timeout);
    co_await streams.first->close_write();
    while (true) {
        auto frame = co_await net::read_length_prefixed(*streams.second, max_control_message);
        if (!frame) break;
        out.frames.push_back(std::move(*frame));
    }
    co_return out;
}

pb::p2pd::Response response_of(const Bytes& frame) {
    pb::p2pd::Response response;
    EXPECT_TRUE(response.ParseFromArray(frame.data(), static_cast<int>(frame.size())));
    return response;
}

DHTResponse dht_response_of(const Bytes& frame) {
    DHTResponse response;
    EXPECT_TRUE(response.ParseFromArray(frame.data(), static_cast<int>(frame.size())));
    return response;
}

// One ERROR response whose message contains `words`.
::testing::AssertionResult is_one_error(const Answer& answer, const std::string& words) {
    if (answer.result.write_error)
        return ::testing::AssertionFailure() << "write error " << answer.result.write_error;
    if (!answer.result.answered_error)
        return ::testing::AssertionFailure() << "answered_error not set";
    if (answer.frames.size() != 1)
        return ::testing::AssertionFailure() << answer.frames.size() << " messages";
    auto response = response_of(answer.frames[0]);
    if (response.type() != pb::p2pd::Response::ERROR)
        return ::testing::AssertionFailure() << "not an ERROR";
    if (response.error().msg().find(words) == std::string::npos)
        return ::testing::AssertionFailure()
               << "\"" << response.error().msg() << "\" lacks \"" << words << "\"";
    return ::testing::AssertionSuccess();
}

std::string as_string(BytesView bytes) {
    return std::string(as_chars(bytes));
}

DHTRequest request_of(DHTRequest::Type type) {
    DHTRequest request;
    request.set_type(type);
    return request;
}

// A DHT node with an identity and no peers.
struct OfflineNode {
    explicit OfflineNode(asio::any_io_executor executor)
        : host(executor, HostConfig(Ed25519KeyPair::generate())), dht(host, kad::DhtConfig{}) {}
    Host host;
    kad::Dht dht;
};

TEST(DhtRequests, RequestsWithoutTheirFieldsAreAnsweredWithAnError) {
    run([]() -> awaitable<void> {
        OfflineNode node(co_await asio::this_coro::executor);
        std::vector<std::pair<DHTRequest, std::string>> cases;
        cases.emplace_back(request_of(DHTRequest::FIND_PEER), "FIND_PEER");
        auto bad_peer = request_of(DHTRequest::FIND_PEER);
        bad_peer.set_peer("not a peer ID");
        cases.emplace_back(bad_peer, "FIND_PEER");
        cases.emplace_back(request_of(DHTRequest::FIND_PROVIDERS), "FIND_PROVIDERS");
        auto bad_cid = request_of(DHTRequest::FIND_PROVIDERS);
        bad_cid.set_cid("not a CID");
        cases.emplace_back(bad_cid, "FIND_PROVIDERS");
        cases.emplace_back(request_of(DHTRequest::GET_CLOSEST_PEERS), "GET_CLOSEST_PEERS");
        cases.emplace_back(request_of(DHTRequest::GET_PUBLIC_KEY), "GET_PUBLIC_KEY");
        cases.emplace_back(request_of(DHTRequest::GET_VALUE), "GET_VALUE");
        cases.emplace_back(request_of(DHTRequest::SEARCH_VALUE), "SEARCH_VALUE");
        auto key_only = request_of(DHTRequest::PUT_VALUE);
        key_only.set_key("/pk/x");
        cases.emplace_back(key_only, "PUT_VALUE");
        auto value_only = request_of(DHTRequest::PUT_VALUE);
        value_only.set_value("v");
        cases.emplace_back(value_only, "PUT_VALUE");
        cases.emplace_back(request_of(DHTRequest::PROVIDE), "PROVIDE");
        for (const auto& c : cases) {
            auto answer = co_await ask(node.dht, c.first);
            EXPECT_TRUE(is_one_error(answer, c.second)) << c.first.ShortDebugString();
        }
    });
}

TEST(DhtRequests, UnsupportedTypeIsAnsweredWithAnError) {
    run([]() -> awaitable<void> {
        OfflineNode node(co_await asio::this_coro::executor);
        const auto request = request_of(DHTRequest::FIND_PEERS_CONNECTED_TO_PEER);
        auto answer = co_await ask(node.dht, request);
        EXPECT_TRUE(is_one_error(answer, "not supported"));
    });
}

TEST(DhtRequests, PublicKeyEmbeddedInThePeerIdNeedsNoLookup) {
    run([]() -> awaitable<void> {
        OfflineNode node(co_await asio::this_coro::executor);
        const auto key = Ed25519KeyPair::generate().public_key();
        auto request = request_of(DHTRequest::GET_PUBLIC_KEY);
        request.set_peer(as_string(PeerId::from_public_key(key).bytes()));
        auto answer = co_await ask(node.dht, request);
        EXPECT_FALSE(answer.result.write_error);
        EXPECT_FALSE(answer.result.answered_error);
        KEEL_CO_ASSERT(answer.frames.size() == 1u);
        auto response = response_of(answer.frames[0]);
        EXPECT_EQ(response.type(), pb::p2pd::Response::OK);
        KEEL_CO_ASSERT(response.has_dht());
        EXPECT_EQ(response.dht().type(), DHTResponse::VALUE);
        EXPECT_EQ(to_bytes(response.dht().value()), key.marshal());
    });
}

TEST(DhtRequests, PublicKeyNobodyKnowsIsAnError) {
    run([]() -> awaitable<void> {
        OfflineNode node(co_await asio::this_coro::executor);
        // A sha2-256 peer ID (as for an RSA key): the key is not in it, nor in our peer store.
        Bytes digest_of(32);
        randombytes_buf(digest_of.data(), digest_of.size());
        auto peer = PeerId::from_bytes(Multihash::sha2_256(digest_of).encode());
        KEEL_CO_ASSERT_OK(peer);
        auto request = request_of(DHTRequest::GET_PUBLIC_KEY);
        request.set_peer(as_string(peer->bytes()));
        auto answer = co_await ask(node.dht, request);
        EXPECT_TRUE(is_one_error(answer, "no public key known"));
    });
}

TEST(DhtRequests, ClosestPeersAreStreamedBetweenBeginAndEnd) {
    run([]() -> awaitable<void> {
        OfflineNode node(co_await asio::this_coro::executor);
        auto request = request_of(DHTRequest::GET_CLOSEST_PEERS);
        request.set_key("some key");
        auto answer = co_await ask(node.dht, request);
        EXPECT_FALSE(answer.result.write_error);
        EXPECT_FALSE(answer.result.answered_error);
        // Nobody to ask: BEGIN inside a Response, no values, then a bare END.
        KEEL_CO_ASSERT(answer.frames.size() == 2u);
        auto begin = response_of(answer.frames[0]);
        EXPECT_EQ(begin.type(), pb::p2pd::Response::OK);
        KEEL_CO_ASSERT(begin.has_dht());
        EXPECT_EQ(begin.dht().type(), DHTResponse::BEGIN);
        EXPECT_EQ(dht_response_of(answer.frames[1]).type(), DHTResponse::END);
    });
}

TEST(DhtRequests, ProvidersAreStreamedBetweenBeginAndEnd) {
    run([]() -> awaitable<void> {
        OfflineNode node(co_await asio::this_coro::executor);
        Bytes data = to_bytes("some content");
        Cid cid{1, Cid::raw, Multihash::sha2_256(data)};
        auto request = request_of(DHTRequest::FIND_PROVIDERS);
        request.set_cid(as_string(cid.to_bytes()));
        request.set_count(5);
        auto answer = co_await ask(node.dht, request);
        EXPECT_FALSE(answer.result.write_error);
        EXPECT_FALSE(answer.result.answered_error);
        KEEL_CO_ASSERT(answer.frames.size() == 2u);
        auto begin = response_of(answer.frames[0]);
        EXPECT_EQ(begin.type(), pb::p2pd::Response::OK);
        EXPECT_EQ(begin.dht().type(), DHTResponse::BEGIN);
        EXPECT_EQ(dht_response_of(answer.frames[1]).type(), DHTResponse::END);
    });
}

// A lookup that fails answers one ERROR. (It aborted the daemon with a double free before: GCC 12
// destroyed the message, a temporary of a ?: inside a co_await, twice.)
TEST(DhtRequests, ValueNobodyHasIsAnError) {
    run([]() -> awaitable<void> {
        OfflineNode node(co_await asio::this_coro::executor);
        const std::array<DHTRequest::Type, 2> types{DHTRequest::GET_VALUE,
                                                    DHTRequest::SEARCH_VALUE};
        for (auto type : types) {
            auto request = request_of(type);
            request.set_key("/pk/nobody");
            auto answer = co_await ask(node.dht, request, 1000ms);
            auto name = type == DHTRequest::GET_VALUE ? "GET_VALUE: " : "SEARCH_VALUE: ";
            EXPECT_TRUE(is_one_error(answer, name));
        }
    });
}

TEST(DhtRequests, PeerNobodyKnowsIsAnError) {
    run([]() -> awaitable<void> {
        OfflineNode node(co_await asio::this_coro::executor);
        auto request = request_of(DHTRequest::FIND_PEER);
        auto peer = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
        request.set_peer(as_string(peer.bytes()));
        auto answer = co_await ask(node.dht, request, 1000ms);
        EXPECT_TRUE(is_one_error(answer, "FIND_PEER: "));
    });
}

TEST(DhtRequests, ControlConnectionGoneIsAWriteError) {
    run([]() -> awaitable<void> {
        OfflineNode node(co_await asio::this_coro::executor);
        auto streams = net::make_memory_stream_pair(co_await asio::this_coro::executor);
        streams.second->reset();
        const auto request = request_of(DHTRequest::FIND_PEERS_CONNECTED_TO_PEER);
        auto result = co_await answer_dht_request(node.dht, request, *streams.first, 1000ms);
        EXPECT_TRUE(result.write_error);
        EXPECT_TRUE(result.answered_error);
    });
}

}  // namespace
}  // namespace keel::p2pd
