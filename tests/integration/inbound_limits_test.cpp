// Inbound limits over real sockets on 127.0.0.0/8, with the loopback exemption turned off so that
// the per-address limits apply there. Slowloris: connections that never finish the handshake hold
// one address's share of the handshake slots (max_pending_inbound_per_ip) and no more, and when one
// network's silent connections hold every slot, a client from another ends the oldest of them and
// gets in. Per address:
// past max_connections_per_ip the next connection is refused while the first ones keep working,
// and past the token bucket (inbound_rate_per_ip, inbound_burst_per_ip) a burst is cut. Every
// refusal closes the socket at once, is counted under its reason, and leaves other addresses
// (127.0.0.2 through HostConfig::dial_source) connecting normally. By default loopback is exempt.
#include "keel/protocols/ping.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

// A TCP connection from `local` (a 127.0.0.0/8 address) that sends nothing.
net::awaitable<net::result<std::unique_ptr<net::TcpStream>>> connect_from(asio::ip::address local,
                                                                          tcp::endpoint to) {
    tcp::socket socket(co_await asio::this_coro::executor);
    net::error_code ec;
    socket.open(tcp::v4(), ec);
    if (!ec) socket.bind({local, 0}, ec);
    if (ec) co_return ec;
    auto [connect_ec] = co_await socket.async_connect(to, net::use_result);
    if (connect_ec) co_return connect_ec;
    co_return std::make_unique<net::TcpStream>(std::move(socket));
}

std::uint64_t refused_for(const Host& host, const std::string& reason) {
    for (auto r : all_refusals)
        if (refusal_name(r) == reason) return host.stats().inbound_refused_by_reason[r];
    ADD_FAILURE() << "no refusal named " << reason;
    return 0;
}

// A client whose dials leave from `source`.
HostConfig client_from(const char* source) {
    auto config = test_config();
    auto address = asio::ip::make_address(source);
    config.dial_source = [address](const tcp::endpoint&) {
        return std::optional<asio::ip::address>(address);
    };
    return config;
}

// One ping over a new stream of `conn`.
void expect_ping(asio::io_context& io, Host& host, std::shared_ptr<Connection> conn) {
    std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
    auto stream = run_task(io, host.new_stream(conn, std::move(wanted)), 5s);
    ASSERT_TRUE(stream && *stream) << (stream ? stream->error().message() : "timed out");
    auto rtt = run_task(io, protocols::ping_once(***stream), 5s);
    ASSERT_TRUE(rtt && *rtt) << (rtt ? rtt->error().message() : "timed out");
    (**stream)->reset();
}

// Opens `n` silent connections from `from`, then waits until the server has accepted `accepted`.
void open_silent(asio::io_context& io, const Host& server, tcp::endpoint to, const char* from,
                 int n, std::uint64_t accepted, std::vector<std::unique_ptr<net::TcpStream>>& out) {
    for (int i = 0; i < n; ++i) {
        auto c = run_task(io, connect_from(asio::ip::make_address(from), to), 5s);
        ASSERT_TRUE(c && *c);
        out.push_back(std::move(**c));
    }
    ASSERT_TRUE(run_until(
        io, [&] { return server.stats().inbound_accepted == accepted; }, 5s))
        << "accepted " << server.stats().inbound_accepted << " refused "
        << server.stats().inbound_refused;
}

// A connection from `from` that the server closes at once, without a handshake byte.
void expect_closed_at_once(asio::io_context& io, tcp::endpoint to, const char* from) {
    auto c = run_task(io, connect_from(asio::ip::make_address(from), to), 5s);
    ASSERT_TRUE(c && *c);
    auto seen = std::make_shared<Bytes>();
    auto ended = run_task(io, read_until_closed(***c, seen), 5s);
    ASSERT_TRUE(ended) << "the connection was not refused";
    EXPECT_TRUE(seen->empty()) << "a refused connection got handshake bytes";
}

TEST(InboundLimits, SilentConnectionsFromOneAddressTakeOnlyTheirShare) {
    asio::io_context io;
    auto config = test_config();
    config.limits_exempt_loopback = false;
    config.max_pending_inbound_per_ip = 4;
    config.handshake_timeout = 20s;  // the silent ones would hold their slots this long
    Host server(io.get_executor(), std::move(config));
    auto bound = server.listen(loopback_any_port());
    ASSERT_TRUE(bound);
    auto endpoint = endpoint_of(*bound);

    std::vector<std::unique_ptr<net::TcpStream>> silent;
    ASSERT_NO_FATAL_FAILURE(open_silent(io, server, endpoint, "127.0.0.2", 4, 4, silent));

    // The fifth from the same address is closed at once.
    ASSERT_NO_FATAL_FAILURE(expect_closed_at_once(io, endpoint, "127.0.0.2"));
    EXPECT_EQ(refused_for(server, "pending_per_ip"), 1u);
    EXPECT_EQ(server.stats().inbound_refused, 1u);

    // Someone else (the client dials from 127.0.0.1) connects and pings as usual.
    Host client(io.get_executor(), test_config());
    auto conn = run_task(io, client.connect(with_peer(*bound, server.peer_id())), 5s);
    ASSERT_TRUE(conn && *conn) << (conn ? conn->error().message() : "timed out");
    ASSERT_NO_FATAL_FAILURE(expect_ping(io, client, **conn));

    silent.clear();
    shut_down(io, {&client, &server});
}

TEST(InboundLimits, SilentHandshakesFillingEveryPlaceMakeRoomForAnotherNetwork) {
    asio::io_context io;
    auto config = test_config();
    config.limits_exempt_loopback = false;
    config.handshake_timeout = 20s;
    // The defaults a bootstrap runs with: 256 places, 32 per address.
    ASSERT_EQ(config.max_pending_inbound, 256u);
    ASSERT_EQ(config.max_pending_inbound_per_ip, 32u);
    Host server(io.get_executor(), std::move(config));
    auto bound = server.listen(loopback_any_port());
    ASSERT_TRUE(bound);
    auto endpoint = endpoint_of(*bound);

    // 8 addresses of one /24, 32 connections each, hold every handshake place, sending nothing.
    std::vector<std::unique_ptr<net::TcpStream>> silent;
    for (int i = 0; i < 8; ++i) {
        auto from = "127.0.0." + std::to_string(2 + i);
        ASSERT_NO_FATAL_FAILURE(open_silent(io, server, endpoint, from.c_str(), 32,
                                            static_cast<std::uint64_t>(32 * (i + 1)), silent));
    }
    EXPECT_EQ(server.stats().inbound_refused, 0u);
    // More from that /24 are refused (it is at max_connections_per_subnet, 256 too).
    ASSERT_NO_FATAL_FAILURE(expect_closed_at_once(io, endpoint, "127.0.0.10"));
    EXPECT_EQ(refused_for(server, "per_subnet"), 1u);

    // A client from another /24 gets in, and the oldest silent handshake is what made room.
    Host client(io.get_executor(), client_from("127.0.1.1"));
    auto conn = run_task(io, client.connect(with_peer(*bound, server.peer_id())), 5s);
    ASSERT_TRUE(conn && *conn) << (conn ? conn->error().message() : "timed out");
    ASSERT_NO_FATAL_FAILURE(expect_ping(io, client, **conn));
    EXPECT_EQ(server.stats().handshakes_evicted, 1u);
    EXPECT_EQ(refused_for(server, "pending"), 0u);
    auto seen = std::make_shared<Bytes>();
    EXPECT_TRUE(run_task(io, read_until_closed(*silent.front(), seen), 5s))
        << "the oldest silent connection is still open";
    EXPECT_TRUE(seen->empty());

    silent.clear();
    shut_down(io, {&client, &server});
}

TEST(InboundLimits, LoopbackIsExemptByDefault) {
    asio::io_context io;
    auto config = test_config();
    config.max_pending_inbound_per_ip = 2;
    config.max_connections_per_ip = 2;
    config.inbound_rate_per_ip = 0.01;
    config.inbound_burst_per_ip = 1;
    config.handshake_timeout = 20s;
    Host server(io.get_executor(), std::move(config));
    auto bound = server.listen(loopback_any_port());
    ASSERT_TRUE(bound);

    std::vector<std::unique_ptr<net::TcpStream>> silent;
    ASSERT_NO_FATAL_FAILURE(
        open_silent(io, server, endpoint_of(*bound), "127.0.0.2", 6, 6, silent));
    EXPECT_EQ(server.stats().inbound_refused, 0u);

    silent.clear();
    shut_down(io, {&server});
}

TEST(InboundLimits, PerAddressCapRefusesTheNextWhileTheFirstStayConnected) {
    asio::io_context io;
    auto config = test_config();
    config.limits_exempt_loopback = false;
    config.max_connections_per_ip = 3;
    Host server(io.get_executor(), std::move(config));
    auto bound = server.listen(loopback_any_port());
    ASSERT_TRUE(bound);
    auto target = with_peer(*bound, server.peer_id());

    // Three clients from 127.0.0.1, upgraded and identified: the address's share.
    std::vector<std::unique_ptr<Host>> clients;
    std::vector<std::shared_ptr<Connection>> conns;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(std::make_unique<Host>(io.get_executor(), test_config()));
        auto conn = run_task(io, clients.back()->connect(target), 5s);
        ASSERT_TRUE(conn && *conn) << i << ": " << (conn ? conn->error().message() : "timed out");
        conns.push_back(**conn);
    }
    ASSERT_TRUE(run_until(
        io, [&] { return server.connections().size() == 3; }, 5s));

    // The fourth from 127.0.0.1 is refused before its handshake.
    Host fourth(io.get_executor(), test_config());
    auto refused = run_task(io, fourth.connect(target), 5s);
    ASSERT_TRUE(refused.has_value()) << "the refused dial did not end";
    EXPECT_FALSE(*refused) << "a fourth connection from one address got in";
    EXPECT_EQ(refused_for(server, "per_ip"), 1u);
    EXPECT_EQ(server.stats().inbound_refused, 1u);

    // The first three still work.
    for (std::size_t i = 0; i < conns.size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_TRUE(conns[i]->is_open());
        ASSERT_NO_FATAL_FAILURE(expect_ping(io, *clients[i], conns[i]));
    }

    // Another address gets in.
    Host other(io.get_executor(), client_from("127.0.0.2"));
    auto conn = run_task(io, other.connect(target), 5s);
    ASSERT_TRUE(conn && *conn) << (conn ? conn->error().message() : "timed out");
    EXPECT_NE((**conn)->local_addr.to_string().find("/ip4/127.0.0.2/"), std::string::npos)
        << (**conn)->local_addr.to_string();
    ASSERT_NO_FATAL_FAILURE(expect_ping(io, other, **conn));

    // One of the three closes: its slot is free again.
    conns[0]->session->close();
    ASSERT_TRUE(run_until(
        io, [&] { return server.connections().size() == 3; }, 5s))
        << server.connections().size() << " connections open on the server";
    Host again(io.get_executor(), test_config());
    auto back = run_task(io, again.connect(target), 5s);
    ASSERT_TRUE(back && *back) << (back ? back->error().message() : "timed out");
    EXPECT_EQ(refused_for(server, "per_ip"), 1u);

    std::vector<Host*> hosts{&server, &fourth, &other, &again};
    for (auto& c : clients) hosts.push_back(c.get());
    shut_down(io, hosts);
}

TEST(InboundLimits, RateLimitRefusesABurstBeyondTheBucket) {
    asio::io_context io;
    auto config = test_config();
    config.limits_exempt_loopback = false;
    config.max_pending_inbound_per_ip = 0;
    config.inbound_rate_per_ip = 0.01;  // one new token per 100 s: none comes back during the test
    config.inbound_burst_per_ip = 3;
    config.handshake_timeout = 20s;
    Host server(io.get_executor(), std::move(config));
    auto bound = server.listen(loopback_any_port());
    ASSERT_TRUE(bound);
    auto endpoint = endpoint_of(*bound);

    std::vector<std::unique_ptr<net::TcpStream>> burst;
    ASSERT_NO_FATAL_FAILURE(open_silent(io, server, endpoint, "127.0.0.2", 3, 3, burst));
    burst.clear();  // closing them gives no token back: the bucket refills with time only
    ASSERT_NO_FATAL_FAILURE(expect_closed_at_once(io, endpoint, "127.0.0.2"));
    ASSERT_NO_FATAL_FAILURE(expect_closed_at_once(io, endpoint, "127.0.0.2"));
    EXPECT_EQ(refused_for(server, "rate_per_ip"), 2u);
    EXPECT_EQ(server.stats().inbound_refused, 2u);
    EXPECT_EQ(server.stats().inbound_accepted, 3u);

    // Another address has a bucket of its own.
    Host client(io.get_executor(), test_config());
    auto conn = run_task(io, client.connect(with_peer(*bound, server.peer_id())), 5s);
    ASSERT_TRUE(conn && *conn) << (conn ? conn->error().message() : "timed out");

    shut_down(io, {&client, &server});
}

}  // namespace
}  // namespace keel::test
