// Matrix item 2: Yamux under each implementation's own rules. 300 streams opened at once on one
// connection by either side (rust keeps at most 256 unacknowledged outbound streams and acks
// inbound ones lazily, with its first frame); 16 MiB echoed on one stream and 8 MiB on each of 8
// streams, each way (flow control past the 256 KiB initial window); a connection left idle for
// 70 s stays up (go-yamux pings after 30 s idle and closes on a late pong; rust pings every 10 s).
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <random>

#include "interop_fixture.hpp"

namespace keel::test::interop {
namespace {

using namespace boost::asio::experimental::awaitable_operators;

Bytes pseudo_random(std::size_t size, std::uint64_t seed) {
    Bytes out(size);
    std::mt19937_64 engine(seed);
    for (std::size_t i = 0; i < size; i += 8) {
        auto word = engine();
        for (std::size_t j = 0; j < 8 && i + j < size; ++j)
            out[i + j] = static_cast<std::uint8_t>(word >> (8 * j));
    }
    return out;
}

// Writes `data` on a new /keel/echo/1.0.0 stream while reading the echo back; true when every
// byte came back unchanged and the remote closed after it.
net::awaitable<bool> echo_once(Host& host, std::shared_ptr<Connection> conn,
                               std::shared_ptr<const Bytes> data) {
    std::vector<std::string> wanted{std::string(protocols::echo_protocol_id)};
    auto stream = co_await host.new_stream(conn, wanted);
    if (!stream) {
        std::cerr << "new_stream: " << stream.error().error.message() << "\n";
        co_return false;
    }
    auto s = *stream;
    auto writer = [](std::shared_ptr<net::YamuxStream> s,
                     std::shared_ptr<const Bytes> data) -> net::awaitable<bool> {
        if (co_await s->write_all(*data)) co_return false;
        co_return !co_await s->close_write();
    };
    auto reader = [](std::shared_ptr<net::YamuxStream> s,
                     std::shared_ptr<const Bytes> data) -> net::awaitable<bool> {
        Bytes back;
        back.reserve(data->size());
        std::array<std::uint8_t, 64 * 1024> buffer{};
        while (true) {
            auto n = co_await s->read_some(buffer);
            if (!n) break;
            back.insert(back.end(), buffer.begin(), buffer.begin() + *n);
            if (back.size() > data->size()) co_return false;
        }
        co_return back == *data;
    };
    auto [wrote, read] = co_await (writer(s, data) && reader(s, data));
    co_return wrote&& read;
}

// Runs `count` echoes of `bytes` each at once on `conn`; how many succeeded.
net::awaitable<std::size_t> echo_at_once(Host& host, std::shared_ptr<Connection> conn,
                                         std::size_t count, std::size_t bytes) {
    auto ex = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(ex, std::declval<net::awaitable<bool>>(), asio::deferred));
    std::vector<Op> ops;
    for (std::size_t i = 0; i < count; ++i) {
        auto data = std::make_shared<const Bytes>(pseudo_random(bytes, i + 1));
        ops.push_back(asio::co_spawn(ex, echo_once(host, conn, data), asio::deferred));
    }
    auto [order, errors, results] =
        co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    std::size_t ok = 0;
    for (std::size_t i = 0; i < results.size(); ++i)
        if (!errors[i] && results[i]) ++ok;
    co_return ok;
}

HostConfig keel_config() {
    HostConfig config(Ed25519KeyPair::generate());
    config.yamux.close_linger = 200ms;
    return config;
}

class Yamux : public InteropTest {
  protected:
    // The peer dials Keel and runs `action` (e.g. "streams ID 300") against it.
    void peer_runs(const std::string& action, Clock::duration timeout) {
        InProcessKeel keel(keel_config());
        auto* p = start_peer(
            "peer", kind(),
            {"--timeout",
             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                 "s",
             "--do", "dial " + keel.addr_text(), "--do",
             action + " " + keel.peer_id() + " " + args_});
        ASSERT_TRUE(p);
        auto name = action;
        auto r = expect_action(*p, name, timeout + 10s);
        if (r)
            std::cout << "[figure] " << kind() << " " << name << " " << args_ << ": " << r->dump()
                      << std::endl;
    }
    // Keel dials the peer and runs `count` echoes of `bytes` at once.
    void keel_echoes(std::size_t count, std::size_t bytes, Clock::duration timeout) {
        InProcessKeel keel(keel_config());
        auto* p = start_peer("peer", kind(), {});
        ASSERT_TRUE(p);
        auto addr = Multiaddr::parse(p->addr);
        ASSERT_TRUE(addr);
        auto conn = keel.await([&keel, a = *addr] { return keel.host().dial(a); }, 20s);
        ASSERT_TRUE(conn && conn->has_value()) << "Keel could not dial the peer";
        auto c = **conn;
        auto t0 = Clock::now();
        auto ok = keel.await(
            [&keel, c, count, bytes] { return echo_at_once(keel.host(), c, count, bytes); },
            std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
        ASSERT_TRUE(ok.has_value()) << count << " echoes of " << bytes
                                    << " bytes did not finish in " << seconds(timeout) << " s";
        EXPECT_EQ(*ok, count) << "echoes that came back intact";
        EXPECT_TRUE(keel.run([c] { return c->is_open(); })) << "the connection closed";
        std::cout << "[figure] " << kind() << " Keel opens " << count << " x " << bytes
                  << " B: " << millis(Clock::now() - t0) << " ms" << std::endl;
    }
    std::string args_;
};

TEST_P(Yamux, PeerOpens300StreamsAtOnce) {
    args_ = "300";
    peer_runs("streams", 60s);
}
// go-yamux resets streams past its 256-stream accept backlog: Keel keeps at most 256 of its
// streams unacknowledged (it lost ~40 of 300 to go before).
TEST_P(Yamux, KeelOpens300StreamsAtOnce) {
    keel_echoes(300, 4, 60s);
}
TEST_P(Yamux, PeerEchoes16MiBOnOneStream) {
    args_ = "16777216 1";
    peer_runs("echo", 120s);
}
TEST_P(Yamux, KeelEchoes16MiBOnOneStream) {
    keel_echoes(1, 16 * 1024 * 1024, 120s);
}
TEST_P(Yamux, PeerEchoes8MiBOnEachOf8Streams) {
    args_ = "8388608 8";
    peer_runs("echo", 120s);
}
TEST_P(Yamux, KeelEchoes8MiBOnEachOf8Streams) {
    keel_echoes(8, 8 * 1024 * 1024, 120s);
}

// One connection each way, idle for 70 s: both still up, the same connections (no redial).
TEST_P(Yamux, IdleConnectionsStayUp70s) {
    InProcessKeel keel(keel_config());
    auto* dialer = start_peer("dialer", kind(),
                              {"--timeout", "90s", "--do", "dial " + keel.addr_text(), "--do",
                               "hold " + keel.peer_id() + " 70s"});
    auto* listener = start_peer("listener", kind(), {});
    ASSERT_TRUE(dialer && listener);
    auto addr = Multiaddr::parse(listener->addr);
    ASSERT_TRUE(addr);
    auto conn = keel.await([&keel, a = *addr] { return keel.host().dial(a); }, 20s);
    ASSERT_TRUE(conn && conn->has_value()) << "Keel could not dial the listener";
    auto c = **conn;
    auto held = expect_action(*dialer, "hold", 100s);
    EXPECT_TRUE(held && held->value("connected", false));
    EXPECT_TRUE(keel.run([c] { return c->is_open(); }))
        << "Keel's outbound connection to the idle peer closed";
    EXPECT_TRUE(
        listener->find_events([](const json& j) { return j.value("event", "") == "disconnected"; })
            .empty())
        << "the listener saw a disconnect:\n"
        << listener->stdout_tail();
    auto dialer_id = PeerId::parse(dialer->peer_id);
    ASSERT_TRUE(dialer_id);
    EXPECT_EQ(keel.run([&] { return keel.host().connections_to(*dialer_id).size(); }), 1u);
}

INSTANTIATE_TEST_SUITE_P(Peers, Yamux, ::testing::ValuesIn(foreign_peers()), param_name);

}  // namespace
}  // namespace keel::test::interop
