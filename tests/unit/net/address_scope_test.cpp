#include <gtest/gtest.h>

#include "keel/host/tcp_address.hpp"

namespace keel {
namespace {

Multiaddr ma(const std::string& text) {
    auto a = Multiaddr::parse(text);
    EXPECT_TRUE(a) << text;
    return a ? *a : Multiaddr{};
}

std::vector<std::string> texts(const std::vector<Multiaddr>& addrs) {
    std::vector<std::string> out;
    for (const auto& a : addrs) out.push_back(a.to_string());
    return out;
}

TEST(AddressScope, JudgesTheFirstComponent) {
    EXPECT_EQ(address_scope(ma("/ip4/127.0.0.1/tcp/1")), AddressScope::loopback);
    EXPECT_EQ(address_scope(ma("/ip6/::1/tcp/1")), AddressScope::loopback);
    EXPECT_EQ(address_scope(ma("/ip4/192.168.1.2/tcp/1")), AddressScope::private_network);
    EXPECT_EQ(address_scope(ma("/ip4/10.0.0.1/udp/1")), AddressScope::private_network);
    EXPECT_EQ(address_scope(ma("/ip4/100.64.0.1/tcp/1")), AddressScope::private_network);
    EXPECT_EQ(address_scope(ma("/ip6/fd00::1/tcp/1")), AddressScope::private_network);
    EXPECT_EQ(address_scope(ma("/ip4/198.51.100.1/tcp/1")), AddressScope::internet);
    EXPECT_EQ(address_scope(ma("/dns4/boot.example.org/tcp/1")), AddressScope::internet);
    EXPECT_EQ(address_scope(ma("/ip4/0.0.0.0/tcp/1")), AddressScope::unusable);
    // A circuit reaches as far as its relay.
    const std::string relay = "/p2p/12D3KooWNv8XPavYZgV3PkBfF88RcX5VpoaVF9HL4keyKKA1Js23";
    EXPECT_EQ(address_scope(ma("/ip4/198.51.100.1/tcp/4001" + relay + "/p2p-circuit")),
              AddressScope::internet);
    EXPECT_EQ(address_scope(ma("/ip4/127.0.0.1/tcp/4001" + relay + "/p2p-circuit")),
              AddressScope::loopback);
}

// A NATed peer names its loopback and LAN addresses: from across the internet they would reach
// someone else (or ourselves), so only what reaches the internet is kept, as go-libp2p does.
TEST(AddressScope, KeepsWhatReachesUsFromWhereThePeerIsSeen) {
    const std::string relay =
        "/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWNv8XPavYZgV3PkBfF88RcX5VpoaVF9HL4keyKKA1Js23";
    const std::vector<Multiaddr> told{ma("/ip4/127.0.0.1/tcp/4001"),
                                      ma("/ip4/192.168.1.2/tcp/4001"), ma("/ip4/0.0.0.0/tcp/4001"),
                                      ma("/ip4/203.0.113.7/tcp/4001"), ma(relay + "/p2p-circuit")};
    using V = std::vector<std::string>;
    EXPECT_EQ(texts(addresses_worth_keeping(told, ma("/ip4/127.0.0.1/tcp/5555"))),
              (V{"/ip4/127.0.0.1/tcp/4001", "/ip4/192.168.1.2/tcp/4001",
                 "/ip4/203.0.113.7/tcp/4001", relay + "/p2p-circuit"}));
    EXPECT_EQ(
        texts(addresses_worth_keeping(told, ma("/ip4/192.168.1.9/tcp/5555"))),
        (V{"/ip4/192.168.1.2/tcp/4001", "/ip4/203.0.113.7/tcp/4001", relay + "/p2p-circuit"}));
    EXPECT_EQ(texts(addresses_worth_keeping(told, ma("/ip4/203.0.113.9/tcp/5555"))),
              (V{"/ip4/203.0.113.7/tcp/4001", relay + "/p2p-circuit"}));
    // Seen over a circuit through a public relay: as from the internet.
    EXPECT_EQ(texts(addresses_worth_keeping(
                  told, ma(relay + "/p2p-circuit/p2p/"
                                   "12D3KooWF31CPX5SMJNovUVUY1TMQfXsZpZpoQSuZA2EvW2UasgG"))),
              (V{"/ip4/203.0.113.7/tcp/4001", relay + "/p2p-circuit"}));
}

}  // namespace
}  // namespace keel
