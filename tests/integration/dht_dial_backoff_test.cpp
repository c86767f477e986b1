// The DHT does not redial a peer whose dial just failed: the second request within the backoff
// fails at once with kad_errc::dial_backoff and opens no socket; after the backoff it dials again;
// an open connection is always used, backoff or not. (A dead bootstrap's refresh ticks used to add
// dials on top of the health monitor's own backoff.)
#include <atomic>

#include "keel/kad/dht.hpp"
#include "keel/kad/kad_errc.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/net_errc.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

// Accepts TCP and hangs up at once, counting the dials it saw.
struct HangUpListener {
    explicit HangUpListener(asio::io_context& io)
        : acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
        accept();
    }
    void accept() {
        acceptor.async_accept([this](const net::error_code& ec, tcp::socket socket) {
            if (ec) return;
            ++accepted;
            socket.close();
            accept();
        });
    }
    tcp::acceptor acceptor;
    std::size_t accepted = 0;
};

TEST(DhtDialBackoff, AFailedDialIsNotRepeatedWithinTheBackoff) {
    asio::io_context io;
    HangUpListener dead(io);
    auto host_config = test_config();
    host_config.dial_backoff.initial = 300ms;
    Host host(io.get_executor(), host_config);
    kad::DhtConfig config;
    config.rpc_timeout = 2s;
    kad::Dht dht(host, config);
    dht.start();
    auto ghost = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    auto addr = *Multiaddr::parse("/ip4/127.0.0.1/tcp/" +
                                  std::to_string(dead.acceptor.local_endpoint().port()));
    kad::KadMessage ping;
    ping.type = kad::MessageType::ping;

    auto first = run_task(io, dht.request(ghost, ping, {addr}), 5s);
    ASSERT_TRUE(first && !*first);
    EXPECT_NE(first->error(), kad::kad_errc::dial_backoff);
    EXPECT_EQ(dead.accepted, 1u);

    auto t0 = net::Clock::now();
    auto second = run_task(io, dht.request(ghost, ping, {addr}), 5s);
    ASSERT_TRUE(second && !*second);
    EXPECT_EQ(second->error(), kad::kad_errc::dial_backoff) << second->error().message();
    EXPECT_LT(net::Clock::now() - t0, 100ms);
    EXPECT_EQ(dead.accepted, 1u) << "a dial was made during the backoff";

    // Once the backoff has run out, the peer is dialled again (and fails again, doubling it).
    ASSERT_TRUE(run_until(
        io, [&] { return net::Clock::now() - t0 > 350ms; }, 2s));
    auto third = run_task(io, dht.request(ghost, ping, {addr}), 5s);
    ASSERT_TRUE(third && !*third);
    EXPECT_EQ(dead.accepted, 2u);

    dht.stop();
    shut_down(io, {&host});
}

TEST(DhtDialBackoff, AnOpenConnectionIsUsedDespiteTheBackoff) {
    asio::io_context io;
    Host server(io.get_executor(), test_config());
    auto bound = server.listen(loopback_any_port());
    ASSERT_TRUE(bound);
    kad::DhtConfig server_config;
    server_config.server_mode = true;
    kad::Dht server_dht(server, server_config);
    server_dht.start();

    HangUpListener dead(io);
    auto client_config = test_config();
    client_config.dial_backoff.initial = 60s;
    Host client(io.get_executor(), client_config);
    kad::DhtConfig config;
    kad::Dht dht(client, config);
    dht.start();
    kad::KadMessage ping;
    ping.type = kad::MessageType::ping;
    // The server's peer ID at a dead address: the dial fails and the backoff starts.
    auto dead_addr = *Multiaddr::parse("/ip4/127.0.0.1/tcp/" +
                                       std::to_string(dead.acceptor.local_endpoint().port()));
    auto failed = run_task(io, dht.request(server.peer_id(), ping, {dead_addr}), 5s);
    ASSERT_TRUE(failed && !*failed);
    // Someone else (the health monitor, say) connects: the DHT uses that connection at once.
    auto conn = run_task(io, client.connect(with_peer(*bound, server.peer_id())), 5s);
    ASSERT_TRUE(conn && *conn);
    auto answered = run_task(io, dht.request(server.peer_id(), ping, {}), 5s);
    ASSERT_TRUE(answered && *answered) << answered->error().message();

    dht.stop();
    server_dht.stop();
    shut_down(io, {&client, &server});
}

// A request its caller cancels mid-dial (a lookup that has its answer cancels its other queries)
// says nothing about the peer: the next request dials again instead of failing with backoff.
TEST(DhtDialBackoff, ACancelledRequestIsNotAFailedDial) {
    asio::io_context io;
    // Accepts and never says a word: the dial hangs in the handshake until cancelled.
    tcp::acceptor silent(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    std::vector<tcp::socket> held;
    std::function<void()> accept = [&] {
        silent.async_accept([&](const net::error_code& ec, tcp::socket socket) {
            if (ec) return;
            held.push_back(std::move(socket));
            accept();
        });
    };
    accept();
    auto host_config = test_config();
    host_config.dial_backoff.initial = 60s;
    Host host(io.get_executor(), host_config);
    kad::DhtConfig config;
    config.rpc_timeout = 10s;
    kad::Dht dht(host, config);
    dht.start();
    auto ghost = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    auto addr =
        *Multiaddr::parse("/ip4/127.0.0.1/tcp/" + std::to_string(silent.local_endpoint().port()));
    kad::KadMessage ping;
    ping.type = kad::MessageType::ping;

    for (int round = 1; round <= 2; ++round) {
        auto cancelled = run_task(
            io, net::with_deadline(dht.request(ghost, ping, {addr}), net::Duration{200}), 5s);
        ASSERT_TRUE(cancelled && !*cancelled);
        EXPECT_EQ(cancelled->error(), net::net_errc::timeout);  // our deadline, not backoff
        EXPECT_EQ(held.size(), static_cast<std::size_t>(round)) << "round " << round;
    }
    EXPECT_EQ(dht.stats().sent.count(kad::MessageType::ping, kad::RpcOutcome::cancelled), 2u);

    dht.stop();
    shut_down(io, {&host});
}

}  // namespace
}  // namespace keel::test
