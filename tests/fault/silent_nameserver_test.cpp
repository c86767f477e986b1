// Name lookups against a DNS server that never answers. Run only by silent-nameserver-test.sh,
// in a network and mount namespace of its own where /etc/resolv.conf names 127.0.0.1 (with
// glibc's default timeout: 5 s per try, 2 tries): the UDP socket this test binds there takes
// every query and answers none, as the server of a name a remote peer made up can.
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstdio>

#include "keel/crypto/ed25519.hpp"
#include "keel/host/failure.hpp"
#include "keel/host/host.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/net/net_errc.hpp"
#include "support/net_test_util.hpp"

namespace keel {
namespace {

namespace asio = net::asio;
using namespace std::chrono_literals;

Multiaddr ma(const std::string& text) {
    return Multiaddr::parse(text).value();
}

double seconds(net::Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

class SilentNameserver : public ::testing::Test {
  protected:
    asio::io_context io_;
    // Keeps run_for() running between the test's phases, when no operation is pending.
    asio::executor_work_guard<asio::io_context::executor_type> busy_{io_.get_executor()};
    // Bound and never read: queries queue in it, unanswered, and no ICMP says nobody listens.
    asio::ip::udp::socket silent_{io_,
                                  asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 53)};
};

// A dial's deadline holds however long the lookup takes: the lookup is left to its worker.
TEST_F(SilentNameserver, ADialEndsAtItsDeadline) {
    HostConfig config(Ed25519KeyPair::generate());
    config.dial_timeout = 300ms;
    Host host(io_.get_executor(), std::move(config));
    const auto peer = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    const auto addr = ma("/dns4/silent.keel-test/tcp/4001/p2p/" + peer.to_base58());
    std::optional<HostResult<std::shared_ptr<Connection>>> result;
    const auto start = net::Clock::now();
    asio::co_spawn(
        io_, [&]() -> net::awaitable<void> { result = co_await host.dial(addr); }, asio::detached);
    while (!result && net::Clock::now() - start < 20s) io_.run_for(10ms);
    const auto took = net::Clock::now() - start;
    ASSERT_TRUE(result.has_value()) << "dial did not finish";
    ASSERT_FALSE(*result);
    std::printf(
        "[figure] dns: dial of /dns4/<name nobody answers> with a 300 ms timeout: \"%s\" "
        "after %.3f s\n",
        result->error().message().c_str(), seconds(took));
    EXPECT_EQ(result->error().phase, Phase::dial);
    EXPECT_EQ(result->error().error, make_error_code(net::net_errc::timeout));
    EXPECT_LT(took, 2s);  // the lookup itself takes 10 s here
    host.stop();
    io_.run_for(50ms);
}

// A dial whose caller gives up while the name is being looked up (a DHT lookup that has its
// answer cancels its other queries) ends then, as cancelled: that says nothing of the peer, so it
// is not backed off. The lookup used to answer "timeout", and the dial backed the peer off.
TEST_F(SilentNameserver, ADialCancelledDuringItsLookupEndsAsCancelledAndBacksNobodyOff) {
    Host host(io_.get_executor(), HostConfig(Ed25519KeyPair::generate()));  // 10 s dial timeout
    const auto peer = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    const auto addr = ma("/dns4/cancelled.keel-test/tcp/4001/p2p/" + peer.to_base58());
    std::optional<HostResult<std::shared_ptr<Connection>>> result;
    asio::cancellation_signal cancel;
    asio::co_spawn(
        io_, [&]() -> net::awaitable<void> { result = co_await host.dial(addr); },
        asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    io_.run_for(50ms);  // the lookup is on its worker, waiting for the silent server
    ASSERT_FALSE(result.has_value());
    const auto start = net::Clock::now();
    cancel.emit(asio::cancellation_type::terminal);
    while (!result && net::Clock::now() - start < 20s) io_.run_for(10ms);
    const auto took = net::Clock::now() - start;
    ASSERT_TRUE(result.has_value()) << "the cancelled dial did not end";
    ASSERT_FALSE(*result);
    EXPECT_EQ(result->error().error, make_error_code(asio::error::operation_aborted))
        << result->error().message();
    EXPECT_LT(took, 1s);  // not the 10 s timeout
    EXPECT_FALSE(host.dial_backoff().waiting(peer)) << "a cancelled dial backed the peer off";
    host.stop();
    io_.run_for(50ms);
}

// Lookups nobody answers hold a worker each, not the one resolver thread every lookup waits for:
// a name /etc/hosts knows still resolves meanwhile.
TEST_F(SilentNameserver, LookupsNobodyAnswersDoNotHoldUpTheOthers) {
    constexpr int silent_names = 4;
    std::vector<std::optional<net::result<std::vector<asio::ip::tcp::endpoint>>>> silent(
        silent_names);
    const auto start = net::Clock::now();
    for (int i = 0; i < silent_names; ++i) {
        asio::co_spawn(
            io_,
            [&silent, i]() -> net::awaitable<void> {
                auto addr = ma("/dns4/silent-" + std::to_string(i) + ".keel-test/tcp/4001");
                silent[static_cast<std::size_t>(i)] = co_await resolve_tcp(addr, 300ms);
            },
            asio::detached);
    }
    auto all_silent_back = [&] {
        for (const auto& s : silent)
            if (!s) return false;
        return true;
    };
    while (!all_silent_back() && net::Clock::now() - start < 20s) io_.run_for(10ms);
    const auto silent_took = net::Clock::now() - start;
    ASSERT_TRUE(all_silent_back());
    for (const auto& s : silent) {
        ASSERT_FALSE(*s);
        EXPECT_EQ(s->error(), make_error_code(net::net_errc::timeout));
    }
    EXPECT_LT(silent_took, 2s);

    std::optional<net::result<std::vector<asio::ip::tcp::endpoint>>> local;
    const auto local_start = net::Clock::now();
    asio::co_spawn(
        io_,
        [&local]() -> net::awaitable<void> {
            local = co_await resolve_tcp(ma("/dns4/localhost/tcp/4001"), 1s);
        },
        asio::detached);
    while (!local && net::Clock::now() - local_start < 20s) io_.run_for(10ms);
    const auto local_took = net::Clock::now() - local_start;
    ASSERT_TRUE(local.has_value());
    ASSERT_TRUE(*local) << local->error().message();
    std::printf(
        "[figure] dns: %d lookups nobody answers, 300 ms timeout each: back after %.3f s; "
        "then /dns4/localhost resolved in %.3f s\n",
        silent_names, seconds(silent_took), seconds(local_took));
    ASSERT_FALSE((*local)->empty());
    EXPECT_EQ((*local)->front(),
              asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 4001));
    EXPECT_LT(local_took, 1s);
}

}  // namespace
}  // namespace keel
