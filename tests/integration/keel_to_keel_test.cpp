// Two Keel hosts in one process, on one io_context, talking over 127.0.0.1: dial, identify, ping,
// muxer negotiation (inlined in Noise or by multistream-select), bulk echo through Yamux flow
// control, and the phase a failed dial reports.
#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/net/net_errc.hpp"
#include "keel/net/yamux_stream.hpp"
#include "keel/protocols/echo.hpp"
#include "keel/protocols/identify.hpp"
#include "keel/protocols/ping.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

bool contains(const std::vector<std::string>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

Host::StreamHandler echo_handler(Host& host) {
    return [&host](std::shared_ptr<net::YamuxStream> stream,
                   std::shared_ptr<Connection>) -> net::awaitable<void> {
        co_await protocols::serve_echo(*stream, host.config().stream_idle_timeout);
    };
}

class KeelToKeel : public ::testing::Test {
  protected:
    void TearDown() override {
        shut_down(io_, {client_.get(), server_.get()});
        client_.reset();
        server_.reset();
    }

    void start(bool client_inline, bool server_inline) {
        server_ = std::make_unique<Host>(io_.get_executor(), test_config(server_inline));
        client_ = std::make_unique<Host>(io_.get_executor(), test_config(client_inline));
        auto bound = server_->listen(loopback_any_port());
        ASSERT_TRUE(bound) << bound.error().message();
        server_addr_ = with_peer(*bound, server_->peer_id());
    }

    std::shared_ptr<Connection> dial_server() {
        auto conn = run_task(io_, client_->dial(server_addr_), 10s);
        EXPECT_TRUE(conn.has_value()) << "dial did not finish";
        if (!conn) return nullptr;
        EXPECT_TRUE(conn->has_value()) << conn->error().message();
        return conn->has_value() ? **conn : nullptr;
    }

    // The inbound side of the client's connection, once the server has it.
    std::shared_ptr<Connection> server_side() {
        bool ok = run_until(
            io_, [&] { return !server_->connections().empty(); }, 5s);
        EXPECT_TRUE(ok) << "server never registered the connection";
        return ok ? server_->connections().front() : nullptr;
    }

    // Dial with /p2p, identify both ways, ping; checks how the muxer was chosen on both sides.
    void dial_identify_ping(bool expect_inlined) {
        auto conn = dial_server();
        ASSERT_TRUE(conn);
        EXPECT_EQ(conn->peer, server_->peer_id());
        EXPECT_EQ(conn->direction, Direction::outbound);
        EXPECT_EQ(conn->muxer, net::yamux_protocol_id);
        EXPECT_EQ(conn->muxer_inlined, expect_inlined);

        auto identified = run_task(io_, client_->wait_identified(conn), 10s);
        ASSERT_TRUE(identified.has_value()) << "identify did not finish";
        ASSERT_TRUE(identified->has_value()) << identified->error().message();
        auto info = client_->peer_store().get(server_->peer_id());
        ASSERT_TRUE(info.has_value());
        EXPECT_TRUE(info->agent_version.starts_with("keel/")) << info->agent_version;
        EXPECT_EQ(info->agent_version, server_->config().agent_version);
        EXPECT_TRUE(contains(info->protocols, protocols::ping_protocol_id));
        EXPECT_TRUE(contains(info->protocols, protocols::identify_protocol_id));
        ASSERT_EQ(server_->listen_addrs().size(), 1u);
        EXPECT_NE(std::find(info->addrs.begin(), info->addrs.end(), server_->listen_addrs()[0]),
                  info->addrs.end());
        ASSERT_TRUE(info->public_key.has_value());
        EXPECT_TRUE(server_->peer_id().matches(*info->public_key));

        std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
        auto stream = run_task(io_, client_->new_stream(conn, std::move(wanted)), 10s);
        ASSERT_TRUE(stream.has_value()) << "negotiation did not finish";
        ASSERT_TRUE(stream->has_value()) << stream->error().message();
        EXPECT_EQ((**stream)->protocol(), protocols::ping_protocol_id);
        for (int i = 0; i < 3; ++i) {
            auto rtt = run_task(io_, protocols::ping_once(***stream), 10s);
            ASSERT_TRUE(rtt.has_value()) << "ping did not finish";
            ASSERT_TRUE(rtt->has_value()) << rtt->error().message();
        }
        auto closed = run_task(io_, (**stream)->close_write(), 5s);
        EXPECT_TRUE(closed.has_value() && !*closed);

        // The server saw the same connection, chose the muxer the same way, and identified us.
        auto inbound = server_side();
        ASSERT_TRUE(inbound);
        EXPECT_EQ(inbound->peer, client_->peer_id());
        EXPECT_EQ(inbound->direction, Direction::inbound);
        EXPECT_EQ(inbound->muxer_inlined, expect_inlined);
        EXPECT_TRUE(run_until(
            io_,
            [&] {
                auto them = server_->peer_store().get(client_->peer_id());
                return them && them->agent_version == client_->config().agent_version;
            },
            10s))
            << "server never identified the client";
    }

    asio::io_context io_;
    std::unique_ptr<Host> server_;
    std::unique_ptr<Host> client_;
    Multiaddr server_addr_;
};

TEST_F(KeelToKeel, DialIdentifyPingWithInlinedMuxer) {
    ASSERT_NO_FATAL_FAILURE(start(true, true));
    dial_identify_ping(true);
}

TEST_F(KeelToKeel, DialIdentifyPingWithMultistreamMuxer) {
    ASSERT_NO_FATAL_FAILURE(start(false, false));
    dial_identify_ping(false);
}

// A wildcard listen address means nothing to a remote: identify names the interface addresses
// (loopback among them here), never 0.0.0.0.
TEST_F(KeelToKeel, IdentifyListsInterfaceAddressesForAWildcardListener) {
    server_ = std::make_unique<Host>(io_.get_executor(), test_config(true));
    client_ = std::make_unique<Host>(io_.get_executor(), test_config(true));
    auto bound = server_->listen(*Multiaddr::parse("/ip4/0.0.0.0/tcp/0"));
    ASSERT_TRUE(bound) << bound.error().message();
    const auto port = bound->to_string().substr(bound->to_string().rfind('/') + 1);
    server_addr_ = with_peer(*Multiaddr::parse("/ip4/127.0.0.1/tcp/" + port), server_->peer_id());
    auto conn = dial_server();
    ASSERT_TRUE(conn);
    auto identified = run_task(io_, client_->wait_identified(conn), 10s);
    ASSERT_TRUE(identified.has_value() && identified->has_value());
    auto info = client_->peer_store().get(server_->peer_id());
    ASSERT_TRUE(info.has_value());
    std::vector<std::string> told;
    for (const auto& a : info->addrs) told.push_back(a.to_string());
    EXPECT_TRUE(contains(told, "/ip4/127.0.0.1/tcp/" + port)) << testing::PrintToString(told);
    for (const auto& t : told) EXPECT_FALSE(t.starts_with("/ip4/0.0.0.0/")) << t;
}

TEST_F(KeelToKeel, ServerWithoutInlineMuxerFallsBackToMultistream) {
    ASSERT_NO_FATAL_FAILURE(start(true, false));
    dial_identify_ping(false);
}

TEST_F(KeelToKeel, ClientWithoutInlineMuxerFallsBackToMultistream) {
    ASSERT_NO_FATAL_FAILURE(start(false, true));
    dial_identify_ping(false);
}

// --- Bulk echo ------------------------------------------------------------------------------

constexpr std::size_t echo_streams = 64;
constexpr std::size_t echo_size = 1024 * 1024;
constexpr std::size_t echo_chunk = 64 * 1024;

struct EchoTally {
    std::size_t ok = 0;
    std::vector<std::string> failures;
    std::size_t finished() const { return ok + failures.size(); }
};

net::awaitable<net::error_code> write_pattern(std::shared_ptr<net::YamuxStream> stream,
                                              std::uint64_t seed) {
    ByteGen gen(seed);
    Bytes chunk(echo_chunk);
    for (std::size_t sent = 0; sent < echo_size; sent += chunk.size()) {
        gen.fill(chunk);
        if (auto ec = co_await stream->write_all(chunk)) co_return ec;
    }
    co_return co_await stream->close_write();
}

// Reads the echo back, compares it with the pattern, and expects the end of the stream after it.
net::awaitable<net::error_code> check_pattern(std::shared_ptr<net::YamuxStream> stream,
                                              std::uint64_t seed) {
    ByteGen gen(seed);
    Bytes got(echo_chunk), want(echo_chunk);
    std::size_t received = 0;
    while (true) {
        auto n = co_await stream->read_some(got);
        if (!n) {
            if (n.error() != asio::error::eof) co_return n.error();
            break;
        }
        if (received + *n > echo_size) co_return make_error_code(net::net_errc::malformed_message);
        gen.fill(std::span(want).first(*n));
        if (!std::equal(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(*n), want.begin()))
            co_return make_error_code(net::net_errc::malformed_message);
        received += *n;
    }
    if (received != echo_size) co_return make_error_code(net::net_errc::malformed_message);
    co_return net::error_code{};
}

// One stream: open, negotiate echo, then write 1 MiB and read it back concurrently.
net::awaitable<void> echo_one(Host& host, std::shared_ptr<Connection> conn, std::uint64_t seed,
                              std::shared_ptr<EchoTally> tally) {
    using namespace asio::experimental::awaitable_operators;
    std::vector<std::string> wanted{std::string(protocols::echo_protocol_id)};
    auto stream = co_await host.new_stream(conn, std::move(wanted));
    if (!stream) {
        tally->failures.push_back("new_stream: " + stream.error().message());
        co_return;
    }
    auto [write_ec, read_ec] =
        co_await (write_pattern(*stream, seed) && check_pattern(*stream, seed));
    if (write_ec || read_ec) {
        tally->failures.push_back("seed " + std::to_string(seed) + ": write=" + write_ec.message() +
                                  " read=" + read_ec.message());
    } else {
        ++tally->ok;
    }
}

// Both sides open 64 streams at once on the one connection and push 1 MiB of distinct data
// through each. Flow control: every stream's initial window is 256 KiB and a sender may never
// have more than the window in flight, so moving 1 MiB requires the receiver's window updates
// (at least three per stream, and the sender waiting on them whenever its window runs out).
// If the sender ignored the window, the receiver would see a frame larger than its window and end
// the session with a protocol error; if window updates were lost, the streams would stall and the
// deadline below would fail the test.
TEST_F(KeelToKeel, SixtyFourConcurrentEchoStreamsEachWayThroughFlowControl) {
    ASSERT_NO_FATAL_FAILURE(start(true, true));
    static_assert(echo_size > 256 * 1024, "the echo must outgrow the initial window");
    ASSERT_EQ(server_->config().yamux.initial_window, 256u * 1024);
    server_->set_handler(std::string(protocols::echo_protocol_id), echo_handler(*server_));
    client_->set_handler(std::string(protocols::echo_protocol_id), echo_handler(*client_));

    auto conn = dial_server();
    ASSERT_TRUE(conn);
    auto inbound = server_side();
    ASSERT_TRUE(inbound);

    auto tally = std::make_shared<EchoTally>();
    for (std::size_t i = 0; i < echo_streams; ++i) {
        asio::co_spawn(io_, echo_one(*client_, conn, 1000 + i, tally), asio::detached);
        asio::co_spawn(io_, echo_one(*server_, inbound, 5000 + i, tally), asio::detached);
    }
    bool done = run_until(
        io_, [&] { return tally->finished() == 2 * echo_streams; }, 45s);
    for (const auto& why : tally->failures) ADD_FAILURE() << why;
    ASSERT_TRUE(done) << "only " << tally->finished() << " of " << 2 * echo_streams
                      << " echo streams finished";
    EXPECT_EQ(tally->ok, 2 * echo_streams);
    EXPECT_TRUE(conn->is_open());
    EXPECT_TRUE(inbound->is_open());
    EXPECT_EQ(client_->connections().size(), 1u);
}

TEST_F(KeelToKeel, DialWithWrongPeerIdFailsInSecurityPhase) {
    ASSERT_NO_FATAL_FAILURE(start(true, true));
    auto someone_else = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    auto wrong = with_peer(server_addr_, someone_else);
    auto conn = run_task(io_, client_->dial(wrong), 10s);
    ASSERT_TRUE(conn.has_value()) << "dial did not finish";
    ASSERT_FALSE(conn->has_value()) << "connected to the wrong peer";
    EXPECT_EQ(conn->error().phase, Phase::security);
    EXPECT_EQ(conn->error().error, net::net_errc::peer_id_mismatch) << conn->error().message();
    EXPECT_TRUE(client_->connections().empty());
}

TEST_F(KeelToKeel, DialToClosedPortFailsInDialPhase) {
    ASSERT_NO_FATAL_FAILURE(start(true, true));
    auto addr = Multiaddr::parse("/ip4/127.0.0.1/tcp/" + std::to_string(closed_port()));
    ASSERT_TRUE(addr);
    auto target = with_peer(*addr, server_->peer_id());
    auto conn = run_task(io_, client_->dial(target), 10s);
    ASSERT_TRUE(conn.has_value()) << "dial did not finish";
    ASSERT_FALSE(conn->has_value());
    EXPECT_EQ(conn->error().phase, Phase::dial) << conn->error().message();
    EXPECT_EQ(conn->error().error, asio::error::connection_refused) << conn->error().message();
}

// --- Concurrent connects to one peer ---------------------------------------------------------

using ConnectResult = HostResult<std::shared_ptr<Connection>>;

// A connect running on the io_context; `result` is set once it returns (not if it threw).
struct RunningConnect {
    std::shared_ptr<std::optional<ConnectResult>> result =
        std::make_shared<std::optional<ConnectResult>>();
    std::shared_ptr<bool> finished = std::make_shared<bool>(false);
    std::shared_ptr<asio::cancellation_signal> cancel =
        std::make_shared<asio::cancellation_signal>();
};

RunningConnect spawn_connect(asio::io_context& io, net::awaitable<ConnectResult> task) {
    RunningConnect running;
    asio::co_spawn(io, std::move(task),
                   asio::bind_cancellation_slot(
                       running.cancel->slot(),
                       [result = running.result, finished = running.finished,
                        cancel = running.cancel](std::exception_ptr e, ConnectResult r) {
                           *finished = true;
                           if (!e) result->emplace(std::move(r));
                       }));
    return running;
}

bool all_finished(const std::vector<RunningConnect>& running) {
    return std::all_of(running.begin(), running.end(),
                       [](const RunningConnect& r) { return *r.finished; });
}

// Accepts TCP connections and holds them without a byte of answer: a dial hangs in its upgrade.
struct SilentListener {
    explicit SilentListener(asio::io_context& io)
        : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
    ~SilentListener() { close(); }
    void close() {
        net::error_code ignored;
        acceptor.close(ignored);
        for (auto& s : held) s.close(ignored);
    }
    Multiaddr addr(const PeerId& peer) const {
        auto port = std::to_string(acceptor.local_endpoint().port());
        return with_peer(Multiaddr::parse("/ip4/127.0.0.1/tcp/" + port).value(), peer);
    }
    tcp::acceptor acceptor;
    std::vector<tcp::socket> held;
    std::size_t accepted = 0;
};

net::awaitable<void> hold_connections(std::shared_ptr<SilentListener> listener) {
    while (listener->acceptor.is_open()) {
        auto [ec, socket] = co_await listener->acceptor.async_accept(net::use_result);
        if (ec) co_return;
        ++listener->accepted;
        listener->held.push_back(std::move(socket));
    }
}

TEST_F(KeelToKeel, ConcurrentConnectsToOnePeerShareOneConnection) {
    ASSERT_NO_FATAL_FAILURE(start(true, true));
    const PeerId& server = server_->peer_id();
    std::vector<Multiaddr> addrs{server_addr_.without(proto_code::p2p)};
    // Started together, before any of them has connected: two connects to the address, and two
    // connect_peers (one with the address, one finding it in the peer store).
    client_->peer_store().add_address(server, addrs.front());
    std::vector<RunningConnect> running;
    running.push_back(spawn_connect(io_, client_->connect(server_addr_)));
    running.push_back(spawn_connect(io_, client_->connect(server_addr_)));
    running.push_back(spawn_connect(io_, client_->connect_peer(server, addrs)));
    running.push_back(spawn_connect(io_, client_->connect_peer(server)));
    ASSERT_TRUE(run_until(
        io_, [&] { return all_finished(running); }, 10s))
        << "the connects did not finish";
    std::shared_ptr<Connection> first;
    for (std::size_t i = 0; i < running.size(); ++i) {
        const auto& result = *running[i].result;
        ASSERT_TRUE(result.has_value()) << i << " threw";
        ASSERT_TRUE(result->has_value()) << i << ": " << result->error().message();
        if (!first) first = **result;
        EXPECT_EQ((**result)->id, first->id) << i << " got another connection";
    }
    EXPECT_EQ(client_->connections_to(server).size(), 1u);
    EXPECT_EQ(client_->connections().size(), 1u);
    EXPECT_EQ(client_->stats().upgrades_ok, 1u);
    // The server saw one TCP connection: every upgrade on the client side has finished, so a
    // second dial would have been accepted by now.
    ASSERT_TRUE(server_side());
    EXPECT_EQ(server_->stats().inbound_accepted, 1u);
}

TEST_F(KeelToKeel, ConcurrentConnectsToAHangingPeerShareOneAttempt) {
    ASSERT_NO_FATAL_FAILURE(start(true, true));
    auto config = test_config();
    config.handshake_timeout = 500ms;
    client_ = std::make_unique<Host>(io_.get_executor(), std::move(config));
    auto silent = std::make_shared<SilentListener>(io_);
    asio::co_spawn(io_, hold_connections(silent), asio::detached);
    const auto target = silent->addr(server_->peer_id());

    auto t0 = net::Clock::now();
    std::vector<RunningConnect> running;
    running.push_back(spawn_connect(io_, client_->connect(target)));
    running.push_back(spawn_connect(io_, client_->connect(target)));
    ASSERT_TRUE(run_until(
        io_, [&] { return all_finished(running); }, 10s))
        << "the connects did not finish";
    double took = std::chrono::duration<double>(net::Clock::now() - t0).count();
    for (std::size_t i = 0; i < running.size(); ++i) {
        const auto& result = *running[i].result;
        ASSERT_TRUE(result.has_value()) << i << " threw";
        ASSERT_FALSE(result->has_value()) << i << " connected to a silent listener";
        EXPECT_EQ(result->error().phase, Phase::security) << result->error().message();
        EXPECT_EQ(result->error().error, net::net_errc::timeout) << result->error().message();
    }
    EXPECT_EQ(silent->accepted, 1u);  // the second waited for the first's answer
    EXPECT_LT(took, 2.0);             // one handshake timeout, not two in a row
    silent->close();
}

TEST_F(KeelToKeel, ACancelledDialLeavesTheConnectWaitingForItToDialItself) {
    ASSERT_NO_FATAL_FAILURE(start(true, true));
    auto config = test_config();
    config.handshake_timeout = 500ms;
    client_ = std::make_unique<Host>(io_.get_executor(), std::move(config));
    auto silent = std::make_shared<SilentListener>(io_);
    asio::co_spawn(io_, hold_connections(silent), asio::detached);
    const auto target = silent->addr(server_->peer_id());

    // The second waits for the first's dial; the first's caller gives up on it: that says nothing
    // about the peer, so the second dials on its own.
    std::vector<RunningConnect> running;
    running.push_back(spawn_connect(io_, client_->connect(target)));
    running.push_back(spawn_connect(io_, client_->connect(target)));
    ASSERT_TRUE(run_until(
        io_, [&] { return silent->accepted == 1; }, 5s));
    running[0].cancel->emit(asio::cancellation_type::all);
    ASSERT_TRUE(run_until(
        io_, [&] { return all_finished(running); }, 10s))
        << "the connects did not finish";
    EXPECT_EQ(silent->accepted, 2u);
    const auto& second = *running[1].result;
    ASSERT_TRUE(second.has_value()) << "the waiting connect threw";
    ASSERT_FALSE(second->has_value());
    // Its own attempt timed out in the handshake; it was not failed by the first's cancellation.
    EXPECT_EQ(second->error().phase, Phase::security) << second->error().message();
    EXPECT_EQ(second->error().error, net::net_errc::timeout) << second->error().message();
    silent->close();
}

// limits.forget_peers_after: a peer that left is forgotten once it has been gone that long, not
// before; a connected one never is, however long ago it arrived.
TEST_F(KeelToKeel, APeerIsForgottenOnceGoneForForgetPeersAfter) {
    constexpr auto ttl = 1s;
    auto config = test_config();
    config.forget_peers_after = ttl;
    server_ = std::make_unique<Host>(io_.get_executor(), std::move(config));
    client_ = std::make_unique<Host>(io_.get_executor(), test_config());
    auto bound = server_->listen(loopback_any_port());
    ASSERT_TRUE(bound) << bound.error().message();
    server_addr_ = with_peer(*bound, server_->peer_id());
    const auto client_id = client_->peer_id();

    auto conn = dial_server();
    ASSERT_TRUE(conn);
    ASSERT_TRUE(run_until(
        io_, [&] { return server_->peer_store().get(client_id).has_value(); }, 5s))
        << "the server never learned the client";
    // Connected for longer than the time-to-live: kept.
    const auto connected_at = net::Clock::now();
    ASSERT_TRUE(run_until(
        io_, [&] { return net::Clock::now() > connected_at + ttl + 100ms; }, 5s));
    EXPECT_EQ(server_->forget_stale_peers(), 0u);
    EXPECT_TRUE(server_->peer_store().get(client_id).has_value());

    conn->session->close();
    ASSERT_TRUE(run_until(
        io_, [&] { return server_->connections().empty(); }, 5s));
    const auto gone_at = net::Clock::now();
    EXPECT_EQ(server_->forget_stale_peers(), 0u);  // just left
    EXPECT_TRUE(server_->peer_store().get(client_id).has_value());
    ASSERT_TRUE(run_until(
        io_,
        [&] {
            server_->forget_stale_peers();
            return !server_->peer_store().get(client_id).has_value();
        },
        10s))
        << "the client was never forgotten";
    EXPECT_GE(net::Clock::now() - gone_at, ttl);
}

}  // namespace
}  // namespace keel::test
