// Circuit Relay v2 end to end in one process: Keel's relay server and two Keel relay clients over
// real TCP on loopback. A reserves, B reaches A through the circuit and echoes data; then each
// limit of the relay (reservations per address, reservation rate, circuit bytes and duration, a
// peer that never reads) refuses or cuts as configured and is counted, malformed HOP messages cost
// one stream, and a legitimate client is served afterwards. A reservation keeps its connection from
// the connection manager's trim until it expires, and no longer.
#include <gtest/gtest.h>

#include <keel/proto/relay.pb.h>

#include "keel/host/circuit_address.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/protocols/echo.hpp"
#include "keel/relay/relay_client.hpp"
#include "keel/relay/relay_errc.hpp"
#include "keel/relay/relay_messages.hpp"
#include "keel/relay/relay_service.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

struct Peer {
    explicit Peer(asio::io_context& io, relay::RelayClientConfig config = {})
        : host(io.get_executor(), test_config()), client(host, config) {
        client.start();
        host.set_handler(std::string(protocols::echo_protocol_id),
                         [](std::shared_ptr<net::YamuxStream> stream,
                            std::shared_ptr<Connection>) -> net::awaitable<void> {
                             co_await protocols::serve_echo(*stream, std::chrono::seconds(30));
                         });
    }
    Host host;
    relay::RelayClient client;
};

class Relay : public ::testing::Test {
  protected:
    void start_relay(relay::RelayConfig config, HostConfig host_config = test_config()) {
        relay_host = std::make_unique<Host>(io.get_executor(), std::move(host_config));
        auto bound = relay_host->listen(loopback_any_port());
        ASSERT_TRUE(bound);
        relay_addr = with_peer(*bound, relay_host->peer_id());
        relay = std::make_unique<relay::RelayService>(*relay_host, config);
        relay->start();
    }

    Peer& add_peer(relay::RelayClientConfig config = {}) {
        peers.push_back(std::make_unique<Peer>(io, config));
        return *peers.back();
    }

    net::result<relay::HeldReservation> reserve(Peer& p) {
        auto r = run_task(io, p.client.reserve(relay_addr), 10s);
        if (!r) return make_error_code(net::net_errc::timeout);
        return *r;
    }

    HostResult<std::shared_ptr<Connection>> dial_through(Peer& from, Peer& to) {
        auto r = run_task(io, from.host.dial(circuit_to(relay_addr, to.host.peer_id())), 10s);
        if (!r) return Failure{Phase::dial, make_error_code(net::net_errc::timeout), ""};
        return *r;
    }

    // Echoes `size` bytes over a new stream on `conn`; the bytes that came back.
    Bytes echo(Host& host, std::shared_ptr<Connection> conn, std::size_t size) {
        auto task = [&]() -> net::awaitable<Bytes> {
            std::vector<std::string> protocols{std::string(protocols::echo_protocol_id)};
            auto stream = co_await host.new_stream(conn, protocols);
            if (!stream) co_return Bytes{};
            // The writer may outlive this frame (a cut circuit ends the reading first): it owns
            // what it uses.
            auto payload = std::make_shared<Bytes>(random_bytes(size, 7));
            Bytes back;
            asio::co_spawn(
                io,
                [s = *stream, payload]() -> net::awaitable<void> {
                    co_await s->write_all(*payload);
                    co_await s->close_write();
                },
                asio::detached);
            Bytes buffer(16 * 1024);
            for (;;) {
                auto n = co_await (*stream)->read_some(buffer);
                if (!n) break;
                back.insert(back.end(), buffer.begin(), buffer.begin() + *n);
            }
            co_return back;
        };
        return run_task(io, task(), 30s).value_or(Bytes{});
    }

    // Opens `protocol` from `host` on `conn`, sends `garbage` as one length-prefixed message and
    // returns the status of the answer (an Answer: HopMessage or StopMessage); negative if none.
    template <class Answer>
    int status_after(Host& host, std::shared_ptr<Connection> conn, std::string_view protocol,
                     const Bytes& garbage) {
        auto task = [&]() -> net::awaitable<int> {
            std::vector<std::string> protocols{std::string(protocol)};
            auto stream = co_await host.new_stream(conn, protocols);
            if (!stream) co_return -1;
            co_await net::write_length_prefixed(**stream, garbage);
            Answer answer;
            const auto failed =
                co_await relay::read_relay_message(**stream, answer, std::chrono::seconds(5));
            if (failed) co_return -2;
            co_return answer.status();
        };
        return run_task(io, task(), 10s).value_or(-3);
    }

    // Opens `count` STOP streams from `host` on `conn`, each with a valid CONNECT from `source`,
    // one after the other, and keeps them open (a circuit lives as long as its stream): the status
    // each one was answered (negative if none).
    std::vector<int> stop_statuses(Host& host, std::shared_ptr<Connection> conn,
                                   const PeerId& source, std::size_t count,
                                   std::vector<std::shared_ptr<net::YamuxStream>>& kept) {
        pb::StopMessage connect;
        connect.set_type(pb::StopMessage::CONNECT);
        connect.mutable_peer()->set_id(std::string(as_chars(source.bytes())));
        const Bytes message = to_bytes(connect.SerializeAsString());
        std::vector<int> statuses;
        for (std::size_t i = 0; i < count; ++i) {
            auto task = [&]() -> net::awaitable<int> {
                std::vector<std::string> protocols{std::string(relay::stop_protocol_id)};
                auto stream = co_await host.new_stream(conn, protocols);
                if (!stream) co_return -1;
                kept.push_back(*stream);
                co_await net::write_length_prefixed(**stream, message);
                pb::StopMessage answer;
                if (co_await relay::read_relay_message(**stream, answer, std::chrono::seconds(5)))
                    co_return -2;
                co_return answer.status();
            };
            statuses.push_back(run_task(io, task(), 10s).value_or(-3));
        }
        return statuses;
    }

    void TearDown() override {
        if (relay) relay->stop();
        std::vector<Host*> hosts;
        for (auto& p : peers) {
            p->client.stop();
            hosts.push_back(&p->host);
        }
        if (relay_host) hosts.push_back(relay_host.get());
        shut_down(io, hosts);
    }

    std::uint64_t refused(const std::string& reason) {
        for (auto r : relay::all_refusals)
            if (relay::refusal_name(r) == reason) return relay->stats().refused_by_reason[r];
        ADD_FAILURE() << "no refusal named " << reason;
        return 0;
    }

    asio::io_context io;
    std::vector<std::unique_ptr<Host>> old_hosts;  // stopped, kept until the io_context is done
    std::unique_ptr<Host> relay_host;
    std::unique_ptr<relay::RelayService> relay;
    Multiaddr relay_addr;
    std::vector<std::unique_ptr<Peer>> peers;
};

TEST_F(Relay, ReservedPeerIsReachableThroughTheCircuit) {
    start_relay({});
    auto& a = add_peer();
    auto& b = add_peer();
    auto held = reserve(a);
    ASSERT_TRUE(held) << held.error().message();
    ASSERT_FALSE(held->circuit_addrs.empty());
    EXPECT_TRUE(is_circuit(held->circuit_addrs.front()));
    EXPECT_GT(held->expires, std::chrono::system_clock::now() + std::chrono::minutes(59));
    EXPECT_EQ(held->limit_bytes, 128u * 1024);
    EXPECT_EQ(a.host.relayed_addrs(), held->circuit_addrs);  // announced by identify

    auto conn = dial_through(b, a);
    ASSERT_TRUE(conn) << conn.error().message();
    EXPECT_TRUE((*conn)->limited);
    EXPECT_EQ((*conn)->peer, a.host.peer_id());
    auto back = echo(b.host, *conn, 50'000);
    EXPECT_EQ(back, random_bytes(50'000, 7));
    // A sees B over the circuit, limited too.
    ASSERT_TRUE(run_until(
        io, [&] { return !a.host.connections_to(b.host.peer_id()).empty(); }, 5s));
    EXPECT_TRUE(a.host.connections_to(b.host.peer_id()).front()->limited);
    EXPECT_EQ(relay->stats().circuits_opened, 1u);
    EXPECT_EQ(relay->reservations(), 1u);
}

TEST_F(Relay, AReservationKeepsItsConnectionFromTheTrimUntilItExpires) {
    relay::RelayConfig config;
    config.reservation_ttl = 1s;
    // Past one open connection, every inbound one with no open stream is trimmed at the next.
    auto host_config = test_config();
    host_config.trim_high_water = 1;
    host_config.trim_idle = net::Duration::zero();
    start_relay(config, std::move(host_config));
    // `p`'s connection at the relay carries no stream (identify and the reservation done).
    auto idle_at_relay = [&](Peer& p) {
        return run_until(
            io,
            [&] {
                auto conns = relay_host->connections_to(p.host.peer_id());
                return conns.size() == 1 && conns[0]->session->stream_count() == 0;
            },
            5s);
    };

    // A reserves with one RESERVE and no refresh, and closes the stream.
    auto& a = add_peer();
    auto a_conn = run_task(io, a.host.connect(relay_addr), 5s);
    ASSERT_TRUE(a_conn && *a_conn);
    auto reserve_once = [&]() -> net::awaitable<int> {
        std::vector<std::string> protocols{std::string(relay::hop_protocol_id)};
        auto stream = co_await a.host.new_stream(**a_conn, protocols);
        if (!stream) co_return -1;
        pb::HopMessage reserve_message;
        reserve_message.set_type(pb::HopMessage::RESERVE);
        co_await relay::write_relay_message(**stream, reserve_message);
        pb::HopMessage answer;
        if (co_await relay::read_relay_message(**stream, answer, std::chrono::seconds(5)))
            co_return -2;
        co_await (*stream)->close_write();
        co_return answer.status();
    };
    ASSERT_EQ(run_task(io, reserve_once(), 5s), std::optional<int>(pb::OK));
    const auto expires = std::chrono::system_clock::now() + 1s;
    ASSERT_TRUE(idle_at_relay(a));

    // B's idle connection is trimmed when C's arrives; A's is kept.
    auto& b = add_peer();
    ASSERT_TRUE(run_task(io, b.host.connect(relay_addr), 5s));
    ASSERT_TRUE(idle_at_relay(b));
    auto& c = add_peer();
    ASSERT_TRUE(run_task(io, c.host.connect(relay_addr), 5s));
    ASSERT_TRUE(run_until(
        io, [&] { return relay_host->stats().trimmed >= 1; }, 5s));
    EXPECT_TRUE((**a_conn)->is_open());

    // Once the reservation has expired, the next trim takes A's connection too.
    ASSERT_TRUE(idle_at_relay(c));
    ASSERT_TRUE(run_until(
        io, [&] { return std::chrono::system_clock::now() > expires; }, 5s));
    auto& d = add_peer();
    ASSERT_TRUE(run_task(io, d.host.connect(relay_addr), 5s));
    EXPECT_TRUE(run_until(
        io, [&] { return !(**a_conn)->is_open(); }, 5s))
        << "an expired reservation still kept its connection";
}

TEST_F(Relay, NoReservationIsRefusedAndCounted) {
    start_relay({});
    auto& a = add_peer();
    auto& b = add_peer();
    auto conn = dial_through(b, a);
    ASSERT_FALSE(conn);
    EXPECT_EQ(conn.error().error, relay::relay_errc::no_reservation);
    EXPECT_EQ(refused("no_reservation"), 1u);
}

TEST_F(Relay, ReservationsPerAddressAndRateAreEnforced) {
    relay::RelayConfig config;
    config.exempt_loopback = false;
    config.max_reservations_per_ip = 8;
    config.reservation_rate_per_ip = 1000;  // this part is about the count
    start_relay(config);
    int granted = 0, refused_here = 0;
    for (int i = 0; i < 12; ++i) {
        auto& p = add_peer();
        auto r = reserve(p);
        if (r) {
            ++granted;
        } else {
            EXPECT_EQ(r.error(), relay::relay_errc::reservation_refused);
            ++refused_here;
        }
    }
    EXPECT_EQ(granted, 8);
    EXPECT_EQ(refused_here, 4);
    EXPECT_EQ(refused("reservations_per_ip"), 4u);

    // A flood from one peer: its burst (4) then refusals, while a refresh counts as a reservation.
    auto& flooder = *peers.front();
    int flood_refused = 0;
    for (int i = 0; i < 10; ++i)
        if (!reserve(flooder)) ++flood_refused;
    EXPECT_GE(flood_refused, 6);
    EXPECT_GE(refused("reservation_rate_per_peer"), 6u);
    EXPECT_EQ(relay->reservations(), 8u);

    // Once a peer leaves, its slot is free for a newcomer from the same address.
    peers.back()->host.stop();
    peers[1]->host.stop();
    ASSERT_TRUE(run_until(
        io, [&] { return relay->reservations() == 7u; }, 5s));
    auto& newcomer = add_peer();
    EXPECT_TRUE(reserve(newcomer));
}

TEST_F(Relay, CircuitsAreCutAtTheirByteLimit) {
    relay::RelayConfig config;
    config.circuit_bytes = 64 * 1024;
    start_relay(config);
    auto& a = add_peer();
    auto& b = add_peer();
    ASSERT_TRUE(reserve(a));
    auto conn = dial_through(b, a);
    ASSERT_TRUE(conn) << conn.error().message();
    auto back = echo(b.host, *conn, 256 * 1024);
    EXPECT_LT(back.size(), 256u * 1024);  // cut before it all came back
    ASSERT_TRUE(run_until(
        io, [&] { return relay->stats().circuits_ended_by[net::PipeEnd::bytes] == 1; }, 10s));
    EXPECT_LE(relay->stats().bytes_relayed, 2u * 64 * 1024);

    // The relay still serves: a new circuit echoes a small message.
    auto again = dial_through(b, a);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(echo(b.host, *again, 1000), random_bytes(1000, 7));
}

TEST_F(Relay, CircuitsAreCutAtTheirDurationEvenWhenAPeerNeverReads) {
    relay::RelayConfig config;
    config.circuit_duration = std::chrono::milliseconds(1500);
    config.circuit_bytes = 64 * 1024 * 1024;
    start_relay(config);
    auto& a = add_peer();
    auto& b = add_peer();
    // A accepts a stream and never reads it.
    a.host.set_handler("/keel-test/sink/1.0.0",
                       [&](std::shared_ptr<net::YamuxStream>,
                           std::shared_ptr<Connection>) -> net::awaitable<void> {
                           asio::steady_timer t(io, std::chrono::seconds(30));
                           co_await t.async_wait(net::use_result);
                       });
    ASSERT_TRUE(reserve(a));
    auto conn = dial_through(b, a);
    ASSERT_TRUE(conn) << conn.error().message();
    const auto started = net::Clock::now();
    // Runs until its writes fail, past the end of this test body: it owns what it uses.
    auto writer = [&host = b.host, c = *conn]() -> net::awaitable<void> {
        std::vector<std::string> protocols{"/keel-test/sink/1.0.0"};
        auto stream = co_await host.new_stream(c, protocols);
        if (!stream) co_return;
        Bytes chunk(64 * 1024);
        while (!co_await (*stream)->write_all(chunk)) {
        }
    };
    asio::co_spawn(io, std::move(writer), asio::detached);
    ASSERT_TRUE(run_until(
        io, [&] { return relay->stats().circuits_ended_by[net::PipeEnd::duration] == 1; }, 15s));
    EXPECT_GE(seconds_since(started), 1.4);
    ASSERT_TRUE(run_until(
        io, [&] { return !(*conn)->is_open(); }, 10s));
    EXPECT_EQ(relay->circuits(), 0u);
}

TEST_F(Relay, MalformedHopMessagesCloseOnlyThatStream) {
    start_relay({});
    auto& a = add_peer();
    auto connection = run_task(io, a.host.connect(relay_addr), 10s);
    ASSERT_TRUE(connection && *connection);
    for (const Bytes& garbage :
         {Bytes{0x08, 0x07}, Bytes{0xff, 0xff, 0xff}, Bytes{0x12, 0x02, 0x0a, 0x00}, Bytes{}})
        EXPECT_EQ(
            status_after<pb::HopMessage>(a.host, **connection, relay::hop_protocol_id, garbage),
            pb::MALFORMED_MESSAGE);
    EXPECT_TRUE((**connection)->is_open());
    EXPECT_GE(refused("malformed"), 4u);
    EXPECT_TRUE(reserve(a));  // and the same peer reserves normally afterwards
}

// The client side: a relay (or anyone the client is connected to) that sends a malformed STOP
// costs that stream only; the reservation keeps working.
TEST_F(Relay, MalformedStopMessagesCloseOnlyThatStream) {
    start_relay({});
    auto& a = add_peer();
    auto& b = add_peer();
    ASSERT_TRUE(reserve(a));
    auto to_a = relay_host->connections_to(a.host.peer_id());
    ASSERT_FALSE(to_a.empty());
    for (const Bytes& garbage :
         {Bytes{0x08, 0x07}, Bytes{0xff, 0xff, 0xff}, Bytes{0x08, 0x00}, Bytes{}})
        EXPECT_EQ(status_after<pb::StopMessage>(*relay_host, to_a.front(), relay::stop_protocol_id,
                                                garbage),
                  pb::MALFORMED_MESSAGE);
    EXPECT_TRUE(to_a.front()->is_open());
    EXPECT_EQ(a.client.stats().circuit_failures, 4u);
    auto conn = dial_through(b, a);
    ASSERT_TRUE(conn) << conn.error().message();
    EXPECT_EQ(echo(b.host, *conn, 1000), random_bytes(1000, 7));
}

// STOP from a peer we hold no reservation with (here a relay we are only connected to) is
// refused: no relayed connection opens, whoever it claims to bring.
TEST_F(Relay, StopFromAPeerThatIsNotOurRelayIsRefused) {
    start_relay({});
    auto& a = add_peer();
    auto& b = add_peer();
    auto connected = run_task(io, a.host.connect(relay_addr), 10s);
    ASSERT_TRUE(connected && *connected);
    ASSERT_TRUE(run_until(
        io, [&] { return !relay_host->connections_to(a.host.peer_id()).empty(); }, 5s));
    auto to_a = relay_host->connections_to(a.host.peer_id());
    std::vector<std::shared_ptr<net::YamuxStream>> kept;
    EXPECT_EQ(stop_statuses(*relay_host, to_a.front(), b.host.peer_id(), 1, kept),
              std::vector<int>{pb::NO_RESERVATION});
    EXPECT_EQ(a.client.stats().circuits_refused, 1u);
    EXPECT_EQ(a.client.stats().circuits_accepted, 0u);
    EXPECT_TRUE(a.host.connections_to(b.host.peer_id()).empty());
    EXPECT_TRUE(to_a.front()->is_open());
}

// Through our own relay, circuits being set up or open count against the relay's limit: past
// it, STOP is answered RESOURCE_LIMIT_EXCEEDED; a circuit that ends gives its place back.
TEST_F(Relay, StopPastTheCircuitLimitPerRelayIsRefused) {
    start_relay({});
    relay::RelayClientConfig config;
    config.max_circuits_per_relay = 2;
    auto& a = add_peer(config);
    auto& b = add_peer();
    ASSERT_TRUE(reserve(a));
    auto to_a = relay_host->connections_to(a.host.peer_id());
    ASSERT_FALSE(to_a.empty());
    // The accepted ones wait for a Noise handshake that never comes: they stay counted.
    std::vector<std::shared_ptr<net::YamuxStream>> kept;
    EXPECT_EQ(stop_statuses(*relay_host, to_a.front(), b.host.peer_id(), 3, kept),
              (std::vector<int>{pb::OK, pb::OK, pb::RESOURCE_LIMIT_EXCEEDED}));
    EXPECT_EQ(a.client.stats().circuits_refused, 1u);
    for (auto& stream : kept) stream->reset();
    kept.clear();
    // Both places come back once their circuits have failed.
    EXPECT_TRUE(run_until(
        io, [&] { return a.client.stats().circuit_failures >= 2; }, 10s));
    auto conn = dial_through(b, a);
    ASSERT_TRUE(conn) << conn.error().message();
    EXPECT_EQ(echo(b.host, *conn, 1000), random_bytes(1000, 7));
}

TEST_F(Relay, KeptReservationComesBackAfterTheRelayRestarts) {
    start_relay({});
    auto& a = add_peer();
    a.client.keep_reservations({relay_addr});
    ASSERT_TRUE(run_until(
        io, [&] { return a.client.reservations().size() == 1; }, 10s));
    const auto port = endpoint_of(relay_addr).port();
    const auto key = relay_host->config().identity;
    relay->stop();
    relay.reset();
    relay_host->stop();
    ASSERT_TRUE(run_until(
        io, [&] { return a.client.reservations().empty(); }, 10s));
    EXPECT_TRUE(a.host.relayed_addrs().empty());

    // The same identity and port again: the client notices and reserves again by itself.
    auto config = test_config();
    config.identity = key;
    auto restarted = std::make_unique<Host>(io.get_executor(), std::move(config));
    ASSERT_TRUE(restarted->listen(*Multiaddr::parse("/ip4/127.0.0.1/tcp/" + std::to_string(port))));
    relay = std::make_unique<relay::RelayService>(*restarted, relay::RelayConfig{});
    relay->start();
    const auto t0 = net::Clock::now();
    ASSERT_TRUE(run_until(
        io, [&] { return a.client.reservations().size() == 1; }, 30s));
    std::printf("# [figure] re-reserved %.2f s after the relay came back\n", seconds_since(t0));
    old_hosts.push_back(std::move(relay_host));
    relay_host = std::move(restarted);
}

}  // namespace
}  // namespace keel::test
