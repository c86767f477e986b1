// The Kademlia DHT end to end, over 127.0.0.1:
//  (a) a 50-node Keel network in one process on one io_context: every node finds every other
//      node and every provider record;
//  (b) bad input against a Keel DHT server (oversized and malformed frames, garbage peers,
//      forged ADD_PROVIDER, invalid records, self-referencing and silent peers), each followed by
//      a legitimate FIND_NODE that must still be answered;
//  (c) persistence across kill -9 of the keel binary (`keel bootstrap --data-dir D`): provider
//      records acknowledged as durable survive a SIGKILL that lands mid-stream, and the restarted
//      node has the same peer ID; and the routing table the bootstrap persisted comes back after
//      kill -9 and answers FIND_NODE at once, while the peers in it are gone.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include <keel/proto/kad.pb.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "keel/base/varint.hpp"
#include "keel/kad/dht.hpp"
#include "keel/kad/kad_errc.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/yamux_stream.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

PeerId random_peer() {
    return PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
}

// ---- Keel DHT nodes -------------------------------------------------------------------------

struct DhtNode {
    std::unique_ptr<Host> host;
    std::unique_ptr<kad::Dht> dht;
    Multiaddr addr;  // listen address with /p2p

    const PeerId& id() const { return host->peer_id(); }
};

kad::DhtConfig dht_config(bool server, net::Duration rpc_timeout) {
    kad::DhtConfig config;
    config.server_mode = server;
    config.rpc_timeout = rpc_timeout;
    config.lookup_timeout = 20s;
    return config;
}

DhtNode make_node(asio::io_context& io, kad::DhtConfig config) {
    DhtNode node;
    node.host = std::make_unique<Host>(io.get_executor(), test_config());
    auto bound = node.host->listen(loopback_any_port());
    EXPECT_TRUE(bound) << bound.error().message();
    if (bound) node.addr = with_peer(*bound, node.host->peer_id());
    node.dht = std::make_unique<kad::Dht>(*node.host, std::move(config));
    node.dht->start();
    return node;
}

// Stops the DHTs and hosts, lets connections close, then destroys each DHT before its host.
void shut_down_nodes(asio::io_context& io, std::vector<DhtNode>& nodes,
                     std::vector<std::unique_ptr<Host>>& others) {
    std::vector<Host*> hosts;
    for (auto& n : nodes) {
        if (n.dht) n.dht->stop();
        hosts.push_back(n.host.get());
    }
    for (auto& h : others) hosts.push_back(h.get());
    shut_down(io, hosts);
    for (auto& n : nodes) n.dht.reset();
    nodes.clear();
    others.clear();
}

using TaskMaker = std::function<net::awaitable<void>(std::size_t)>;

net::awaitable<void> parallel_worker(std::shared_ptr<std::size_t> next,
                                     std::shared_ptr<std::size_t> finished, std::size_t count,
                                     std::shared_ptr<TaskMaker> make) {
    while (*next < count) {
        std::size_t i = (*next)++;
        co_await (*make)(i);
        ++*finished;
    }
}

// Starts tasks make(0) … make(count - 1) with at most `parallel` in flight (each a coroutine
// doing its own bookkeeping); returns how many have finished so far.
std::shared_ptr<std::size_t> spawn_parallel(asio::io_context& io, std::size_t count,
                                            std::size_t parallel, TaskMaker make) {
    auto next = std::make_shared<std::size_t>(0);
    auto finished = std::make_shared<std::size_t>(0);
    auto maker = std::make_shared<TaskMaker>(std::move(make));
    for (std::size_t w = 0; w < std::min(count, parallel); ++w)
        asio::co_spawn(io, parallel_worker(next, finished, count, maker), asio::detached);
    return finished;
}

// spawn_parallel, then runs `io` until all tasks finished; false on timeout.
bool run_parallel(asio::io_context& io, std::size_t count, std::size_t parallel, TaskMaker make,
                  net::Duration timeout) {
    auto finished = spawn_parallel(io, count, parallel, std::move(make));
    return run_until(
        io, [&] { return *finished == count; }, timeout);
}

bool has_addr(const std::vector<Multiaddr>& addrs, const Multiaddr& want) {
    auto bare = want.without(proto_code::p2p);
    return std::any_of(addrs.begin(), addrs.end(),
                       [&](const Multiaddr& a) { return a.without(proto_code::p2p) == bare; });
}

bool contains_peer(const std::vector<PeerId>& peers, const PeerId& p) {
    return std::find(peers.begin(), peers.end(), p) != peers.end();
}

kad::KadMessage message(kad::MessageType type, Bytes key) {
    kad::KadMessage m;
    m.type = type;
    m.key = std::move(key);
    return m;
}

// One request from `client` to `server`, run to completion.
std::optional<net::result<kad::KadMessage>> ask(asio::io_context& io, kad::Dht& client,
                                                const DhtNode& server, kad::KadMessage m) {
    std::vector<Multiaddr> addrs{server.addr};
    return run_task(io, client.request(server.id(), std::move(m), std::move(addrs)), 10s);
}

// A legitimate FIND_NODE from `client` to `server` is answered, with the right type.
::testing::AssertionResult serves_find_node(asio::io_context& io, kad::Dht& client,
                                            const DhtNode& server) {
    auto r = ask(io, client, server, message(kad::MessageType::find_node, random_bytes(32, 99)));
    if (!r) return ::testing::AssertionFailure() << "FIND_NODE did not finish";
    if (!*r) return ::testing::AssertionFailure() << "FIND_NODE failed: " << r->error().message();
    if ((*r)->type != kad::MessageType::find_node)
        return ::testing::AssertionFailure() << "the answer has the wrong type";
    return ::testing::AssertionSuccess();
}

// Connects `from` to `to` and waits until `to` is in `from`'s routing table (which happens once
// identify shows it speaks our Kademlia protocol).
::testing::AssertionResult join(asio::io_context& io, DhtNode& from, const Multiaddr& to,
                                const PeerId& to_id) {
    auto conn = run_task(io, from.host->connect(to), 10s);
    if (!conn || !*conn) return ::testing::AssertionFailure() << "cannot connect";
    if (!run_until(
            io, [&] { return from.dht->routing_table().contains(to_id); }, 10s))
        return ::testing::AssertionFailure() << "peer never entered the routing table";
    return ::testing::AssertionSuccess();
}

// ---- (a) a 50-node network in one process ---------------------------------------------------

constexpr std::size_t network_size = 50;
constexpr std::size_t provider_count = 10;

struct FindTally {
    std::size_t found = 0;
    std::size_t failed = 0;
    std::vector<std::string> failures;

    void fail(std::string why) {
        ++failed;
        if (failures.size() < 10) failures.push_back(std::move(why));
    }
};

net::awaitable<void> bootstrap_one(kad::Dht& dht, Multiaddr bootstrap,
                                   std::shared_ptr<std::vector<std::size_t>> reached,
                                   std::size_t index) {
    std::vector<Multiaddr> peers{std::move(bootstrap)};
    (*reached)[index] = co_await dht.bootstrap(std::move(peers));
}

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
            30s);
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
        10s))
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
        40s);
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
        30s);
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
        30s);
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
        30s);
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

// ---- (b) bad input against a Keel DHT server ------------------------------------------------

// Collects what the library logs (the "keel" spdlog logger) while it lives.
class LogCapture {
  public:
    LogCapture() : previous_(spdlog::get("keel")) {
        if (previous_) spdlog::drop("keel");
        auto logger = std::make_shared<spdlog::logger>(
            "keel", std::make_shared<spdlog::sinks::ostream_sink_st>(out_));
        logger->set_level(spdlog::level::debug);
        spdlog::register_logger(logger);
    }
    ~LogCapture() {
        spdlog::drop("keel");
        if (previous_) spdlog::register_logger(previous_);
    }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    bool contains(std::string_view text) const {
        return out_.str().find(text) != std::string::npos;
    }
    std::string text() const { return out_.str(); }

  private:
    std::ostringstream out_;
    std::shared_ptr<spdlog::logger> previous_;
};

// A fake DHT server: answers each request with whatever `respond` returns (raw protobuf bytes,
// so that it can send garbage), or nothing at all.
using Responder =
    std::function<std::optional<Bytes>(const kad::KadMessage& request, const Connection& from)>;

net::awaitable<void> fake_serve(std::shared_ptr<net::YamuxStream> stream,
                                std::shared_ptr<Connection> conn,
                                std::shared_ptr<Responder> respond,
                                std::shared_ptr<std::size_t> requests) {
    while (true) {
        auto bytes = co_await net::read_length_prefixed(*stream, kad::max_message_size);
        if (!bytes) co_return;
        ++*requests;
        auto request = kad::decode_message(*bytes);
        if (!request) {
            stream->reset();
            co_return;
        }
        auto answer = (*respond)(*request, *conn);
        if (!answer) continue;  // silent: read the next request, never answer
        if (co_await net::write_length_prefixed(*stream, *answer)) co_return;
    }
}

struct FakeServer {
    Host* host = nullptr;
    Multiaddr addr;
    std::shared_ptr<std::size_t> requests = std::make_shared<std::size_t>(0);
    const PeerId& id() const { return host->peer_id(); }
};

void add_peer(pb::Message& msg, const PeerId& id, const std::vector<Bytes>& addrs) {
    auto* p = msg.add_closerpeers();
    p->set_id(id.bytes().data(), id.bytes().size());
    for (const auto& a : addrs) p->add_addrs(a.data(), a.size());
}

Bytes bare_bytes(const Multiaddr& addr) {
    return addr.without(proto_code::p2p).to_bytes();
}

class DhtBadInput : public ::testing::Test {
  protected:
    void SetUp() override {
        nodes_.push_back(make_node(io_, dht_config(true, 2s)));   // the server under attack
        nodes_.push_back(make_node(io_, dht_config(false, 2s)));  // a well-behaved client
    }
    void TearDown() override { shut_down_nodes(io_, nodes_, fakes_); }

    DhtNode& server() { return nodes_[0]; }
    kad::Dht& probe() { return *nodes_[1].dht; }

    // The server (and `more`, if given) still answer a legitimate FIND_NODE.
    void expect_still_serving(const DhtNode* more = nullptr) {
        EXPECT_TRUE(serves_find_node(io_, probe(), server()));
        if (more) {
            EXPECT_TRUE(serves_find_node(io_, probe(), *more));
        }
    }

    // A plain host owned by the fixture (shut down and destroyed in TearDown).
    Host& make_host() {
        fakes_.push_back(std::make_unique<Host>(io_.get_executor(), test_config()));
        return *fakes_.back();
    }

    FakeServer make_fake(Responder respond) {
        auto host = std::make_unique<Host>(io_.get_executor(), test_config());
        FakeServer fake;
        fake.host = host.get();
        auto bound = host->listen(loopback_any_port());
        EXPECT_TRUE(bound);
        if (bound) fake.addr = with_peer(*bound, host->peer_id());
        auto shared = std::make_shared<Responder>(std::move(respond));
        host->set_handler(kad_protocol(),
                          [shared, requests = fake.requests](
                              std::shared_ptr<net::YamuxStream> stream,
                              std::shared_ptr<Connection> conn) -> net::awaitable<void> {
                              return fake_serve(std::move(stream), std::move(conn), shared,
                                                requests);
                          });
        fakes_.push_back(std::move(host));
        return fake;
    }

    // Raw bytes on a new Kademlia stream from `from` to the server, then up to `answers`
    // length-prefixed answers. Returns the answers and why reading stopped (if it did).
    struct Exchange {
        net::error_code error;
        std::vector<kad::KadMessage> answers;
    };
    static net::awaitable<Exchange> exchange_on(Host& from, Multiaddr to, Bytes raw,
                                                std::size_t answers) {
        Exchange out;
        auto conn = co_await from.connect(to);
        if (!conn) {
            out.error = conn.error().error;
            co_return out;
        }
        std::vector<std::string> wanted{kad_protocol()};
        auto stream = co_await from.new_stream(*conn, std::move(wanted));
        if (!stream) {
            out.error = stream.error().error;
            co_return out;
        }
        if (auto ec = co_await (*stream)->write_all(raw)) {
            out.error = ec;
            co_return out;
        }
        for (std::size_t i = 0; i < answers; ++i) {
            auto bytes = co_await net::read_length_prefixed(**stream, kad::max_message_size);
            if (!bytes) {
                out.error = bytes.error();
                co_return out;
            }
            auto m = kad::decode_message(*bytes);
            if (!m) {
                out.error = m.error();
                co_return out;
            }
            out.answers.push_back(std::move(*m));
        }
        co_await (*stream)->close_write();
        co_return out;
    }
    Exchange exchange(Host& from, Bytes raw, std::size_t answers) {
        auto r = run_task(io_, exchange_on(from, server().addr, std::move(raw), answers), 10s);
        EXPECT_TRUE(r.has_value()) << "exchange did not finish";
        return r ? std::move(*r) : Exchange{make_error_code(net::net_errc::timeout), {}};
    }

    asio::io_context io_;
    std::vector<DhtNode> nodes_;
    std::vector<std::unique_ptr<Host>> fakes_;
};

Bytes frame(const kad::KadMessage& m) {
    return net::length_prefixed(kad::encode_message(m));
}

TEST_F(DhtBadInput, OversizedMessageResetsTheStreamAndIsLogged) {
    LogCapture log;
    Host& attacker = make_host();
    Bytes raw;
    append_uvarint(raw, kad::max_message_size + 1);  // 1 MiB + 1: over the limit
    raw.resize(raw.size() + 64, 0xab);
    auto ex = exchange(attacker, raw, 1);
    EXPECT_TRUE(ex.error) << "the server answered an oversized message";
    EXPECT_TRUE(ex.answers.empty());
    EXPECT_TRUE(run_until(
        io_, [&] { return log.contains("event=kad_bad_request"); }, 5s))
        << log.text();
    // Only the stream was reset: the same connection still carries a good request.
    Bytes good = frame(message(kad::MessageType::find_node, to_bytes("k")));
    auto again = exchange(attacker, good, 1);
    EXPECT_FALSE(again.error) << again.error.message();
    ASSERT_EQ(again.answers.size(), 1u);
    EXPECT_EQ(again.answers[0].type, kad::MessageType::find_node);
    expect_still_serving();
}

TEST_F(DhtBadInput, MalformedMessageResetsTheStream) {
    Host& attacker = make_host();
    Bytes junk{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    auto ex = exchange(attacker, net::length_prefixed(junk), 1);
    EXPECT_TRUE(ex.error);
    EXPECT_TRUE(ex.answers.empty());
    // An unknown message type is malformed too.
    const Bytes unknown_type{0x08, 0x09};
    ex = exchange(attacker, net::length_prefixed(unknown_type), 1);
    EXPECT_TRUE(ex.error);
    expect_still_serving();
}

TEST_F(DhtBadInput, GarbageCloserPeersAreIgnored) {
    // A Keel node that looks up through a fake server answering with garbage: unparseable peer
    // IDs, empty IDs, unparseable addresses, a peer with only unparseable addresses. Mixed in is
    // one real peer (the Keel server) with a good address, which the lookup must use.
    auto lookup_node = make_node(io_, dht_config(true, 2s));
    nodes_.push_back(std::move(lookup_node));
    DhtNode& node = nodes_.back();
    const PeerId real = server().id();
    const Bytes real_addr = bare_bytes(server().addr);
    const PeerId addrless = random_peer();
    auto fake = make_fake([=](const kad::KadMessage& req, const Connection&) {
        pb::Message msg;
        msg.set_type(static_cast<pb::Message::MessageType>(req.type));
        msg.set_key(req.key.data(), req.key.size());
        auto* p = msg.add_closerpeers();
        p->set_id("this is no multihash");
        p->add_addrs(real_addr.data(), real_addr.size());
        msg.add_closerpeers();  // no ID at all
        p = msg.add_closerpeers();
        p->set_id(std::string("\x12\x20\x01\x02", 4));  // sha2-256 multihash cut short
        std::vector<Bytes> junk_addrs{to_bytes("\xff\xfe garbage"), Bytes{}, Bytes{0x04, 127}};
        add_peer(msg, addrless, junk_addrs);
        std::vector<Bytes> real_addrs{to_bytes("\x06\x06"), real_addr};
        add_peer(msg, real, real_addrs);
        return std::optional<Bytes>(to_bytes(msg.SerializeAsString()));
    });
    ASSERT_TRUE(join(io_, node, fake.addr, fake.id()));

    // find_peer reaches the real server only through the fake's answer.
    auto found = run_task(io_, node.dht->find_peer(real), 15s);
    ASSERT_TRUE(found.has_value()) << "find_peer did not finish";
    ASSERT_TRUE(*found) << found->error().message();
    EXPECT_TRUE(has_addr(**found, server().addr));
    EXPECT_EQ((*found)->size(), 1u);  // the unparseable address was dropped

    auto t0 = net::Clock::now();
    auto result = run_task(io_, node.dht->get_closest_peers(random_bytes(32, 7)), 15s);
    ASSERT_TRUE(result.has_value()) << "lookup did not finish";
    std::printf("[ garbage  ] lookup: %zu answered, %zu failed, %d hops, %.3f s\n", result->queried,
                result->failed, result->hops, seconds_since(t0));
    EXPECT_TRUE(contains_peer(result->closest, fake.id()));
    EXPECT_TRUE(contains_peer(result->closest, real));
    EXPECT_FALSE(contains_peer(result->closest, addrless));
    EXPECT_GE(result->failed, 1u);  // the peer without a usable address
    EXPECT_GE(*fake.requests, 2u);
    EXPECT_FALSE(node.dht->routing_table().contains(addrless));
    expect_still_serving(&node);
}

TEST_F(DhtBadInput, AddProviderForAnotherPeerIsRejected) {
    kad::Dht& client = probe();
    const PeerId forged = random_peer();
    const Bytes forged_key = to_bytes("forged-provider-key");
    auto announce = [&](const Bytes& key, std::vector<PeerId> who) {
        auto m = message(kad::MessageType::add_provider, key);
        for (const auto& id : who)
            m.provider_peers.push_back(
                kad::KadPeer{id, {Multiaddr::parse("/ip4/127.0.0.1/tcp/9").value()}, false});
        auto r = ask(io_, client, server(), std::move(m));
        ASSERT_TRUE(r.has_value() && *r) << "ADD_PROVIDER was not sent";
    };
    auto providers_of = [&](const Bytes& key) {
        std::vector<PeerId> out;
        auto r = ask(io_, client, server(), message(kad::MessageType::get_providers, key));
        EXPECT_TRUE(r.has_value() && *r) << "GET_PROVIDERS failed";
        if (r && *r)
            for (const auto& p : (*r)->provider_peers) out.push_back(p.id);
        return out;
    };

    announce(forged_key, {forged});
    EXPECT_TRUE(providers_of(forged_key).empty());
    EXPECT_EQ(server().dht->stats().served.count(kad::MessageType::add_provider,
                                                 kad::RpcOutcome::rejected),
              1u);
    EXPECT_EQ(server().dht->provider_store().record_count(), 0u);

    // A mixed announcement keeps only the sender; an honest one is stored.
    const Bytes mixed_key = to_bytes("mixed-provider-key");
    announce(mixed_key, {forged, nodes_[1].id()});
    EXPECT_EQ(providers_of(mixed_key), std::vector<PeerId>{nodes_[1].id()});
    const Bytes honest_key = to_bytes("honest-provider-key");
    announce(honest_key, {nodes_[1].id()});
    EXPECT_EQ(providers_of(honest_key), std::vector<PeerId>{nodes_[1].id()});
    EXPECT_TRUE(providers_of(forged_key).empty());
    expect_still_serving();
}

TEST_F(DhtBadInput, InvalidRecordIsNotStored) {
    auto& client = nodes_[1];
    const auto my_key = client.host->config().identity.public_key().marshal();
    const auto other_key = Ed25519KeyPair::generate().public_key().marshal();
    Bytes pk = to_bytes("/pk/");
    pk.insert(pk.end(), client.id().bytes().begin(), client.id().bytes().end());
    auto put = [](Bytes key, Bytes record_key, Bytes value) {
        auto m = message(kad::MessageType::put_value, std::move(key));
        m.record = kad::Record{std::move(record_key), std::move(value), "", {}, 0, 0};
        return m;
    };
    // Each bad PUT_VALUE is followed by a PING on the same stream: the server refuses the PUT by
    // resetting the stream (no echo, so the sender does not wait out a timeout) and never gets
    // to the PING.
    std::vector<kad::KadMessage> bad{
        put(pk, pk, to_bytes("not a public key")),                     // malformed value
        put(pk, pk, other_key),                                        // someone else's key
        put(to_bytes("/nope/x"), to_bytes("/nope/x"), to_bytes("v")),  // unknown namespace
        put(pk, to_bytes("/pk/other"), my_key),                        // record key != key
    };
    const Bytes ping = frame(message(kad::MessageType::ping, {}));
    for (std::size_t i = 0; i < bad.size(); ++i) {
        Bytes raw = frame(bad[i]);
        raw.insert(raw.end(), ping.begin(), ping.end());
        auto ex = exchange(*client.host, raw, 1);
        EXPECT_TRUE(ex.error) << i << ": the refused PUT did not reset the stream";
        EXPECT_TRUE(ex.answers.empty()) << i << ": the PUT was echoed";
    }
    EXPECT_EQ(server().dht->record_count(), 0u);
    EXPECT_EQ(
        server().dht->stats().served.count(kad::MessageType::put_value, kad::RpcOutcome::rejected),
        bad.size());
    auto got = ask(io_, *client.dht, server(), message(kad::MessageType::get_value, pk));
    ASSERT_TRUE(got.has_value() && *got);
    EXPECT_FALSE((*got)->record.has_value());

    // The valid record is stored and echoed.
    auto stored = ask(io_, *client.dht, server(), put(pk, pk, my_key));
    ASSERT_TRUE(stored.has_value() && *stored);
    EXPECT_EQ((*stored)->type, kad::MessageType::put_value);
    EXPECT_EQ(server().dht->record_count(), 1u);
    got = ask(io_, *client.dht, server(), message(kad::MessageType::get_value, pk));
    ASSERT_TRUE(got.has_value() && *got);
    ASSERT_TRUE((*got)->record.has_value());
    EXPECT_EQ((*got)->record->value, my_key);
    expect_still_serving();
}

TEST_F(DhtBadInput, SelfReferencingAndGarbagePeersDoNotStallALookup) {
    // Two fakes answer every FIND_NODE with: themselves, each other, the requester, a garbage ID,
    // and three fresh random peers whose address nobody listens on. The lookup must end.
    nodes_.push_back(make_node(io_, dht_config(true, 2s)));
    DhtNode& node = nodes_.back();
    const std::uint16_t dead_port = closed_port();
    auto fake_ids = std::make_shared<std::vector<std::pair<PeerId, Bytes>>>();
    auto counter = std::make_shared<std::size_t>(0);
    Responder respond = [fake_ids, dead_port, counter](const kad::KadMessage& req,
                                                       const Connection& from) {
        pb::Message msg;
        msg.set_type(static_cast<pb::Message::MessageType>(req.type));
        msg.set_key(req.key.data(), req.key.size());
        for (const auto& [id, addr] : *fake_ids) {
            std::vector<Bytes> addrs{addr};
            add_peer(msg, id, addrs);
        }
        std::vector<Bytes> requester_addrs{bare_bytes(from.remote_addr)};
        add_peer(msg, from.peer, requester_addrs);
        msg.add_closerpeers()->set_id("garbage");
        for (int i = 0; i < 3; ++i) {
            ++*counter;
            std::vector<Bytes> dead{
                Multiaddr::parse("/ip4/127.0.0.1/tcp/" + std::to_string(dead_port))->to_bytes()};
            add_peer(msg, random_peer(), dead);
        }
        return std::optional<Bytes>(to_bytes(msg.SerializeAsString()));
    };
    auto a = make_fake(respond);
    auto b = make_fake(respond);
    fake_ids->emplace_back(a.id(), bare_bytes(a.addr));
    fake_ids->emplace_back(b.id(), bare_bytes(b.addr));
    ASSERT_TRUE(join(io_, node, a.addr, a.id()));

    auto t0 = net::Clock::now();
    auto result = run_task(io_, node.dht->get_closest_peers(random_bytes(32, 11)), 15s);
    ASSERT_TRUE(result.has_value()) << "lookup did not terminate";
    double took = seconds_since(t0);
    std::printf("[ self-ref ] lookup: %zu answered, %zu failed, %d hops, %.3f s\n", result->queried,
                result->failed, result->hops, took);
    EXPECT_LT(took, 5.0);
    std::set<PeerId> closest(result->closest.begin(), result->closest.end());
    EXPECT_EQ(closest, (std::set<PeerId>{a.id(), b.id()}));
    EXPECT_EQ(result->queried, 2u);  // each fake exactly once, never ourselves
    EXPECT_EQ(result->failed, *counter);
    EXPECT_GE(*a.requests, 1u);
    EXPECT_GE(*b.requests, 1u);

    // find_peer for a peer nobody knows ends with not_found.
    auto missing = run_task(io_, node.dht->find_peer(random_peer()), 15s);
    ASSERT_TRUE(missing.has_value()) << "find_peer did not terminate";
    ASSERT_FALSE(*missing);
    EXPECT_EQ(missing->error(), make_error_code(kad::kad_errc::not_found));
    expect_still_serving(&node);
}

TEST_F(DhtBadInput, SilentPeersTimeOutAndTheLookupCompletes) {
    // Three fakes accept the Kademlia stream and never answer; with rpc_timeout 500 ms the lookup
    // gives up on them and finishes with the one peer that answers (the Keel server).
    nodes_.push_back(make_node(io_, dht_config(true, 500ms)));
    DhtNode& node = nodes_.back();
    std::vector<FakeServer> silent;
    for (int i = 0; i < 3; ++i) {
        silent.push_back(make_fake(
            [](const kad::KadMessage&, const Connection&) { return std::optional<Bytes>(); }));
        ASSERT_TRUE(join(io_, node, silent.back().addr, silent.back().id()));
    }
    ASSERT_TRUE(join(io_, node, server().addr, server().id()));

    auto t0 = net::Clock::now();
    auto result = run_task(io_, node.dht->get_closest_peers(random_bytes(32, 5)), 15s);
    ASSERT_TRUE(result.has_value()) << "lookup did not finish";
    double took = seconds_since(t0);
    std::printf("[ silent   ] lookup: %zu answered, %zu failed, %.3f s\n", result->queried,
                result->failed, took);
    EXPECT_LT(took, 3.0);  // 3 silent peers in parallel (alpha = 3): ~0.5 s, at most 2 rounds
    EXPECT_EQ(result->failed, 3u);
    EXPECT_EQ(result->closest, std::vector<PeerId>{server().id()});
    for (const auto& f : silent) EXPECT_GE(*f.requests, 1u);

    t0 = net::Clock::now();
    auto missing = run_task(io_, node.dht->find_peer(random_peer()), 15s);
    ASSERT_TRUE(missing.has_value()) << "find_peer did not finish";
    EXPECT_FALSE(*missing);
    EXPECT_LT(seconds_since(t0), 3.0);
    expect_still_serving(&node);
}

// ---- (c) persistence across kill -9 of the keel binary --------------------------------------

class TempDir {
  public:
    TempDir() {
        static int counter = 0;
        path_ = std::filesystem::temp_directory_path() /
                ("keel-dht-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// The keel binary as a child process; a thread drains its stdout (so it never blocks on a full
// pipe) into a buffer we can read lines from. stderr goes to a file.
class KeelProcess {
  public:
    KeelProcess(const std::vector<std::string>& args, const std::filesystem::path& stderr_file) {
        std::vector<std::string> argv_storage{KEEL_BINARY};
        argv_storage.insert(argv_storage.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_storage) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::string err_path = stderr_file.string();
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) return;
        pid_ = ::fork();
        if (pid_ == 0) {
            int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(out[1], 1);
            if (err >= 0) ::dup2(err, 2);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(out[1]);
        fd_ = out[0];
        if (pid_ < 0) return;
        reader_ = std::thread([this] {
            char buffer[4096];
            while (true) {
                auto n = ::read(fd_, buffer, sizeof buffer);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;
                std::lock_guard lock(mutex_);
                output_.append(buffer, static_cast<std::size_t>(n));
            }
        });
    }
    ~KeelProcess() {
        if (running()) {
            signal(SIGKILL);
            wait(5s);
        }
        if (reader_.joinable()) reader_.join();
        if (fd_ >= 0) ::close(fd_);
    }
    KeelProcess(const KeelProcess&) = delete;
    KeelProcess& operator=(const KeelProcess&) = delete;

    bool started() const { return pid_ > 0; }
    bool running() const { return pid_ > 0 && !exited_; }
    void signal(int sig) {
        if (running()) ::kill(pid_, sig);
    }
    // Waits for the process to exit; false if it is still running after `timeout`.
    bool wait(net::Duration timeout) {
        return poll_until(
            [&] {
                if (!running()) return true;
                int status = 0;
                if (::waitpid(pid_, &status, WNOHANG) == pid_) exited_ = true;
                return exited_;
            },
            timeout);
    }
    // The first line of stdout, once it is complete.
    std::optional<std::string> first_line(net::Duration timeout) {
        std::optional<std::string> line;
        poll_until(
            [&] {
                std::lock_guard lock(mutex_);
                auto end = output_.find('\n');
                if (end != std::string::npos) line = output_.substr(0, end);
                return line.has_value() || exited_;
            },
            timeout);
        return line;
    }

  private:
    pid_t pid_ = -1;
    int fd_ = -1;
    bool exited_ = false;
    std::thread reader_;
    std::mutex mutex_;
    std::string output_;
};

net::awaitable<void> provide_key(kad::Dht& dht, Bytes key,
                                 std::shared_ptr<std::vector<char>> acknowledged,
                                 std::size_t index) {
    auto r = co_await dht.provide(std::move(key));
    if (r && r->acknowledged > 0) (*acknowledged)[index] = 1;
}

net::awaitable<void> check_provider(kad::Dht& dht, PeerId server, Multiaddr addr, Bytes key,
                                    PeerId provider, std::shared_ptr<FindTally> tally) {
    std::vector<Multiaddr> addrs{std::move(addr)};
    auto r = co_await dht.request(server, message(kad::MessageType::get_providers, std::move(key)),
                                  std::move(addrs));
    if (r && std::any_of(r->provider_peers.begin(), r->provider_peers.end(),
                         [&](const kad::KadPeer& p) { return p.id == provider; }))
        ++tally->found;
    else
        tally->fail(r ? "no provider" : r.error().message());
}

Bytes persisted_key(std::size_t i) {
    return to_bytes("keel-dht-persistence-key-" + std::to_string(i));
}

TEST(DhtPersistence, AcknowledgedProvidersSurviveKill9) {
    // At least 1000 provider records acknowledged, and the kill lands while more are in flight.
    constexpr std::size_t total = 1500;
    constexpr std::size_t kill_after = 1000;
    TempDir data;
    TempDir logs;
    const std::vector<std::string> args{"bootstrap",   "--data-dir", data.path().string(),
                                        "--json",      "--listen",   "/ip4/127.0.0.1/tcp/0",
                                        "--log-level", "warn"};

    // -- run 1: the bootstrap, and a client that provides `total` keys to it
    auto boot = std::make_unique<KeelProcess>(args, logs.path() / "run1.stderr");
    ASSERT_TRUE(boot->started());
    auto line = boot->first_line(20s);
    ASSERT_TRUE(line.has_value()) << "no output from " << KEEL_BINARY;
    auto first = nlohmann::json::parse(*line);
    const std::string peer_text = first.at("peer_id").get<std::string>();
    const auto boot_id = PeerId::parse(peer_text).value();
    const auto boot_addr = Multiaddr::parse(first.at("addrs").at(0).get<std::string>()).value();

    std::vector<std::size_t> ack_indices;
    PeerId provider;
    {
        asio::io_context io;
        std::vector<DhtNode> nodes;
        std::vector<std::unique_ptr<Host>> none;
        nodes.push_back(make_node(io, dht_config(false, 10s)));
        provider = nodes[0].id();
        std::vector<Multiaddr> peers{boot_addr};
        auto reached = run_task(io, nodes[0].dht->bootstrap(std::move(peers)), 20s);
        ASSERT_TRUE(reached.has_value() && *reached == 1u) << "cannot reach the bootstrap";
        auto t0 = net::Clock::now();
        auto acknowledged = std::make_shared<std::vector<char>>(total, 0);
        auto acked = [&] {
            return static_cast<std::size_t>(
                std::count(acknowledged->begin(), acknowledged->end(), 1));
        };
        kad::Dht* dht = nodes[0].dht.get();
        auto finished = spawn_parallel(
            io, total, 32, [dht, acknowledged](std::size_t i) -> net::awaitable<void> {
                return provide_key(*dht, persisted_key(i), acknowledged, i);
            });
        // kill -9 in the middle of the stream, with ADD_PROVIDERs in flight: no clean shutdown,
        // no final flush. Whatever was acknowledged must survive.
        EXPECT_TRUE(run_until(
            io, [&] { return acked() >= kill_after; }, 60s))
            << "only " << acked() << " acknowledged";
        const std::size_t acked_at_kill = acked();
        boot->signal(SIGKILL);
        ASSERT_TRUE(boot->wait(10s));
        // The provides still in flight fail (connection gone), the rest find no peer.
        EXPECT_TRUE(run_until(
            io, [&] { return *finished == total; }, 60s));
        for (std::size_t i = 0; i < total; ++i)
            if ((*acknowledged)[i]) ack_indices.push_back(i);
        std::printf(
            "[ persist  ] providing %zu keys: SIGKILL after %zu acknowledged as durable "
            "(%.2f s); %zu acknowledged in all\n",
            total, acked_at_kill, seconds_since(t0), ack_indices.size());
        shut_down_nodes(io, nodes, none);
    }
    boot.reset();
    ASSERT_GE(ack_indices.size(), kill_after);

    // -- run 2: same data dir
    auto t_restart = net::Clock::now();
    KeelProcess again(args, logs.path() / "run2.stderr");
    ASSERT_TRUE(again.started());
    line = again.first_line(20s);
    ASSERT_TRUE(line.has_value()) << "no output after restart";
    double to_listening = seconds_since(t_restart);
    auto second = nlohmann::json::parse(*line);
    EXPECT_EQ(second.at("peer_id").get<std::string>(), peer_text);
    const std::size_t restored = second.at("restored").at("providers").get<std::size_t>();
    const auto addr2 = Multiaddr::parse(second.at("addrs").at(0).get<std::string>()).value();

    asio::io_context io;
    std::vector<DhtNode> nodes;
    std::vector<std::unique_ptr<Host>> none;
    nodes.push_back(make_node(io, dht_config(false, 2s)));
    kad::Dht* dht = nodes[0].dht.get();
    // Time to the first FIND_NODE answer: retried until one comes back (each try is bounded).
    bool answered = false;
    auto deadline = net::Clock::now() + 20s;
    while (!answered && net::Clock::now() < deadline) {
        std::vector<Multiaddr> addrs{addr2};
        auto r = run_task(
            io,
            dht->request(boot_id, message(kad::MessageType::find_node, random_bytes(32, 3)),
                         std::move(addrs)),
            5s);
        answered = r && *r && (*r)->type == kad::MessageType::find_node;
    }
    double to_find_node = seconds_since(t_restart);
    ASSERT_TRUE(answered) << "the restarted bootstrap never answered FIND_NODE";

    auto t0 = net::Clock::now();
    auto tally = std::make_shared<FindTally>();
    bool done = run_parallel(
        io, ack_indices.size(), 32,
        [&, tally](std::size_t j) -> net::awaitable<void> {
            return check_provider(*dht, boot_id, addr2, persisted_key(ack_indices[j]), provider,
                                  tally);
        },
        60s);
    EXPECT_TRUE(done) << "GET_PROVIDERS did not finish";
    std::printf(
        "[ persist  ] after kill -9 and restart: same peer ID %s; %zu providers restored; "
        "%zu of %zu acknowledged keys found by GET_PROVIDERS (%.2f s); listening after "
        "%.3f s, first FIND_NODE answer after %.3f s\n",
        second.at("peer_id").get<std::string>() == peer_text ? "yes" : "NO", restored, tally->found,
        ack_indices.size(), seconds_since(t0), to_listening, to_find_node);
    for (const auto& f : tally->failures) ADD_FAILURE() << f;
    EXPECT_EQ(tally->found, ack_indices.size());
    EXPECT_GE(restored, ack_indices.size());
    shut_down_nodes(io, nodes, none);
    again.signal(SIGTERM);
    EXPECT_TRUE(again.wait(10s));
}

// What a `keel bootstrap` has persisted in <data dir>/keel.db, read with a read-only connection
// of our own (the node keeps writing meanwhile, WAL mode lets both work).
class ReadOnlyDb {
  public:
    explicit ReadOnlyDb(const std::filesystem::path& file) {
        if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
            sqlite3_close_v2(db_);
            db_ = nullptr;
            return;
        }
        sqlite3_busy_timeout(db_, 2000);
    }
    ~ReadOnlyDb() {
        if (db_) sqlite3_close_v2(db_);
    }
    ReadOnlyDb(const ReadOnlyDb&) = delete;
    ReadOnlyDb& operator=(const ReadOnlyDb&) = delete;

    // SELECT count(*) FROM peers WHERE in_routing_table=1; nullopt while the file or the table
    // does not exist yet, or on any other SQLite error.
    std::optional<std::size_t> routing_table_count() {
        std::optional<std::size_t> out;
        query("SELECT count(*) FROM peers WHERE in_routing_table=1", [&](sqlite3_stmt* st) {
            out = static_cast<std::size_t>(sqlite3_column_int64(st, 0));
        });
        return out;
    }
    std::set<PeerId> routing_table_peers() {
        std::set<PeerId> out;
        query("SELECT id FROM peers WHERE in_routing_table=1", [&](sqlite3_stmt* st) {
            const auto* blob = static_cast<const std::uint8_t*>(sqlite3_column_blob(st, 0));
            const auto size = static_cast<std::size_t>(sqlite3_column_bytes(st, 0));
            if (auto id = PeerId::from_bytes(BytesView(blob, size))) out.insert(*id);
        });
        return out;
    }

  private:
    bool query(const char* sql, const std::function<void(sqlite3_stmt*)>& row) {
        if (!db_) return false;
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) {
            sqlite3_finalize(st);
            return false;
        }
        int rc = SQLITE_ROW;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE;
    }

    sqlite3* db_ = nullptr;
};

TEST(DhtPersistence, RoutingTableRestoredAfterKill9) {
    // 12 DHT servers join the bootstrap's routing table; once keel.db says so, kill -9 the
    // bootstrap, stop the servers, restart the bootstrap on the same data dir: its "restored"
    // line and a FIND_NODE to it must show the same 12 peers, with their addresses.
    constexpr std::size_t server_count = 12;
    TempDir data;
    TempDir logs;
    const std::vector<std::string> args{"bootstrap",   "--data-dir", data.path().string(),
                                        "--json",      "--listen",   "/ip4/127.0.0.1/tcp/0",
                                        "--log-level", "warn"};
    const auto db_file = data.path() / "keel.db";

    // -- run 1: the bootstrap, and 12 in-process servers bootstrapping into it
    auto boot = std::make_unique<KeelProcess>(args, logs.path() / "run1.stderr");
    ASSERT_TRUE(boot->started());
    auto line = boot->first_line(20s);
    ASSERT_TRUE(line.has_value()) << "no output from " << KEEL_BINARY;
    auto first = nlohmann::json::parse(*line);
    const std::string peer_text = first.at("peer_id").get<std::string>();
    const auto boot_id = PeerId::parse(peer_text).value();
    const auto boot_addr = Multiaddr::parse(first.at("addrs").at(0).get<std::string>()).value();
    EXPECT_EQ(first.at("restored").at("routing_table").get<std::size_t>(), 0u);

    std::map<PeerId, Multiaddr> servers;  // id -> listen address (no /p2p)
    std::size_t persisted = 0;
    std::set<PeerId> persisted_ids;
    double to_persisted = 0;
    {
        asio::io_context io;
        std::vector<DhtNode> nodes;
        std::vector<std::unique_ptr<Host>> none;
        for (std::size_t i = 0; i < server_count; ++i)
            nodes.push_back(make_node(io, dht_config(true, 5s)));
        for (const auto& n : nodes) servers.emplace(n.id(), n.addr.without(proto_code::p2p));
        auto t0 = net::Clock::now();
        auto reached = std::make_shared<std::vector<std::size_t>>(server_count, 0);
        bool done = run_parallel(
            io, server_count, server_count,
            [&nodes, boot_addr, reached](std::size_t i) -> net::awaitable<void> {
                return bootstrap_one(*nodes[i].dht, boot_addr, reached, i);
            },
            30s);
        ASSERT_TRUE(done) << "bootstrap did not finish";
        for (std::size_t i = 0; i < server_count; ++i) ASSERT_EQ((*reached)[i], 1u) << i;

        // Poll keel.db (the io_context keeps running: the servers must stay connected).
        ReadOnlyDb db(db_file);
        std::optional<std::size_t> count;
        auto deadline = net::Clock::now() + 20s;
        while (net::Clock::now() < deadline) {
            count = db.routing_table_count();
            if (count && *count >= server_count) break;
            io.run_for(50ms);
        }
        to_persisted = seconds_since(t0);
        ASSERT_TRUE(count.has_value()) << "cannot read " << db_file;
        ASSERT_GE(*count, server_count) << "only " << *count << " routing-table peers persisted";

        // kill -9 while the servers are still connected: no clean shutdown, no final flush.
        boot->signal(SIGKILL);
        ASSERT_TRUE(boot->wait(10s));
        shut_down_nodes(io, nodes, none);
    }
    boot.reset();
    {
        // What survived the kill (peer updates commit with synchronous=NORMAL: a process crash
        // loses none of the committed ones).
        ReadOnlyDb db(db_file);
        auto count = db.routing_table_count();
        ASSERT_TRUE(count.has_value()) << "cannot read " << db_file << " after the kill";
        persisted = *count;
        persisted_ids = db.routing_table_peers();
    }
    EXPECT_EQ(persisted_ids.size(), persisted);
    for (const auto& [id, addr] : servers)
        EXPECT_TRUE(persisted_ids.contains(id)) << id.short_string() << " not persisted";

    // -- run 2: same data dir; the servers are gone
    auto t_restart = net::Clock::now();
    KeelProcess again(args, logs.path() / "run2.stderr");
    ASSERT_TRUE(again.started());
    line = again.first_line(20s);
    ASSERT_TRUE(line.has_value()) << "no output after restart";
    auto second = nlohmann::json::parse(*line);
    EXPECT_EQ(second.at("peer_id").get<std::string>(), peer_text);
    const auto& restored = second.at("restored");
    const std::size_t restored_table = restored.at("routing_table").get<std::size_t>();
    const std::size_t restored_peers = restored.at("peers").get<std::size_t>();
    const auto addr2 = Multiaddr::parse(second.at("addrs").at(0).get<std::string>()).value();
    EXPECT_EQ(restored_table, persisted);
    EXPECT_GE(restored_peers, persisted);

    asio::io_context io;
    std::vector<DhtNode> nodes;
    std::vector<std::unique_ptr<Host>> none;
    nodes.push_back(make_node(io, dht_config(false, 2s)));
    kad::Dht* dht = nodes[0].dht.get();
    std::optional<kad::KadMessage> answer;
    auto deadline = net::Clock::now() + 20s;
    while (!answer && net::Clock::now() < deadline) {
        std::vector<Multiaddr> addrs{addr2};
        auto r = run_task(
            io,
            dht->request(boot_id, message(kad::MessageType::find_node, random_bytes(32, 21)),
                         std::move(addrs)),
            5s);
        if (r && *r && (*r)->type == kad::MessageType::find_node) answer = std::move(**r);
    }
    double to_find_node = seconds_since(t_restart);
    ASSERT_TRUE(answer.has_value()) << "the restarted bootstrap never answered FIND_NODE";

    std::size_t restored_returned = 0, with_right_addr = 0;
    for (const auto& p : answer->closer_peers) {
        if (persisted_ids.contains(p.id)) ++restored_returned;
        auto server = servers.find(p.id);
        if (server != servers.end() && has_addr(p.addrs, server->second)) ++with_right_addr;
        EXPECT_TRUE(persisted_ids.contains(p.id))
            << p.id.short_string() << " returned but not in the persisted table";
        EXPECT_FALSE(p.connected) << p.id.short_string() << " reported connected";
    }
    std::printf(
        "[ persist  ] routing table: %zu peers persisted (%.2f s after the servers started "
        "joining), kill -9; restart restored %zu routing-table peers (%zu peers in all); "
        "FIND_NODE returned %zu closer peers (%zu restored, %zu with the server's address); "
        "first FIND_NODE answer %.3f s after restart\n",
        persisted, to_persisted, restored_table, restored_peers, answer->closer_peers.size(),
        restored_returned, with_right_addr, to_find_node);
    // k = 20 > 12: every restored peer is among the closest to any key.
    EXPECT_EQ(answer->closer_peers.size(), std::min<std::size_t>(persisted, 20));
    EXPECT_EQ(restored_returned, answer->closer_peers.size());
    EXPECT_EQ(with_right_addr, answer->closer_peers.size());
    shut_down_nodes(io, nodes, none);
    again.signal(SIGTERM);
    EXPECT_TRUE(again.wait(10s));
}

}  // namespace
}  // namespace keel::test
