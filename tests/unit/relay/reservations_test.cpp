// The relay's limits as numbers (relay/reservations.hpp): no network, the time passed in.
#include <gtest/gtest.h>

#include <cstdio>

#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/signed_envelope.hpp"
#include "keel/relay/relay_messages.hpp"
#include "keel/relay/reservations.hpp"

namespace keel::relay {
namespace {

using namespace std::chrono_literals;
namespace ip = boost::asio::ip;

PeerId new_peer() {
    return PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
}

struct Clock {
    net::Clock::time_point now = net::Clock::time_point{} + 1h;
    std::chrono::system_clock::time_point wall = std::chrono::system_clock::now();
    void advance(net::Duration d) {
        now += d;
        wall += d;
    }
};

// 200 new peers reserve from address_of(1) … address_of(200), with only the per-address count
// limiting them: those granted, each refusal checked for its reason.
template <class AddressOf>
int granted_of_two_hundred(Reservations& table, const Clock& clock, AddressOf address_of) {
    int granted = 0;
    for (int i = 1; i <= 200; ++i) {
        auto r = table.reserve(new_peer(), address_of(i), clock.now, clock.wall);
        if (std::holds_alternative<Refusal>(r))
            EXPECT_EQ(std::get<Refusal>(r), Refusal::reservations_per_ip);
        else
            ++granted;
    }
    return granted;
}

TEST(Reservations, TwoHundredFromOneAddressGetTheirPerAddressShare) {
    RelayConfig config;
    config.exempt_loopback = false;
    config.reservation_rate_per_ip = 0;  // this test is about the count
    Reservations table(config);
    Clock clock;
    const auto ip = ip::make_address("203.0.113.7");
    EXPECT_EQ(granted_of_two_hundred(table, clock, [&](int) { return ip; }), 8);
    // Another address is not affected.
    EXPECT_FALSE(std::holds_alternative<Refusal>(
        table.reserve(new_peer(), ip::make_address("198.51.100.1"), clock.now, clock.wall)));

    // An IPv6 subscriber rotating through the /64s of its /56 is one address; the next /56 is
    // another.
    auto nth_slash64 = [](int i) {
        char text[40];
        std::snprintf(text, sizeof text, "2001:db8:1:2%02x::1", static_cast<unsigned>(i % 256));
        return ip::make_address(text);
    };
    EXPECT_EQ(granted_of_two_hundred(table, clock, nth_slash64), 8);
    EXPECT_FALSE(std::holds_alternative<Refusal>(
        table.reserve(new_peer(), ip::make_address("2001:db8:1:300::1"), clock.now, clock.wall)));
}

TEST(Reservations, FloodFromOneAddressIsRateLimitedAndLoopbackCanBeExempt) {
    RelayConfig config;
    config.exempt_loopback = false;
    config.max_reservations_per_ip = 1000;
    Reservations table(config);
    Clock clock;
    const auto ip = ip::make_address("203.0.113.7");
    int rate_refused = 0;
    for (int i = 0; i < 100; ++i) {
        auto r = table.reserve(new_peer(), ip, clock.now, clock.wall);
        if (std::holds_alternative<Refusal>(r)) {
            EXPECT_EQ(std::get<Refusal>(r), Refusal::reservation_rate_per_ip);
            ++rate_refused;
        }
    }
    EXPECT_EQ(rate_refused, 100 - 16);  // the burst, then 1/s
    clock.advance(2s);
    EXPECT_FALSE(
        std::holds_alternative<Refusal>(table.reserve(new_peer(), ip, clock.now, clock.wall)));

    config.exempt_loopback = true;
    Reservations local(config);
    // IPv6's loopback too, though its /56 (what the per-address limits count) is not loopback.
    // 50 each: past the burst of 16, within the 128 reservations in all.
    for (const char* loopback : {"127.0.0.1", "::1"})
        for (int i = 0; i < 50; ++i)
            EXPECT_FALSE(std::holds_alternative<Refusal>(
                local.reserve(new_peer(), ip::make_address(loopback), clock.now, clock.wall)))
                << loopback << " reservation " << i;
}

TEST(Reservations, ExpireTotalCapAndRefresh) {
    RelayConfig config;
    config.max_reservations = 2;
    config.reservation_ttl = 10s;
    Reservations table(config);
    Clock clock;
    auto a = new_peer(), b = new_peer(), c = new_peer();
    const auto ip = ip::make_address("127.0.0.1");
    EXPECT_FALSE(std::holds_alternative<Refusal>(table.reserve(a, ip, clock.now, clock.wall)));
    EXPECT_FALSE(std::holds_alternative<Refusal>(table.reserve(b, ip, clock.now, clock.wall)));
    auto full = table.reserve(c, ip, clock.now, clock.wall);
    ASSERT_TRUE(std::holds_alternative<Refusal>(full));
    EXPECT_EQ(std::get<Refusal>(full), Refusal::reservations_full);
    // A refresh is not a new slot, and moves the expiry.
    clock.advance(6s);
    auto refreshed = table.reserve(a, ip, clock.now, clock.wall);
    ASSERT_FALSE(std::holds_alternative<Refusal>(refreshed));
    clock.advance(6s);  // b expired, a not
    EXPECT_FALSE(table.find(b, clock.wall));
    EXPECT_TRUE(table.find(a, clock.wall));
    EXPECT_FALSE(std::holds_alternative<Refusal>(table.reserve(c, ip, clock.now, clock.wall)));
}

TEST(Reservations, CircuitsTotalAndPerPeer) {
    RelayConfig config;
    config.max_circuits = 3;
    config.max_circuits_per_peer = 2;
    Reservations table(config);
    auto a = new_peer(), b = new_peer(), c = new_peer(), d = new_peer();
    EXPECT_FALSE(table.open_circuit(a, b));
    EXPECT_FALSE(table.open_circuit(a, c));
    EXPECT_EQ(table.open_circuit(a, d), Refusal::circuits_per_peer);
    EXPECT_FALSE(table.open_circuit(c, d));
    EXPECT_EQ(table.open_circuit(b, d), Refusal::circuits_full);
    table.close_circuit(a, b);
    EXPECT_FALSE(table.open_circuit(b, d));
    EXPECT_EQ(table.circuits(), 3u);
}

// The voucher is a signed envelope that opens for the relay domain only, naming relay and peer.
TEST(RelayVoucher, OpensForItsDomainOnly) {
    auto key = Ed25519KeyPair::generate();
    auto relay = PeerId::from_public_key(key.public_key());
    auto peer = new_peer();
    auto voucher = reservation_voucher(key, relay, peer, std::chrono::system_clock::now());
    auto opened = open_envelope(voucher, voucher_domain);
    ASSERT_TRUE(opened);
    EXPECT_EQ(opened->key, key.public_key());
    EXPECT_EQ(opened->payload_type,
              Bytes(voucher_payload_type.begin(), voucher_payload_type.end()));
    EXPECT_FALSE(open_envelope(voucher, "libp2p-peer-record"));
    voucher[voucher.size() - 1] ^= 1;
    EXPECT_FALSE(open_envelope(voucher, voucher_domain));
}

}  // namespace
}  // namespace keel::relay
