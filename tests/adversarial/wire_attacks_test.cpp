// A bootstrap against hostile peers of our own writing (docs/security.md): each test is one attack
// from issue 19's list, made with a Keel Host used as a raw libp2p client (its own Noise, Yamux
// and Kademlia framing, driven by hand), and checks what the server holds and whether it keeps
// answering a legitimate client. Limits are set small so that each attack crosses them quickly.
#include <gtest/gtest.h>

#include <cstdio>

#include "keel/base/varint.hpp"
#include "keel/kad/dht.hpp"
#include "keel/net/framing.hpp"
#include "keel/protocols/identify.hpp"
#include "support/kad_wire.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

// Received-and-unread bytes the server holds over all its connections.
std::size_t buffered_bytes(Host& host) {
    std::size_t n = 0;
    for (const auto& c : host.connections()) n += c->session->buffered();
    return n;
}

std::size_t open_streams(Host& host) {
    std::size_t n = 0;
    for (const auto& c : host.connections()) n += c->session->stream_count();
    return n;
}

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Accepts any value under its namespace ("/v/..."): the tests are about storage, not validation.
class AnyValue final : public kad::RecordValidator {
  public:
    boost::system::error_code validate(BytesView, BytesView) const override { return {}; }
    std::size_t select(BytesView, const std::vector<Bytes>& values) const override {
        return values.size() - 1;
    }
};

// What a test's persistence does with each write: succeed at once, fail, or never answer.
enum class Disk { ok, failing, stalled };

class WireAttacks : public ::testing::Test {
  protected:
    void start(Disk disk = Disk::ok) {
        auto config = test_config();
        config.yamux.write_timeout = 1s;
        config.yamux.max_buffered_per_connection = 512 * 1024;
        config.max_buffered_bytes = 1024 * 1024;
        server_host = std::make_unique<Host>(io.get_executor(), std::move(config));
        kad::DhtConfig dht_config;
        dht_config.server_mode = true;
        dht_config.durable_timeout = 1s;
        dht_config.store_rate_per_peer = 20;
        dht_config.store_burst_per_peer = 50;
        server = std::make_unique<kad::Dht>(*server_host, dht_config);
        if (disk != Disk::ok) {
            kad::DhtPersistence persistence;
            auto answer = [this, disk](kad::DhtPersistence::Ack ack) {
                if (!ack) return;
                if (disk == Disk::failing) ack(false);
                if (disk == Disk::stalled) stalled_acks.push_back(std::move(ack));
            };
            persistence.provider_added = [answer](const Bytes&, const kad::ProviderEntry&,
                                                  kad::DhtPersistence::Ack ack) { answer(ack); };
            persistence.record_stored = [answer](const kad::Record&, kad::DhtPersistence::Ack ack) {
                answer(ack);
            };
            server->set_persistence(std::move(persistence));
        }
        server->validators().add("v", std::make_shared<AnyValue>());
        server->start();
        auto bound = server_host->listen(loopback_any_port());
        ASSERT_TRUE(bound);
        server_addr = with_peer(*bound, server_host->peer_id());
        attacker = std::make_unique<Host>(io.get_executor(), test_config());
        client_host = std::make_unique<Host>(io.get_executor(), test_config());
        client = std::make_unique<kad::Dht>(*client_host, kad::DhtConfig{});
        client->validators().add("v", std::make_shared<AnyValue>());
        client->start();
    }

    void TearDown() override {
        for (auto* d : {server.get(), client.get()})
            if (d) d->stop();
        std::vector<Host*> hosts;
        for (auto* h : {server_host.get(), attacker.get(), client_host.get()})
            if (h) hosts.push_back(h);
        shut_down(io, hosts);
    }

    std::shared_ptr<Connection> attacker_connection() {
        auto conn = run_task(io, attacker->connect(server_addr), 10s);
        EXPECT_TRUE(conn && *conn) << "attacker cannot connect";
        return conn && *conn ? **conn : nullptr;
    }

    // nullptr when the server refuses it (an error unless `may_be_refused`).
    std::shared_ptr<net::YamuxStream> open(const std::shared_ptr<Connection>& conn,
                                           std::string protocol, bool may_be_refused = false) {
        std::vector<std::string> wanted{std::move(protocol)};
        auto stream = run_task(io, attacker->new_stream(conn, std::move(wanted)), 10s);
        EXPECT_TRUE(may_be_refused || (stream && *stream)) << "cannot open a stream";
        if (!stream || !*stream) return nullptr;
        // A protocol the server announced is negotiated lazily: the proposal waits for the first
        // write. An empty one sends it now, so the server's handler starts as with a dialer that
        // waits for the answer.
        const BytesView nothing;
        auto proposed = run_task(io, (**stream)->write_all(nothing), 10s);
        EXPECT_TRUE(proposed && !*proposed) << "cannot propose the protocol";
        return **stream;
    }

    // Writes without waiting for the write to finish (a full window must not block the test);
    // `written` counts the writes that completed.
    void send(std::shared_ptr<net::YamuxStream> stream, Bytes data) {
        asio::co_spawn(
            io,
            [stream, data = std::move(data), written = written]() -> net::awaitable<void> {
                if (!co_await stream->write_all(data)) ++*written;
            },
            asio::detached);
    }

    // The most the server held in unread stream data while the io ran for `window`.
    std::size_t peak_buffered(net::Duration window) {
        std::size_t peak = 0;
        run_until(
            io,
            [&] {
                peak = std::max(peak, buffered_bytes(*server_host));
                return false;  // sample for the whole window
            },
            window);
        return peak;
    }

    // A legitimate client's FIND_NODE, timed; nullopt when it is not answered.
    std::optional<double> legit_find_node_ms() {
        auto t0 = net::Clock::now();
        auto r = run_task(
            io,
            client->request(server_host->peer_id(),
                            message(kad::MessageType::find_node, Bytes(32, 7)), {server_addr}),
            10s);
        if (!r || !*r) return std::nullopt;
        return seconds_since(t0) * 1000;
    }

    asio::io_context io;
    std::unique_ptr<Host> server_host, attacker, client_host;
    std::unique_ptr<kad::Dht> server, client;
    Multiaddr server_addr;
    std::vector<kad::DhtPersistence::Ack> stalled_acks;
    std::shared_ptr<std::size_t> written = std::make_shared<std::size_t>(0);
};

// Item 3: GET_PROVIDERS pipelined on streams whose answers are never read. Each answer is large
// (20 providers with 16 addresses), so the server's writes fill the 256 KiB window and wait.
TEST_F(WireAttacks, SlowReaderCannotPinAnswers) {
    start();
    const Bytes key(34, 0x42);
    for (std::uint32_t i = 0; i < 20; ++i) {
        std::vector<Multiaddr> addrs;
        for (int a = 0; a < 16; ++a)
            addrs.push_back(*Multiaddr::parse("/ip4/10.1." + std::to_string(i) + "." +
                                              std::to_string(a + 1) + "/tcp/4001"));
        server->restore_provider(
            key,
            kad::ProviderEntry{PeerId::from_public_key(Ed25519KeyPair::generate().public_key()),
                               addrs, unix_ms() + kad::provider_validity_ms});
    }
    auto conn = attacker_connection();
    ASSERT_TRUE(conn);
    Bytes requests;
    for (int i = 0; i < 64; ++i) {
        auto f = frame(message(kad::MessageType::get_providers, key));
        requests.insert(requests.end(), f.begin(), f.end());
    }
    for (int s = 0; s < 8; ++s) {
        auto stream = open(conn, kad_protocol());
        ASSERT_TRUE(stream);
        send(stream, requests);  // and never read
    }
    ASSERT_TRUE(run_until(
        io, [&] { return open_streams(*server_host) >= 8; }, 5s));
    // The answers fill each stream's window: the server holds them, waiting for the peer to read.
    run_until(
        io, [&] { return false; }, 300ms);
    ASSERT_EQ(open_streams(*server_host), 8u) << "the answers did not block: no attack";
    auto legit = legit_find_node_ms();
    ASSERT_TRUE(legit) << "a legitimate FIND_NODE was not answered during the attack";
    std::printf(
        "[figure] slow reader: legitimate FIND_NODE answered in %.1f ms during the attack\n",
        *legit);
    // Every blocked answer is given up at the write deadline (1 s here): the streams go.
    auto t0 = net::Clock::now();
    ASSERT_TRUE(run_until(
        io, [&] { return open_streams(*server_host) == 0; }, 10s))
        << open_streams(*server_host) << " streams still held";
    std::printf("[figure] slow reader: all 8 pinned streams reset after %.2f s\n",
                seconds_since(t0));
    EXPECT_EQ(buffered_bytes(*server_host), 0u);
}

// Item 4: data sent on streams whose handler has finished (identify) is not kept.
TEST_F(WireAttacks, FinishedStreamsHoldNothing) {
    start();
    auto conn = attacker_connection();
    ASSERT_TRUE(conn);
    std::vector<std::shared_ptr<net::YamuxStream>> streams;
    for (int s = 0; s < 32; ++s) {
        auto stream = open(conn, std::string(protocols::identify_protocol_id));
        ASSERT_TRUE(stream);
        streams.push_back(stream);
    }
    // Let every identify handler finish (its record read to the end here: the server has seen
    // the stream, answered and closed its side; the proposals may not even have left when the
    // last open() returns), then pour 200 KiB into each finished stream.
    for (auto& s : streams) {
        auto record = run_task(io, protocols::receive_identify(*s), 5s);
        ASSERT_TRUE(record && *record) << "no identify record on a stream";
    }
    ASSERT_TRUE(run_until(
        io, [&] { return open_streams(*server_host) == 0; }, 5s))
        << "identify streams still open on the server";
    for (auto& s : streams) send(s, Bytes(200 * 1024, 0xab));
    auto peak = peak_buffered(1500ms);
    std::printf("[figure] finished streams: 32 x 200 KiB sent, server held at most %zu bytes\n",
                peak);
    EXPECT_EQ(*written, streams.size()) << "the data did not all reach the server";
    EXPECT_EQ(peak, 0u);
}

// The receive budget: handlers that never read cannot make the server hold more than its budget,
// however many streams the peer fills.
TEST_F(WireAttacks, UnreadDataIsBounded) {
    start();
    server_host->set_handler("/test/sink/1.0.0",
                             [this](std::shared_ptr<net::YamuxStream>,
                                    std::shared_ptr<Connection>) -> net::awaitable<void> {
                                 asio::steady_timer t(server_host->get_executor(),
                                                      4s);  // holds, reads nothing
                                 co_await t.async_wait(net::use_result);
                             });
    auto conn = attacker_connection();
    ASSERT_TRUE(conn);
    for (int s = 0; s < 16; ++s) {
        auto stream = open(conn, "/test/sink/1.0.0", true);
        if (!stream) continue;  // refused: the budget is full
        send(stream, Bytes(250 * 1024, 0xcd));
    }
    auto peak = peak_buffered(1500ms);
    std::uint64_t resets = 0;
    for (const auto& c : server_host->connections()) resets += c->session->budget_resets();
    std::printf(
        "[figure] unread data: 16 x 250 KiB sent, server held at most %zu bytes "
        "(bound %d), %llu streams reset or refused\n",
        peak, 1024 * 1024, static_cast<unsigned long long>(resets));
    EXPECT_LE(peak, 1024u * 1024u);
    EXPECT_GT(resets, 0u);
    EXPECT_TRUE(legit_find_node_ms().has_value());
}

// Item 5: an ADD_PROVIDER flood from one peer is cut at its rate, and whatever is stored stays
// within the store's byte budget.
TEST_F(WireAttacks, AddProviderFloodIsRateLimited) {
    start();
    auto conn = attacker_connection();
    ASSERT_TRUE(conn);
    auto t0 = net::Clock::now();
    const auto me = attacker->peer_id();
    std::size_t sent = 0;
    for (int batch = 0; batch < 10; ++batch) {
        auto stream = open(conn, kad_protocol());
        if (!stream) continue;
        Bytes raw;
        for (int i = 0; i < 60; ++i, ++sent) {
            auto m = message(kad::MessageType::add_provider, random_bytes(34, sent));
            m.provider_peers.push_back(
                kad::KadPeer{me, {*Multiaddr::parse("/ip4/127.0.0.1/tcp/9")}, false});
            auto f = frame(m);
            raw.insert(raw.end(), f.begin(), f.end());
        }
        send(stream, raw);
    }
    run_until(
        io, [&] { return false; }, 1s);
    double elapsed = seconds_since(t0);
    auto stored = server->provider_store().record_count();
    auto limited =
        server->stats().served.count(kad::MessageType::add_provider, kad::RpcOutcome::rate_limited);
    std::printf(
        "[figure] ADD_PROVIDER flood: %zu sent in %.2f s, %zu stored (burst 50, 20/s), "
        "%llu streams cut, store %zu bytes\n",
        sent, elapsed, stored, static_cast<unsigned long long>(limited),
        server->provider_store().bytes());
    EXPECT_LE(stored, 50u + static_cast<std::size_t>(20 * elapsed) + 1);
    EXPECT_GT(limited, 0u);
    EXPECT_TRUE(legit_find_node_ms().has_value());
}

// Item 6: when the write fails, the provider is not acknowledged (nor served).
TEST_F(WireAttacks, FailedWriteIsNotAcknowledged) {
    start(Disk::failing);
    ASSERT_TRUE(run_task(io, client->bootstrap({server_addr}), 10s).value_or(0) == 1u);
    auto provided = run_task(io, client->provide(Bytes(34, 0x11)), 15s);
    ASSERT_TRUE(provided && *provided);
    EXPECT_GE((*provided)->sent, 1u);  // announced, so the missing ack is the server's refusal
    EXPECT_EQ((*provided)->acknowledged, 0u);
    EXPECT_EQ(server->provider_store().record_count(), 0u);
    auto put = run_task(io, client->put_value(to_bytes("/v/key"), to_bytes("value")), 15s);
    ASSERT_TRUE(put.has_value());
    EXPECT_FALSE(*put) << "a PUT_VALUE whose write failed was echoed";
    EXPECT_EQ(server->record_count(), 0u);
}

// Item 7: PUT_VALUE is echoed only once durable; a write that never completes is not echoed.
TEST_F(WireAttacks, PutValueIsAnsweredOnlyWhenDurable) {
    start(Disk::stalled);
    ASSERT_TRUE(run_task(io, client->bootstrap({server_addr}), 10s).value_or(0) == 1u);
    auto t0 = net::Clock::now();
    auto put = run_task(io, client->put_value(to_bytes("/v/key"), to_bytes("value")), 15s);
    ASSERT_TRUE(put.has_value());
    EXPECT_FALSE(*put) << "echoed before the record was durable";
    EXPECT_GE(seconds_since(t0), 0.9);  // the server waited out its durable_timeout
    EXPECT_FALSE(stalled_acks.empty());
}

}  // namespace
}  // namespace keel::test
