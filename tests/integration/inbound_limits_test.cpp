// Slowloris protection: connections that never finish the handshake hold one address's share of
// the handshake slots (max_pending_inbound_per_ip) and no more. Past it, that address is refused at
// once (and counted), while a client from another address still connects normally.
#include "test_support.hpp"

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

TEST(InboundLimits, SilentConnectionsFromOneAddressTakeOnlyTheirShare) {
    asio::io_context io;
    auto config = test_config();
    config.max_pending_inbound_per_ip = 4;
    config.handshake_timeout = 20s;  // the silent ones would hold their slots this long
    Host server(io.get_executor(), std::move(config));
    auto bound = server.listen(loopback_any_port());
    ASSERT_TRUE(bound);
    auto endpoint = endpoint_of(*bound);
    const auto attacker = asio::ip::make_address("127.0.0.2");  // the client dials from 127.0.0.1

    std::vector<std::unique_ptr<net::TcpStream>> silent;
    for (int i = 0; i < 4; ++i) {
        auto c = run_task(io, connect_from(attacker, endpoint), 5s);
        ASSERT_TRUE(c && *c);
        silent.push_back(std::move(**c));
    }
    ASSERT_TRUE(run_until(
        io, [&] { return server.stats().inbound_accepted == 4; }, 5s))
        << "accepted " << server.stats().inbound_accepted << " refused "
        << server.stats().inbound_refused;

    // The fifth from the same address is closed at once.
    auto fifth = run_task(io, connect_from(attacker, endpoint), 5s);
    ASSERT_TRUE(fifth && *fifth);
    auto ended = run_task(io, read_until_closed(***fifth, nullptr), 5s);
    ASSERT_TRUE(ended) << "the fifth silent connection was not refused";
    EXPECT_EQ(server.stats().inbound_refused_per_ip, 1u);

    // Someone else connects and pings as usual.
    auto client_config = test_config();
    Host client(io.get_executor(), std::move(client_config));
    auto conn = run_task(io, client.connect(with_peer(*bound, server.peer_id())), 5s);
    ASSERT_TRUE(conn && *conn) << (conn ? conn->error().message() : "timed out");

    silent.clear();
    shut_down(io, {&client, &server});
}

}  // namespace
}  // namespace keel::test
