// Inbound admission: each limit refuses with its own reason, a host is an IPv4 address or an IPv6
// /56 and a network an IPv4 /24 or an IPv6 /48, the per-address token bucket refills with the time
// passed in (no sleeping), loopback is exempt from the per-address limits only when told, the
// per-address tables forget what no longer counts, and a full set of handshakes makes room for a
// newcomer from a less crowded network by ending the most crowded one's oldest.
#include <gtest/gtest.h>

#include <deque>
#include <set>
#include <string>

#include "keel/host/inbound_admission.hpp"

namespace keel {
namespace {

using namespace std::chrono_literals;
using Address = InboundAdmission::Address;

Address ip(const char* text) {
    return net::asio::ip::make_address(text);
}

// A fixed start, so that every test spells its times as offsets.
const net::Clock::time_point t0 = net::Clock::time_point{} + 1000h;

// Limits with nothing capped and loopback not exempt; each test sets the one it checks.
AdmissionLimits none() {
    AdmissionLimits limits;
    limits.exempt_loopback = false;
    return limits;
}

// Admits a connection from `from` and lets it go through its upgrade and close again.
void connect_and_close(InboundAdmission& admission, const Address& from,
                       net::Clock::time_point now) {
    ASSERT_EQ(admission.admit(from, now, 0), std::nullopt) << from.to_string();
    admission.upgraded(from);
    admission.closed(from);
}

TEST(InboundAdmission, ReasonsHaveDistinctNames) {
    std::set<std::string> names;
    for (auto reason : all_refusals) names.emplace(refusal_name(reason));
    EXPECT_EQ(names, (std::set<std::string>{"connections", "pending", "pending_per_ip", "per_ip",
                                            "per_subnet", "rate_per_ip"}));
}

TEST(InboundAdmission, GlobalCapsCountOpenConnectionsAndHandshakesInProgress) {
    auto limits = none();
    limits.max_connections = 10;
    limits.max_pending = 2;
    InboundAdmission admission(limits);
    EXPECT_EQ(admission.admit(ip("192.0.2.1"), t0, 10), Refusal::connections);
    EXPECT_EQ(admission.admit(ip("192.0.2.1"), t0, 9), std::nullopt);
    EXPECT_EQ(admission.admit(ip("198.51.100.1"), t0, 9), std::nullopt);
    EXPECT_EQ(admission.pending(), 2u);
    EXPECT_EQ(admission.admit(ip("203.0.113.1"), t0, 9), Refusal::pending);
    admission.upgraded(ip("192.0.2.1"));
    EXPECT_EQ(admission.pending(), 1u);
    EXPECT_EQ(admission.admit(ip("203.0.113.1"), t0, 9), std::nullopt);
    admission.upgrade_failed(ip("198.51.100.1"));
    EXPECT_EQ(admission.pending(), 1u);
}

TEST(InboundAdmission, PendingPerIpCapsOneAddressesHandshakes) {
    auto limits = none();
    limits.max_pending_per_ip = 2;
    InboundAdmission admission(limits);
    auto a = ip("192.0.2.7");
    EXPECT_EQ(admission.admit(a, t0, 0), std::nullopt);
    EXPECT_EQ(admission.admit(a, t0, 0), std::nullopt);
    EXPECT_EQ(admission.admit(a, t0, 0), Refusal::pending_per_ip);
    EXPECT_EQ(admission.admit(ip("192.0.2.8"), t0, 0), std::nullopt) << "another address";
    EXPECT_EQ(admission.pending_from(a), 2u);
    admission.upgraded(a);  // upgraded connections no longer hold a handshake slot
    EXPECT_EQ(admission.pending_from(a), 1u);
    EXPECT_EQ(admission.admit(a, t0, 0), std::nullopt);
}

TEST(InboundAdmission, PerIpCountsPendingAndUpgradedUntilTheyEnd) {
    auto limits = none();
    limits.max_connections_per_ip = 3;
    InboundAdmission admission(limits);
    auto a = ip("192.0.2.7");
    for (int i = 0; i < 3; ++i) ASSERT_EQ(admission.admit(a, t0, 0), std::nullopt);
    admission.upgraded(a);
    admission.upgraded(a);
    EXPECT_EQ(admission.connections_from(a), 3u);
    EXPECT_EQ(admission.admit(a, t0, 0), Refusal::per_ip);
    EXPECT_EQ(admission.admit(ip("192.0.2.8"), t0, 0), std::nullopt) << "another address";

    admission.upgrade_failed(a);  // the pending one
    EXPECT_EQ(admission.connections_from(a), 2u);
    EXPECT_EQ(admission.admit(a, t0, 0), std::nullopt);
    EXPECT_EQ(admission.admit(a, t0, 0), Refusal::per_ip);
    admission.closed(a);  // an upgraded one
    EXPECT_EQ(admission.admit(a, t0, 0), std::nullopt);
}

TEST(InboundAdmission, Ipv4SubnetsAreSlash24) {
    EXPECT_EQ(network_of(ip("192.0.2.77")), ip("192.0.2.0"));
    EXPECT_EQ(network_of(ip("::ffff:192.0.2.77")), ip("192.0.2.0"));
    EXPECT_EQ(host_of(ip("::ffff:192.0.2.77")), ip("192.0.2.77"));
    auto limits = none();
    limits.max_connections_per_subnet = 3;
    InboundAdmission admission(limits);
    EXPECT_EQ(admission.admit(ip("192.0.2.1"), t0, 0), std::nullopt);
    EXPECT_EQ(admission.admit(ip("192.0.2.2"), t0, 0), std::nullopt);
    EXPECT_EQ(admission.admit(ip("::ffff:192.0.2.3"), t0, 0), std::nullopt)
        << "an IPv4-mapped address is the IPv4 address";
    EXPECT_EQ(admission.connections_from_subnet(ip("192.0.2.99")), 3u);
    EXPECT_EQ(admission.admit(ip("192.0.2.200"), t0, 0), Refusal::per_subnet);
    EXPECT_EQ(admission.admit(ip("192.0.3.1"), t0, 0), std::nullopt) << "the next /24";
    admission.upgraded(ip("192.0.2.2"));
    EXPECT_EQ(admission.admit(ip("192.0.2.200"), t0, 0), Refusal::per_subnet)
        << "upgraded connections still count";
    admission.closed(ip("192.0.2.2"));
    EXPECT_EQ(admission.admit(ip("192.0.2.200"), t0, 0), std::nullopt);
}

TEST(InboundAdmission, Ipv6NetworksAreSlash48) {
    EXPECT_EQ(network_of(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")), ip("2001:db8:1::"));
    auto limits = none();
    limits.max_connections_per_subnet = 2;
    InboundAdmission admission(limits);
    EXPECT_EQ(admission.admit(ip("2001:db8:1:2::1"), t0, 0), std::nullopt);
    EXPECT_EQ(admission.admit(ip("2001:db8:1:ffff:ffff:ffff:ffff:ffff"), t0, 0), std::nullopt);
    EXPECT_EQ(admission.admit(ip("2001:db8:1:3:1234::5"), t0, 0), Refusal::per_subnet);
    EXPECT_EQ(admission.admit(ip("2001:db8:2::1"), t0, 0), std::nullopt) << "the next /48";
    EXPECT_EQ(admission.connections_from_subnet(ip("2001:db8:1:42::42")), 2u);
}

TEST(InboundAdmission, AnIpv6HostIsItsSlash56) {
    EXPECT_EQ(host_of(ip("2001:db8:1:2ab:aaaa:bbbb:cccc:dddd")), ip("2001:db8:1:200::"));
    EXPECT_EQ(host_of(ip("192.0.2.77")), ip("192.0.2.77"));
    auto limits = none();
    limits.max_connections_per_ip = 2;
    limits.rate_per_ip = 1;
    limits.burst_per_ip = 3;
    InboundAdmission admission(limits);
    // Every address of one /56, whichever of its /64s, is the same host: its connections and its
    // tokens are shared.
    for (const char* a : {"2001:db8:1:200::1", "2001:db8:1:2ff::2"})
        EXPECT_EQ(admission.admit(ip(a), t0, 0), std::nullopt) << a;
    EXPECT_EQ(admission.admit(ip("2001:db8:1:201::3"), t0, 0), Refusal::per_ip);
    EXPECT_EQ(admission.connections_from(ip("2001:db8:1:2fe:ffff::")), 2u);
    for (const char* a : {"2001:db8:1:200::1", "2001:db8:1:2ff::2"})
        admission.upgrade_failed(ip(a));
    EXPECT_EQ(admission.admit(ip("2001:db8:1:202::4"), t0, 0), std::nullopt) << "a third token";
    EXPECT_EQ(admission.admit(ip("2001:db8:1:203::5"), t0, 0), Refusal::rate_per_ip);
    EXPECT_EQ(admission.admit(ip("2001:db8:1:300::5"), t0, 0), std::nullopt) << "the next /56";
}

TEST(InboundAdmission, TokenBucketAllowsABurstThenTheRate) {
    auto limits = none();
    limits.rate_per_ip = 2;  // one token every 500 ms
    limits.burst_per_ip = 3;
    InboundAdmission admission(limits);
    auto a = ip("192.0.2.7");
    for (int i = 0; i < 3; ++i) connect_and_close(admission, a, t0);
    EXPECT_EQ(admission.admit(a, t0, 0), Refusal::rate_per_ip);
    EXPECT_EQ(admission.admit(ip("192.0.2.8"), t0, 0), std::nullopt) << "its own bucket";
    EXPECT_EQ(admission.admit(a, t0 + 499ms, 0), Refusal::rate_per_ip);
    EXPECT_EQ(admission.admit(a, t0 + 500ms, 0), std::nullopt);
    EXPECT_EQ(admission.admit(a, t0 + 500ms, 0), Refusal::rate_per_ip);
    // Refusals take no token: the next one still comes 500 ms after the last admitted.
    for (int i = 0; i < 5; ++i) EXPECT_EQ(admission.admit(a, t0 + 900ms, 0), Refusal::rate_per_ip);
    EXPECT_EQ(admission.admit(a, t0 + 1000ms, 0), std::nullopt);
    // A long pause refills the bucket up to the burst, no more.
    for (int i = 0; i < 3; ++i) EXPECT_EQ(admission.admit(a, t0 + 60s, 0), std::nullopt);
    EXPECT_EQ(admission.admit(a, t0 + 60s, 0), Refusal::rate_per_ip);
}

TEST(InboundAdmission, LoopbackIsExemptFromPerAddressLimitsWhenConfigured) {
    AdmissionLimits limits;
    limits.max_pending = 20;
    limits.max_pending_per_ip = 1;
    limits.max_connections_per_ip = 1;
    limits.max_connections_per_subnet = 1;
    limits.rate_per_ip = 1;
    limits.burst_per_ip = 1;
    ASSERT_TRUE(limits.exempt_loopback) << "exempt unless told otherwise";
    {
        InboundAdmission admission(limits);
        for (const char* a : {"127.0.0.1", "127.0.0.1", "127.0.0.1", "127.1.0.5", "127.1.0.5",
                              "::1", "::1", "::ffff:127.0.0.1"})
            EXPECT_EQ(admission.admit(ip(a), t0, 0), std::nullopt) << a;
        EXPECT_EQ(admission.tracked_addresses(), 0u) << "exempt addresses are not even tracked";
        EXPECT_EQ(admission.admit(ip("192.0.2.1"), t0, 0), std::nullopt);
        EXPECT_EQ(admission.admit(ip("192.0.2.1"), t0, 0), Refusal::pending_per_ip)
            << "others are still limited";
        // The global caps apply to loopback too.
        for (int i = 0; i < 11; ++i)
            ASSERT_EQ(admission.admit(ip("127.0.0.1"), t0, 0), std::nullopt);
        EXPECT_EQ(admission.pending(), 20u);
        EXPECT_EQ(admission.admit(ip("127.0.0.1"), t0, 0), Refusal::pending);
    }
    limits.exempt_loopback = false;
    {
        InboundAdmission admission(limits);
        EXPECT_EQ(admission.admit(ip("127.0.0.1"), t0, 0), std::nullopt);
        EXPECT_EQ(admission.admit(ip("127.0.0.1"), t0, 0), Refusal::pending_per_ip);
        EXPECT_EQ(admission.admit(ip("127.0.0.2"), t0, 0), Refusal::per_subnet);
        EXPECT_EQ(admission.admit(ip("::1"), t0, 0), std::nullopt);
        admission.upgraded(ip("::1"));
        admission.closed(ip("::1"));
        EXPECT_EQ(admission.admit(ip("::1"), t0, 0), Refusal::rate_per_ip);
    }
}

TEST(InboundAdmission, TheFirstLimitHitNamesTheRefusal) {
    auto limits = none();
    limits.max_pending = 100;
    limits.max_pending_per_ip = 1;
    limits.max_connections_per_ip = 1;
    InboundAdmission admission(limits);
    auto a = ip("192.0.2.7");
    ASSERT_EQ(admission.admit(a, t0, 0), std::nullopt);
    EXPECT_EQ(admission.admit(a, t0, 0), Refusal::pending_per_ip) << "pending per IP comes first";
    admission.upgraded(a);
    EXPECT_EQ(admission.admit(a, t0, 0), Refusal::per_ip);
}

TEST(InboundAdmission, WithoutARateLimitAddressesAreForgottenWithTheirLastConnection) {
    auto limits = none();
    limits.max_connections_per_ip = 64;
    limits.max_connections_per_subnet = 256;
    InboundAdmission admission(limits);
    auto a = ip("192.0.2.7");
    ASSERT_EQ(admission.admit(a, t0, 0), std::nullopt);
    EXPECT_EQ(admission.tracked_addresses(), 1u);
    EXPECT_EQ(admission.tracked_subnets(), 1u);
    admission.upgrade_failed(a);
    EXPECT_EQ(admission.tracked_addresses(), 0u);
    EXPECT_EQ(admission.tracked_subnets(), 0u);
}

TEST(InboundAdmission, ManySourcesSeenOnceLeaveNothingBehind) {
    auto limits = none();
    limits.max_connections_per_ip = 64;
    limits.max_connections_per_subnet = 256;
    limits.rate_per_ip = 10;
    limits.burst_per_ip = 40;
    InboundAdmission admission(limits);
    // A spread of sources, each connecting once (an IPv6 range, a botnet): each entry keeps its
    // bucket until it has refilled, then goes.
    for (int i = 0; i < 1000; ++i) {
        auto a = net::asio::ip::address_v6(
            {0x20, 0x01, 0x0d, 0xb8, static_cast<unsigned char>(i >> 8),
             static_cast<unsigned char>(i), 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
        ASSERT_NO_FATAL_FAILURE(connect_and_close(admission, a, t0));
    }
    EXPECT_EQ(admission.tracked_addresses(), 1000u) << "buckets still refilling";
    EXPECT_EQ(admission.tracked_subnets(), 0u) << "subnet counts go with their last connection";
    // 100 ms later every bucket is full again; the next admission at least a second after the
    // last sweep sweeps them out.
    EXPECT_EQ(admission.admit(ip("192.0.2.1"), t0 + 2s, 0), std::nullopt);
    EXPECT_EQ(admission.tracked_addresses(), 1u);

    // Refused connections add nothing.
    limits.max_pending = 0;
    InboundAdmission full(limits);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(full.admit(ip("192.0.2.1"), t0, 0), Refusal::pending);
    EXPECT_EQ(full.tracked_addresses(), 0u);
}

TEST(InboundAdmission, ABucketStillRefillingIsNotForgotten) {
    auto limits = none();
    limits.rate_per_ip = 1;
    limits.burst_per_ip = 2;
    InboundAdmission admission(limits);
    auto a = ip("192.0.2.7");
    connect_and_close(admission, a, t0);
    connect_and_close(admission, a, t0);
    // 1.2 s later the sweep runs, but the bucket holds 1.2 of 2 tokens: closing and reconnecting
    // must not have reset it.
    EXPECT_EQ(admission.admit(a, t0 + 1200ms, 0), std::nullopt);
    EXPECT_EQ(admission.admit(a, t0 + 1200ms, 0), Refusal::rate_per_ip);
}

// The handshakes in progress in the order admitted, as the Host keeps them: what EvictOldest ends.
struct Handshakes {
    std::deque<Address> in_progress;
    std::vector<Address> evicted_groups;

    std::optional<Refusal> admit(InboundAdmission& admission, const char* from) {
        auto address = ip(from);
        auto refused = admission.admit(address, t0, 0, [this](const Address& group) {
            evicted_groups.push_back(group);
            return evict_oldest(group);
        });
        if (!refused) in_progress.push_back(address);
        return refused;
    }
    std::optional<Address> evict_oldest(const Address& group) {
        for (auto it = in_progress.begin(); it != in_progress.end(); ++it) {
            if (network_of(*it) != group) continue;
            auto address = *it;
            in_progress.erase(it);
            return address;
        }
        return std::nullopt;
    }
};

TEST(InboundAdmission, AFullSetOfHandshakesMakesRoomFromTheMostCrowdedNetwork) {
    auto limits = none();
    limits.max_pending = 4;
    InboundAdmission admission(limits);
    Handshakes handshakes;
    // One network holds three places, another one.
    for (const char* a : {"192.0.2.1", "192.0.2.2", "192.0.2.3", "198.51.100.1"})
        ASSERT_EQ(handshakes.admit(admission, a), std::nullopt) << a;
    EXPECT_EQ(admission.admit(ip("203.0.113.1"), t0, 0), Refusal::pending)
        << "without a way to end a handshake, a full set refuses";

    // A newcomer from a third network ends the crowded one's oldest handshake.
    EXPECT_EQ(handshakes.admit(admission, "203.0.113.1"), std::nullopt);
    EXPECT_EQ(handshakes.evicted_groups, std::vector<Address>{ip("192.0.2.0")});
    EXPECT_EQ(handshakes.in_progress.front(), ip("192.0.2.2")) << "the oldest went";
    EXPECT_EQ(admission.pending(), 4u);
    EXPECT_EQ(admission.pending_from_network(ip("192.0.2.200")), 2u);
    EXPECT_EQ(admission.pending_from_network(ip("203.0.113.200")), 1u);

    // Now 2 + 1 + 1: ending one of the two would not be fairer to any of these.
    for (const char* a : {"203.0.113.2", "192.0.2.9", "198.51.100.2"})
        EXPECT_EQ(handshakes.admit(admission, a), Refusal::pending) << a;
    // A fourth network still is owed a place.
    EXPECT_EQ(handshakes.admit(admission, "2001:db8:1:2::1"), std::nullopt);
    EXPECT_EQ(handshakes.evicted_groups.size(), 2u);
    EXPECT_EQ(admission.pending_from_network(ip("192.0.2.200")), 1u);
    // An IPv6 host rotating through its /48 is one network: its next addresses are refused.
    EXPECT_EQ(handshakes.admit(admission, "2001:db8:1:3::1"), Refusal::pending);
    EXPECT_EQ(handshakes.admit(admission, "2001:db8:1:ff00::7"), Refusal::pending);
    EXPECT_EQ(handshakes.evicted_groups.size(), 2u) << "no group holds two more than its own";

    // The places the evicted held were given back at once: the rest end as usual, leaving nothing.
    for (const auto& a : handshakes.in_progress) admission.upgrade_failed(a);
    EXPECT_EQ(admission.pending(), 0u);
    EXPECT_EQ(admission.handshake_networks(), 0u);
}

// Three handshake places, taken by `first` (three from one address, or from three of one /24),
// then a fourth from another network that made room by ending the oldest of them.
void fill_then_make_room(InboundAdmission& admission, Handshakes& handshakes,
                         std::initializer_list<const char*> first) {
    ASSERT_EQ(admission.limits().max_pending, 3u);
    for (const char* a : first) ASSERT_EQ(handshakes.admit(admission, a), std::nullopt) << a;
    ASSERT_EQ(handshakes.admit(admission, "198.51.100.1"), std::nullopt);
    ASSERT_EQ(handshakes.evicted_groups.size(), 1u);
}

TEST(InboundAdmission, EndingAHandshakeFreesItsAddressesPlacesToo) {
    InboundAdmission admission({.max_pending = 3,
                                .max_pending_per_ip = 3,
                                .max_connections_per_subnet = 3,
                                .exempt_loopback = false});
    Handshakes handshakes;
    fill_then_make_room(admission, handshakes, {"192.0.2.1", "192.0.2.1", "192.0.2.1"});
    EXPECT_EQ(admission.pending_from(ip("192.0.2.1")), 2u);
    EXPECT_EQ(admission.connections_from_subnet(ip("192.0.2.1")), 2u);
    EXPECT_EQ(handshakes.admit(admission, "192.0.2.1"), Refusal::pending)
        << "its own network is the crowded one";
    for (const auto& a : handshakes.in_progress) admission.upgrade_failed(a);
    EXPECT_EQ(admission.tracked_addresses() + admission.tracked_subnets(), 0u) << "all given back";
}

TEST(InboundAdmission, ANewcomerRefusedByAnotherLimitEndsNoHandshake) {
    InboundAdmission admission(
        {.max_pending = 3, .max_connections_per_ip = 1, .exempt_loopback = false});
    Handshakes handshakes;
    fill_then_make_room(admission, handshakes, {"192.0.2.1", "192.0.2.2", "192.0.2.3"});
    // Its second connection would be fairer still (2 against 1) but its address is at its cap.
    EXPECT_EQ(handshakes.admit(admission, "198.51.100.1"), Refusal::per_ip);
    EXPECT_EQ(handshakes.evicted_groups.size(), 1u);
    EXPECT_EQ(admission.pending_from_network(ip("192.0.2.1")), 2u);
}

}  // namespace
}  // namespace keel
