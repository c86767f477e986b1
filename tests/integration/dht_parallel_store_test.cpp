// Dht::provide and Dht::put_value send to the closest peers in parallel under one rpc_timeout: a
// network where most of the closest peers answer FIND_NODE but then never answer ADD_PROVIDER
// (nor the PING after it) or PUT_VALUE still provides and stores in about one rpc_timeout, not
// one per stalling peer; the peers that answer are counted; and stopping the DHT ends the sends
// at once.
#include <algorithm>
#include <map>

#include "keel/kad/dht.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/yamux_stream.hpp"
#include "support/dht_nodes.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

// Requests a stalling peer received, by type.
using Received = std::map<kad::MessageType, std::size_t>;

// Answers FIND_NODE (with no closer peers), so that lookups count it among the closest peers;
// reads every other request and never answers it. The stream stays open until the sender gives
// up.
net::awaitable<void> stall_serve(std::shared_ptr<net::YamuxStream> stream,
                                 std::shared_ptr<Received> received) {
    while (true) {
        auto bytes = co_await net::read_length_prefixed(*stream, kad::max_message_size);
        if (!bytes) co_return;
        auto request = kad::decode_message(*bytes);
        if (!request) {
            stream->reset();
            co_return;
        }
        ++(*received)[request->type];
        if (request->type != kad::MessageType::find_node) continue;
        kad::KadMessage answer;
        answer.type = kad::MessageType::find_node;
        answer.key = request->key;
        if (co_await net::write_length_prefixed(*stream, kad::encode_message(answer))) co_return;
    }
}

struct StallingPeer {
    std::unique_ptr<Host> host;
    Multiaddr addr;
    std::shared_ptr<Received> received = std::make_shared<Received>();

    const PeerId& id() const { return host->peer_id(); }
    std::size_t got(kad::MessageType type) const {
        auto it = received->find(type);
        return it == received->end() ? 0 : it->second;
    }
};

StallingPeer make_stalling_peer(asio::io_context& io) {
    StallingPeer peer;
    peer.host = std::make_unique<Host>(io.get_executor(), test_config());
    auto bound = peer.host->listen(loopback_any_port());
    EXPECT_TRUE(bound) << bound.error().message();
    if (bound) peer.addr = with_peer(*bound, peer.host->peer_id());
    peer.host->set_handler(kad_protocol(),
                           [received = peer.received](std::shared_ptr<net::YamuxStream> stream,
                                                      std::shared_ptr<Connection>) {
                               return stall_serve(std::move(stream), received);
                           });
    return peer;
}

constexpr std::size_t answering_count = 3;
constexpr std::size_t stalling_count = 6;

class DhtParallelStore : public ::testing::Test {
  protected:
    void TearDown() override {
        std::vector<Host*> hosts;
        for (auto* n : all_nodes()) {
            n->dht->stop();
            hosts.push_back(n->host.get());
        }
        for (auto& s : stalling_) hosts.push_back(s.host.get());
        shut_down(io_, hosts);
        for (auto* n : all_nodes()) n->dht.reset();
    }

    std::vector<DhtNode*> all_nodes() {
        std::vector<DhtNode*> out;
        if (node_.dht) out.push_back(&node_);
        for (auto& s : answering_) out.push_back(&s);
        return out;
    }

    // `node_` (a DHT client with `rpc_timeout`) knows three Keel DHT servers and six stalling
    // peers: every one of them is among the closest peers of any key.
    void start(net::Duration rpc_timeout) {
        node_ = make_node(io_, dht_config(false, rpc_timeout));
        for (std::size_t i = 0; i < answering_count; ++i)
            answering_.push_back(make_node(io_, dht_config(true, 2s)));
        for (std::size_t i = 0; i < stalling_count; ++i)
            stalling_.push_back(make_stalling_peer(io_));
        for (auto& s : answering_) ASSERT_TRUE(join(s.addr, s.id()));
        for (auto& s : stalling_) ASSERT_TRUE(join(s.addr, s.id()));
    }

    ::testing::AssertionResult join(const Multiaddr& to, const PeerId& to_id) {
        auto conn = run_task(io_, node_.host->connect(to), 10s);
        if (!conn || !*conn) return ::testing::AssertionFailure() << "cannot connect";
        if (!run_until(
                io_, [&] { return node_.dht->routing_table().contains(to_id); }, 10s))
            return ::testing::AssertionFailure() << "peer never entered the routing table";
        return ::testing::AssertionSuccess();
    }

    // A record put_value accepts: "/pk/<node's peer ID>" -> node's public key.
    std::pair<Bytes, Bytes> pk_record() const {
        Bytes key = to_bytes("/pk/");
        key.insert(key.end(), node_.id().bytes().begin(), node_.id().bytes().end());
        return {key, node_.host->config().identity.public_key().marshal()};
    }

    asio::io_context io_;
    DhtNode node_;
    std::vector<DhtNode> answering_;
    std::vector<StallingPeer> stalling_;
};

TEST_F(DhtParallelStore, ProvideWithStallingPeersTakesAboutOneRpcTimeout) {
    // A stalling peer costs rpc_timeout / 2 (the wait for the PING after ADD_PROVIDER): one after
    // another, six cost 3 s; in parallel, 0.5 s.
    const auto rpc_timeout = 1000ms;
    ASSERT_NO_FATAL_FAILURE(start(rpc_timeout));
    auto t0 = net::Clock::now();
    auto result = run_task(io_, node_.dht->provide(to_bytes("parallel-provide-key")), 15s);
    ASSERT_TRUE(result.has_value()) << "provide did not finish";
    double took = seconds_since(t0);
    ASSERT_TRUE(*result) << result->error().message();
    std::printf("[ provide  ] %zu sent, %zu acknowledged, %zu stalling peers, %.3f s\n",
                (*result)->sent, (*result)->acknowledged, stalling_count, took);
    // A stalling peer got the record but never acknowledged it; every Keel server acknowledged.
    EXPECT_EQ((*result)->sent, answering_count + stalling_count);
    EXPECT_EQ((*result)->acknowledged, answering_count);
    EXPECT_LT(took, 1.5);  // one after another: >= 3 s
    for (const auto& s : stalling_) EXPECT_EQ(s.got(kad::MessageType::add_provider), 1u);
    for (const auto& s : answering_) EXPECT_EQ(s.dht->provider_store().record_count(), 1u);
}

TEST_F(DhtParallelStore, PutValueWithStallingPeersTakesAboutOneRpcTimeout) {
    // A stalling peer costs the whole rpc_timeout: one after another, six cost 6 s.
    const auto rpc_timeout = 1000ms;
    ASSERT_NO_FATAL_FAILURE(start(rpc_timeout));
    auto [key, value] = pk_record();
    auto t0 = net::Clock::now();
    auto stored = run_task(io_, node_.dht->put_value(key, value), 15s);
    ASSERT_TRUE(stored.has_value()) << "put_value did not finish";
    double took = seconds_since(t0);
    ASSERT_TRUE(*stored) << stored->error().message();
    std::printf("[ put      ] stored on %zu peers, %zu stalling peers, %.3f s\n", **stored,
                stalling_count, took);
    EXPECT_EQ(**stored, answering_count);
    EXPECT_LT(took, 2.0);  // one after another: >= 6 s
    for (const auto& s : stalling_) EXPECT_EQ(s.got(kad::MessageType::put_value), 1u);
    for (const auto& s : answering_) EXPECT_EQ(s.dht->record_count(), 1u);
}

TEST_F(DhtParallelStore, StoppingTheDhtEndsTheSendsAtOnce) {
    // With a long rpc_timeout, put_value waits on the stalling peers until the DHT is stopped.
    ASSERT_NO_FATAL_FAILURE(start(10s));
    auto [key, value] = pk_record();
    auto out = std::make_shared<std::optional<net::result<std::size_t>>>();
    asio::co_spawn(io_, node_.dht->put_value(key, value),
                   [out](std::exception_ptr, net::result<std::size_t> r) { out->emplace(r); });
    // Every stalling peer holds a PUT_VALUE, and every Keel server's answer has come back.
    auto answered = [&] {
        return node_.dht->stats().sent.count(kad::MessageType::put_value, kad::RpcOutcome::ok);
    };
    ASSERT_TRUE(run_until(
        io_,
        [&] {
            return answered() == answering_count &&
                   std::all_of(stalling_.begin(), stalling_.end(), [](const StallingPeer& s) {
                       return s.got(kad::MessageType::put_value) == 1;
                   });
        },
        5s));
    EXPECT_FALSE(out->has_value());
    auto t0 = net::Clock::now();
    node_.dht->stop();
    ASSERT_TRUE(run_until(
        io_, [&] { return out->has_value(); }, 5s))
        << "put_value did not end when the DHT stopped";
    double took = seconds_since(t0);
    std::printf("[ stop     ] put_value ended %.3f s after stop()\n", took);
    EXPECT_LT(took, 1.0);
    // The answers that came before the stop still count.
    ASSERT_TRUE(**out) << (*out)->error().message();
    EXPECT_EQ(***out, answering_count);
}

}  // namespace
}  // namespace keel::test
