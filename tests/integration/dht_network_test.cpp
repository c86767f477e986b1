// The Kademlia DHT end to end, over 127.0.0.1: a 50-node Keel network in one process on one
// io_context: every node finds every other node and every provider record. (Bad input against a
// Keel DHT server: dht_bad_input_test.cpp; persistence across kill -9: dht_persistence_test.cpp.)
// Also what a request's stream carries.
#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>

#include "keel/kad/dht.hpp"
#include "keel/kad/kad_key.hpp"
#include "keel/net/framing.hpp"
#include "keel/protocols/ping.hpp"
#include "support/deadlines.hpp"
#include "support/dht_nodes.hpp"
#include "support/kad_wire.hpp"

namespace keel::test {
namespace {

// ---- a 50-node network in one process -------------------------------------------------------

constexpr std::size_t network_size = 50;
constexpr std::size_t provider_count = 10;

// `dht` looks up each target in turn.
net::awaitable<void> find_all(kad::Dht& dht, std::vector<PeerId> targets,
                              std::vector<Multiaddr> want, std::shared_ptr<FindTally> tally) {
    for (std::size_t i = 0; i < targets.size(); ++i) {
        auto r = co_await dht.find_peer(targets[i]);
        if (r && has_addr(*r, want[i]))
            ++tally->found;
        else
            tally->fail(dht.host().peer_id().short_string() + " -> " + targets[i].short_string() +
                        ": " + (r ? "wrong addresses" : r.error().message()));
    }
}

net::awaitable<void> closest_first(kad::Dht& dht, PeerId target, std::shared_ptr<FindTally> tally,
                                   std::shared_ptr<std::vector<int>> hops) {
    auto r = co_await dht.get_closest_peers(target.bytes());
    hops->push_back(r.hops);
    if (!r.closest.empty() && r.closest.front() == target)
        ++tally->found;
    else
        tally->fail(dht.host().peer_id().short_string() + ": closest to " + target.short_string() +
                    " is not the target");
}

net::awaitable<void> provide_one(kad::Dht& dht, Bytes key,
                                 std::shared_ptr<std::vector<std::size_t>> acknowledged,
                                 std::size_t index) {
    auto r = co_await dht.provide(std::move(key));
    if (r) (*acknowledged)[index] = r->acknowledged;
}

net::awaitable<void> find_provider(kad::Dht& dht, Bytes key, PeerId provider,
                                   std::shared_ptr<FindTally> tally) {
    auto found = co_await dht.find_providers(std::move(key), 1);
    if (std::any_of(found.begin(), found.end(),
                    [&](const kad::ProviderEntry& e) { return e.provider == provider; }))
        ++tally->found;
    else
        tally->fail(dht.host().peer_id().short_string() + " missed provider " +
                    provider.short_string());
}

class DhtNetwork : public ::testing::Test {
  protected:
    void TearDown() override { shut_down_nodes(io_, nodes_, no_hosts_); }

    // Node 0 is the bootstrap; the other 49 bootstrap from it all at once (parallel co_spawn).
    // Bootstrap = dial node 0, then a self-lookup (plus lookups into stale buckets).
    void build() {
        auto t0 = net::Clock::now();
        for (std::size_t i = 0; i < network_size; ++i)
            nodes_.push_back(make_node(io_, dht_config(true, 5s)));
        auto reached = std::make_shared<std::vector<std::size_t>>(network_size, 0);
        bool done = run_parallel(
            io_, network_size - 1, network_size,
            [this, reached](std::size_t i) -> net::awaitable<void> {
                return bootstrap_one(*nodes_[i + 1].dht, nodes_[0].addr, reached, i + 1);
            },
            test::generous(30s));
        ASSERT_TRUE(done) << "bootstrap did not finish";
        for (std::size_t i = 1; i < network_size; ++i) ASSERT_EQ((*reached)[i], 1u) << i;
        std::size_t total = 0, smallest = network_size;
        for (auto& n : nodes_) {
            total += n.dht->routing_table().size();
            smallest = std::min(smallest, n.dht->routing_table().size());
        }
        std::printf(
            "[ network  ] %zu nodes bootstrapped in %.2f s; routing tables: mean %.1f, "
            "min %zu peers\n",
            network_size, seconds_since(t0), double(total) / network_size, smallest);
    }

    std::uint64_t total_lookups() const {
        std::uint64_t n = 0;
        for (const auto& node : nodes_) n += node.dht->stats().lookups;
        return n;
    }

    asio::io_context io_;
    std::vector<DhtNode> nodes_;
    std::vector<std::unique_ptr<Host>> no_hosts_;
};

// All pairs, not a sample: 50 x 49 = 2450 find_peer calls take a few seconds in one process on
// 127.0.0.1, well inside the 60 s budget. Each node runs its 49 lookups one after another; the
// 50 nodes run at the same time. find_peer answers from the peer store when a connection to the
// target is already open, so the test closes all connections first, prints how many iterative
// lookups actually ran, and also checks 500 get_closest_peers(target) lookups (10 per node),
// which no open connection can shortcut: the target itself must come back first.
TEST_F(DhtNetwork, EveryNodeFindsEveryNodeAndEveryProvider) {
    ASSERT_NO_FATAL_FAILURE(build());

    // Bootstrapping (a self-lookup plus one lookup per stale bucket, k = 20 of 50 nodes) leaves
    // the network almost fully meshed, and find_peer answers from the peer store without a
    // lookup when the target is connected. Hang up every connection first (routing tables and
    // peer stores stay, as after a connection manager trimmed the connections), so that the
    // lookups below really run; they dial as they go, so later ones may find their target
    // connected again: the test prints how many iterative lookups ran.
    auto t0 = net::Clock::now();
    for (auto& n : nodes_)
        for (const auto& c : n.host->connections()) c->session->close();
    ASSERT_TRUE(run_until(
        io_,
        [&] {
            return std::all_of(nodes_.begin(), nodes_.end(),
                               [](const DhtNode& n) { return n.host->connections().empty(); });
        },
        test::generous(10s)))
        << "connections did not close";
    std::printf("[ network  ] all connections closed in %.2f s\n", seconds_since(t0));

    // -- find_peer, all pairs
    t0 = net::Clock::now();
    auto lookups_before = total_lookups();
    auto tally = std::make_shared<FindTally>();
    bool done = run_parallel(
        io_, network_size, network_size,
        [this, tally](std::size_t i) -> net::awaitable<void> {
            std::vector<PeerId> targets;
            std::vector<Multiaddr> want;
            for (std::size_t j = 0; j < network_size; ++j) {
                if (j == i) continue;
                targets.push_back(nodes_[j].id());
                want.push_back(nodes_[j].addr);
            }
            return find_all(*nodes_[i].dht, std::move(targets), std::move(want), tally);
        },
        test::generous(40s));
    ASSERT_TRUE(done) << "find_peer did not finish";
    std::printf(
        "[ find_peer] %zu found, %zu failed of %zu in %.2f s (%llu iterative lookups, the "
        "rest already connected)\n",
        tally->found, tally->failed, network_size * (network_size - 1), seconds_since(t0),
        static_cast<unsigned long long>(total_lookups() - lookups_before));
    for (const auto& f : tally->failures) ADD_FAILURE() << f;
    EXPECT_EQ(tally->found, network_size * (network_size - 1));

    // -- get_closest_peers: 10 targets per node; the target must come back first
    t0 = net::Clock::now();
    constexpr std::size_t samples = 10 * network_size;
    auto closest = std::make_shared<FindTally>();
    auto hops = std::make_shared<std::vector<int>>();
    done = run_parallel(
        io_, samples, network_size,
        [this, closest, hops](std::size_t s) -> net::awaitable<void> {
            std::size_t from = s % network_size;
            std::size_t to = (from + 1 + (s / network_size) * 5) % network_size;  // never `from`
            return closest_first(*nodes_[from].dht, nodes_[to].id(), closest, hops);
        },
        test::generous(30s));
    ASSERT_TRUE(done) << "get_closest_peers did not finish";
    int max_hops = 0;
    double mean_hops = 0;
    for (int h : *hops) {
        max_hops = std::max(max_hops, h);
        mean_hops += h;
    }
    if (!hops->empty()) mean_hops /= double(hops->size());
    std::printf(
        "[ closest  ] %zu of %zu get_closest_peers put the target first in %.2f s; hops "
        "mean %.2f, max %d\n",
        closest->found, samples, seconds_since(t0), mean_hops, max_hops);
    for (const auto& f : closest->failures) ADD_FAILURE() << f;
    EXPECT_EQ(closest->found, samples);

    // -- providers: 10 nodes each provide a distinct key; every node finds every provider
    t0 = net::Clock::now();
    std::vector<Bytes> keys;
    std::vector<std::size_t> providers;
    for (std::size_t p = 0; p < provider_count; ++p) {
        keys.push_back(to_bytes("dht-network-test-key-" + std::to_string(p)));
        providers.push_back(1 + p * 5);  // nodes 1, 6, 11, …, 46
    }
    auto acknowledged = std::make_shared<std::vector<std::size_t>>(provider_count, 0);
    done = run_parallel(
        io_, provider_count, provider_count,
        [this, keys, providers, acknowledged](std::size_t p) -> net::awaitable<void> {
            return provide_one(*nodes_[providers[p]].dht, keys[p], acknowledged, p);
        },
        test::generous(30s));
    ASSERT_TRUE(done) << "provide did not finish";
    for (std::size_t p = 0; p < provider_count; ++p)
        EXPECT_GE((*acknowledged)[p], 1u) << "provider " << p << " reached nobody";
    auto found = std::make_shared<FindTally>();
    done = run_parallel(
        io_, network_size * provider_count, network_size,
        [this, keys, providers, found](std::size_t j) -> net::awaitable<void> {
            std::size_t node = j / provider_count, p = j % provider_count;
            return find_provider(*nodes_[node].dht, keys[p], nodes_[providers[p]].id(), found);
        },
        test::generous(30s));
    ASSERT_TRUE(done) << "find_providers did not finish";
    std::printf(
        "[ providers] %zu keys provided (acknowledged by %zu..%zu peers each); %zu of %zu "
        "find_providers found the provider in %.2f s\n",
        provider_count, *std::min_element(acknowledged->begin(), acknowledged->end()),
        *std::max_element(acknowledged->begin(), acknowledged->end()), found->found,
        network_size * provider_count, seconds_since(t0));
    for (const auto& f : found->failures) ADD_FAILURE() << f;
    EXPECT_EQ(found->found, network_size * provider_count);

    std::size_t connections = 0;
    for (auto& n : nodes_) connections += n.host->connections().size();
    std::printf("[ network  ] %zu connection ends open (one socket each)\n", connections);
}

// ---- a request's stream ---------------------------------------------------------------------

// Nothing but the request goes on a request's stream, so its FIN goes with it: the server reads
// the end of the stream before it answers and answers and closes in one write, where a FIN sent
// after the answer would wake it once more per request (docs/performance.md).
TEST(DhtRequest, TheStreamIsHalfClosedWithTheRequest) {
    asio::io_context io;
    std::vector<DhtNode> nodes;
    std::vector<std::unique_ptr<Host>> hosts;
    nodes.push_back(make_node(io, dht_config(false, 5s)));
    hosts.push_back(std::make_unique<Host>(io.get_executor(), test_config()));
    Host& server = *hosts.back();
    auto bound = server.listen(loopback_any_port());
    ASSERT_TRUE(bound);
    auto eof_before_answer = std::make_shared<std::optional<bool>>();
    server.set_handler(
        kad_protocol(),
        [eof_before_answer](std::shared_ptr<net::YamuxStream> stream,
                            std::shared_ptr<Connection>) -> net::awaitable<void> {
            auto request = co_await net::read_length_prefixed(*stream, kad::max_message_size);
            if (!request) co_return;
            // Bounded: without the FIN this read waits for the client, which waits for us.
            stream->set_deadline(net::Clock::now() + 2s);
            std::array<std::uint8_t, 1> more{};
            auto next = co_await stream->read_some(more);
            *eof_before_answer = !next && next.error() == asio::error::eof;
            stream->set_deadline(net::Clock::time_point::max());
            auto decoded = kad::decode_message(*request);
            if (!decoded) co_return;
            kad::KadMessage answer;
            answer.type = decoded->type;
            answer.key = decoded->key;
            co_await net::write_length_prefixed(*stream, kad::encode_message(answer));
        });
    std::vector<Multiaddr> addrs{with_peer(*bound, server.peer_id())};
    auto asked = message(kad::MessageType::find_node, random_bytes(32, 5));
    auto r = run_task(io, nodes[0].dht->request(server.peer_id(), asked, addrs), 10s);
    ASSERT_TRUE(r.has_value()) << "the request did not finish";
    EXPECT_TRUE(*r) << r->error().message();
    ASSERT_TRUE(eof_before_answer->has_value()) << "the server never read a request";
    EXPECT_TRUE(**eof_before_answer) << "no end of stream before the answer";
    shut_down_nodes(io, nodes, hosts);
}

// A newcomer that finds its bucket full has the bucket's member pinged, once: its identify
// pushes (here ten, as fast as it can) do not start a ping each. Each would be a stream to the
// same member, and any failure among them would evict it.
TEST(DhtRoutingTable, ANewcomerThatPushesIdentifyHasTheMemberCheckedOnce) {
    asio::io_context io;
    std::vector<DhtNode> nodes;
    nodes.reserve(3);  // us, the member, the newcomer: references to them stay valid
    std::vector<std::unique_ptr<Host>> hosts;
    auto one_per_bucket = dht_config(true, 3s);
    one_per_bucket.k = 1;
    nodes.push_back(make_node(io, one_per_bucket));
    auto& us = nodes[0];
    // The member and the newcomer: two peers of the same bucket, the widest (half of all IDs fall
    // in it, so 64 tries miss two less than once in 10^17 runs). A member drawn at random could
    // sit in a deep bucket whose newcomer 64 tries did not find: about 2 % of runs, worked out.
    std::vector<DhtNode> others;  // the candidates of other buckets, never connected
    for (int tries = 0; tries < 64 && nodes.size() < 3; ++tries) {
        auto candidate = make_node(io, dht_config(true, 3s));
        const bool widest =
            kad::common_prefix_length(kad::kad_key(us.id()), kad::kad_key(candidate.id())) == 0;
        (widest ? nodes : others).push_back(std::move(candidate));
    }
    ASSERT_EQ(nodes.size(), 3u) << "no two peers for our widest bucket";
    // The member takes pings and never answers them, so the check lasts the whole rpc_timeout.
    auto pings = std::make_shared<int>(0);
    nodes[1].host->set_handler(std::string(protocols::ping_protocol_id),
                               [pings](std::shared_ptr<net::YamuxStream> stream,
                                       std::shared_ptr<Connection>) -> net::awaitable<void> {
                                   ++*pings;
                                   std::array<std::uint8_t, 64> sink{};
                                   while (co_await stream->read_some(sink)) {
                                   }
                               });
    const PeerId member = nodes[1].id();
    auto& newcomer = nodes[2];

    auto connected = run_task(io, nodes[1].host->connect(us.addr), 10s);
    ASSERT_TRUE(connected && *connected);
    ASSERT_TRUE(run_until(
        io, [&] { return us.dht->routing_table().contains(member); }, 5s));
    auto identified = std::make_shared<int>(0);
    us.host->observe_identified([identified, id = newcomer.id()](const auto& c) {
        if (c->peer == id) ++*identified;
    });
    connected = run_task(io, newcomer.host->connect(us.addr), 10s);
    ASSERT_TRUE(connected && *connected);
    for (int i = 0; i < 10; ++i)  // each new protocol is an identify push
        newcomer.host->set_handler(
            "/keel/test/" + std::to_string(i),
            [](std::shared_ptr<net::YamuxStream>,
               std::shared_ptr<Connection>) -> net::awaitable<void> { co_return; });
    ASSERT_TRUE(run_until(
        io, [&] { return *identified >= 11; }, 5s))
        << *identified << " identify records and pushes seen";
    EXPECT_EQ(us.dht->stats().stale_checks, 1u);
    EXPECT_TRUE(run_until(
        io, [&] { return *pings >= 1; }, 5s));
    EXPECT_EQ(*pings, 1);
    // The member never answered: once the check gives up, the newcomer has its place.
    EXPECT_TRUE(run_until(
        io, [&] { return us.dht->routing_table().contains(newcomer.id()); }, 10s));
    EXPECT_FALSE(us.dht->routing_table().contains(member));
    shut_down_nodes(io, others, hosts);
    shut_down_nodes(io, nodes, hosts);
}

}  // namespace
}  // namespace keel::test
