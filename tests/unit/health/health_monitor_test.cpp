// The health monitor without a network: what it reports before any probe, how a new bootstrap
// list is taken, and what it makes of a bootstrap it cannot dial at all (an address with no
// transport we speak), which fails at once without leaving the process.
#include "keel/health/health_monitor.hpp"

#include <gtest/gtest.h>

#include "keel/crypto/ed25519.hpp"
#include "support/net_test_util.hpp"

namespace keel::health {
namespace {

namespace asio = net::asio;
using namespace std::chrono_literals;
using net::awaitable;
using net::test::run;
using net::test::wait_until;

PeerId some_peer() {
    return PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
}

Multiaddr addr(const std::string& text) {
    return Multiaddr::parse(text).value();
}

std::vector<Multiaddr> addrs_of(const std::vector<MonitoredBootstrap>& snapshot) {
    std::vector<Multiaddr> out;
    for (const auto& b : snapshot) out.push_back(b.health.addr);
    return out;
}

TEST(HealthMonitor, BeforeAnyProbeEverythingIsConnecting) {
    run([]() -> awaitable<void> {
        Host host(co_await asio::this_coro::executor, HostConfig(Ed25519KeyPair::generate()));
        kad::Dht dht(host, kad::DhtConfig{});
        const auto id = some_peer();
        const auto with_id = addr("/ip4/192.0.2.1/tcp/4001/p2p/" + id.to_base58());
        const auto without_id = addr("/ip4/192.0.2.2/tcp/4001");
        HealthMonitor monitor(host, dht, {with_id, without_id});
        auto snapshot = monitor.snapshot();
        KEEL_CO_ASSERT(snapshot.size() == 2u);
        EXPECT_EQ(snapshot[0].health.addr, with_id);
        EXPECT_EQ(snapshot[0].health.peer_id, id);  // taken from the /p2p component
        EXPECT_EQ(snapshot[1].health.addr, without_id);
        EXPECT_FALSE(snapshot[1].health.peer_id.has_value());
        for (const auto& b : snapshot) {
            EXPECT_EQ(b.health.state, HealthState::connecting);
            EXPECT_EQ(b.probes, 0u);
            EXPECT_FALSE(b.reconnect.active);
        }
        EXPECT_EQ(monitor.node_state(), HealthState::connecting);
    });
}

TEST(HealthMonitor, NoBootstrapsIsConnecting) {
    run([]() -> awaitable<void> {
        Host host(co_await asio::this_coro::executor, HostConfig(Ed25519KeyPair::generate()));
        kad::Dht dht(host, kad::DhtConfig{});
        HealthMonitor monitor(host, dht, {});
        EXPECT_TRUE(monitor.snapshot().empty());
        EXPECT_EQ(monitor.node_state(), HealthState::connecting);
    });
}

TEST(HealthMonitor, NewBootstrapListReplacesTheOldOne) {
    run([]() -> awaitable<void> {
        Host host(co_await asio::this_coro::executor, HostConfig(Ed25519KeyPair::generate()));
        kad::Dht dht(host, kad::DhtConfig{});
        const auto a = addr("/ip4/192.0.2.1/tcp/1");
        const auto b = addr("/ip4/192.0.2.2/tcp/2");
        const auto c = addr("/ip4/192.0.2.3/tcp/3");
        HealthMonitor monitor(host, dht, {a, b});
        monitor.set_bootstraps({c, b});
        EXPECT_EQ(addrs_of(monitor.snapshot()), (std::vector<Multiaddr>{c, b}));
        monitor.set_bootstraps({});
        EXPECT_TRUE(monitor.snapshot().empty());
    });
}

TEST(HealthMonitor, UndialableBootstrapIsDownAndWaitsToRedial) {
    run([]() -> awaitable<void> {
        Host host(co_await asio::this_coro::executor, HostConfig(Ed25519KeyPair::generate()));
        kad::Dht dht(host, kad::DhtConfig{});
        MonitorConfig config;
        config.probe_interval = 60s;
        config.backoff.initial = 60s;  // no second probe within the test
        config.backoff.max = 120s;
        const auto id = some_peer();
        const auto undialable = addr("/ip4/192.0.2.1/udp/4001/p2p/" + id.to_base58());
        HealthMonitor monitor(host, dht, {undialable}, config);
        std::vector<std::pair<HealthState, HealthState>> changes;  // (now, previous)
        monitor.on_change([&](const MonitoredBootstrap& now, HealthState previous) {
            changes.emplace_back(now.health.state, previous);
        });
        const auto before = std::chrono::system_clock::now();
        monitor.start();
        std::function<bool()> probed = [&] { return !changes.empty(); };
        bool done = co_await wait_until(probed, 5000ms);
        KEEL_CO_ASSERT(done);

        auto snapshot = monitor.snapshot();
        KEEL_CO_ASSERT(snapshot.size() == 1u);
        const auto& b = snapshot[0];
        EXPECT_EQ(b.health.state, HealthState::down);
        EXPECT_EQ(b.health.peer_id, id);
        EXPECT_FALSE(b.health.reachable);
        EXPECT_FALSE(b.health.last_error.empty());
        EXPECT_EQ(b.health.failed_phase, Phase::dial);
        EXPECT_EQ(b.health.consecutive_failures, 1u);
        EXPECT_EQ(b.probes, 1u);
        EXPECT_TRUE(b.reconnect.active);
        EXPECT_EQ(b.reconnect.attempt, 1);
        // The backoff's first delay, jitter included (±20 %).
        EXPECT_GE(b.reconnect.next_attempt, before + 47s);
        EXPECT_EQ(changes.front(), std::make_pair(HealthState::down, HealthState::connecting));
        EXPECT_EQ(monitor.node_state(), HealthState::down);

        // A new list while running: the kept bootstrap keeps its state, a new one is probed now.
        const auto other = addr("/ip4/192.0.2.2/udp/4001");
        monitor.set_bootstraps({undialable, other});
        std::function<bool()> both = [&] { return changes.size() >= 2; };
        done = co_await wait_until(both, 5000ms);
        KEEL_CO_ASSERT(done);
        snapshot = monitor.snapshot();
        KEEL_CO_ASSERT(snapshot.size() == 2u);
        EXPECT_EQ(snapshot[0].probes, 1u);
        EXPECT_EQ(snapshot[0].health.state, HealthState::down);
        EXPECT_EQ(snapshot[1].health.addr, other);
        EXPECT_EQ(snapshot[1].probes, 1u);
        EXPECT_EQ(snapshot[1].health.state, HealthState::down);
        monitor.stop();
    });
}

}  // namespace
}  // namespace keel::health
