// A public bootstrap's FIND_NODE answers (DhtConfig::share_private_addrs = false) give only public
// and /p2p-circuit addresses of other peers; a peer with nothing else is left out. With sharing
// (a LAN, tests on loopback) every address goes out.
#include <gtest/gtest.h>

#include "keel/host/circuit_address.hpp"
#include "keel/kad/dht.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

TEST(DhtAddressHygiene, PrivateAndLoopbackAddressesStayHomeUnlessShared) {
    asio::io_context io;
    Host host(io.get_executor(), test_config());
    kad::DhtConfig config;
    config.server_mode = true;
    kad::Dht dht(host, config);
    auto relay = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    auto natted = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    auto lan_only = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    auto circuit =
        circuit_to(*Multiaddr::parse("/ip4/203.0.113.5/tcp/4001/p2p/" + relay.to_base58()), natted);
    for (const auto* text : {"/ip4/192.168.1.20/tcp/4001", "/ip4/127.0.0.1/tcp/4001"})
        host.peer_store().add_address(natted, *Multiaddr::parse(text));
    host.peer_store().add_address(natted, circuit);
    host.peer_store().add_address(lan_only, *Multiaddr::parse("/ip4/10.1.2.3/tcp/4001"));
    auto public_peer = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    host.peer_store().add_address(public_peer, *Multiaddr::parse("/ip4/198.51.100.9/tcp/4001"));
    host.peer_store().add_address(public_peer, *Multiaddr::parse("/ip6/fd00::9/tcp/4001"));
    for (const auto& p : {natted, lan_only, public_peer}) dht.routing_table().add(p, std::nullopt);

    auto addrs_of = [&](const PeerId& peer) -> std::optional<std::vector<std::string>> {
        for (const auto& answer : dht.answer_find_node(host.peer_id().bytes()))
            if (answer.id == peer) {
                std::vector<std::string> out;
                for (const auto& a : answer.addrs) out.push_back(a.to_string());
                return out;
            }
        return std::nullopt;
    };
    EXPECT_EQ(addrs_of(natted)->size(), 3u);
    EXPECT_TRUE(addrs_of(lan_only));

    dht.set_share_private_addrs(false);
    // Kept and shared as the relay's address + /p2p-circuit (as go, rust and js announce it).
    EXPECT_EQ(addrs_of(natted), std::vector<std::string>{"/ip4/203.0.113.5/tcp/4001/p2p/" +
                                                         relay.to_base58() + "/p2p-circuit"});
    EXPECT_FALSE(addrs_of(lan_only));
    EXPECT_EQ(addrs_of(public_peer), std::vector<std::string>{"/ip4/198.51.100.9/tcp/4001"});
}

}  // namespace
}  // namespace keel::test
