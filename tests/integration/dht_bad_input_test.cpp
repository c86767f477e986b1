// The Kademlia DHT end to end, over 127.0.0.1: bad input against a Keel DHT server (oversized and
// malformed frames, garbage peers, forged ADD_PROVIDER, invalid records, self-referencing and
// silent peers), each followed by a legitimate FIND_NODE that must still be answered.
#include <algorithm>
#include <optional>
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
#include "support/dht_nodes.hpp"

namespace keel::test {
namespace {

PeerId random_peer() {
    return PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
}

bool contains_peer(const std::vector<PeerId>& peers, const PeerId& p) {
    return std::find(peers.begin(), peers.end(), p) != peers.end();
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
// ---- bad input against a Keel DHT server ----------------------------------------------------

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

TEST_F(DhtBadInput, OversizedMessageResetsTheStreamAndIsLogged) {
    LogCapture log;
    Host& attacker = make_host();
    Bytes raw;
    append_uvarint(raw, kad::max_request_size + 1);  // 80 KiB + 1: over the limit
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

    // The sender named 64 times is one record and one store write, not 64.
    auto writes = std::make_shared<int>(0);
    server().dht->set_persistence(kad::DhtPersistence{
        [writes](const Bytes&, const kad::ProviderEntry&, kad::DhtPersistence::Ack ack) {
            ++*writes;
            if (ack) ack(true);
        },
        nullptr, nullptr});
    const Bytes repeated_key = to_bytes("repeated-provider-key");
    announce(repeated_key, std::vector<PeerId>(64, nodes_[1].id()));
    EXPECT_EQ(providers_of(repeated_key), std::vector<PeerId>{nodes_[1].id()});
    EXPECT_EQ(*writes, 1);
    server().dht->set_persistence({});
    expect_still_serving();
}

// A peer whose identify listed our Kademlia protocol gets its requests negotiated lazily (the
// proposal travels with the request), so a refusal only shows in the first read. For
// ADD_PROVIDER that read is the PING after it, whose silence otherwise counts as "stored but not
// acknowledged": a refusal must not.
TEST_F(DhtBadInput, AddProviderToAPeerThatRefusesKademliaFails) {
    auto& client = nodes_[1];
    Host& refuser = make_host();  // no Kademlia handler
    auto bound = refuser.listen(loopback_any_port());
    ASSERT_TRUE(bound);
    auto conn = run_task(io_, client.host->connect(with_peer(*bound, refuser.peer_id())), 10s);
    ASSERT_TRUE(conn && *conn);
    auto identified = run_task(io_, client.host->wait_identified(**conn), 10s);
    ASSERT_TRUE(identified && *identified);
    // What a peer that announced the protocol and then refused it looks like from here.
    protocols::IdentifyInfo claimed;
    claimed.public_key = refuser.config().identity.public_key();
    claimed.protocols = {kad_protocol()};
    client.host->peer_store().apply_identify(refuser.peer_id(), claimed);
    ASSERT_TRUE(client.host->peer_store().supports(refuser.peer_id(), kad_protocol()));

    auto ask_refuser = [&](kad::MessageType type) {
        auto m = message(type, to_bytes("refused-key"));
        if (type == kad::MessageType::add_provider)
            m.provider_peers.push_back(kad::KadPeer{client.id(), {}, false});
        return run_task(io_, client.dht->request(**conn, std::move(m)), 10s);
    };
    auto provided = ask_refuser(kad::MessageType::add_provider);
    ASSERT_TRUE(provided.has_value()) << "ADD_PROVIDER did not finish";
    ASSERT_FALSE(*provided) << "a refused ADD_PROVIDER counted as sent";
    EXPECT_EQ(provided->error(), net::net_errc::protocol_not_supported);
    // Requests with an answer fail the same way, in their first read.
    auto found = ask_refuser(kad::MessageType::find_node);
    ASSERT_TRUE(found.has_value());
    ASSERT_FALSE(*found);
    EXPECT_EQ(found->error(), net::net_errc::protocol_not_supported);
    EXPECT_TRUE((**conn)->is_open()) << "a refused stream costs the stream, not the connection";
}

TEST_F(DhtBadInput, InvalidRecordIsNotStored) {
    auto& client = nodes_[1];
    const auto my_key = client.host->config().identity.public_key().marshal();
    const auto other_key = Ed25519KeyPair::generate().public_key().marshal();
    Bytes pk = to_bytes("/pk/");
    pk.insert(pk.end(), client.id().bytes().begin(), client.id().bytes().end());
    auto put = [](Bytes key, Bytes record_key, Bytes value) {
        auto m = message(kad::MessageType::put_value, std::move(key));
        m.record = kad::Record{std::move(record_key), std::move(value), std::nullopt, {}, 0, 0};
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
}  // namespace
}  // namespace keel::test
