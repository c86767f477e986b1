// Matrix item 1: connect, ping and identify with go and rust peers, each side dialling; the muxer
// inlined in Noise when both offer it (go does, rust never does) and negotiated otherwise; go's
// identify split over two messages; identify push read (a peer that becomes a DHT server later
// enters Keel's routing table).
#include <algorithm>

#include "interop_fixture.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/protocols/ping.hpp"

namespace keel::test::interop {
namespace {

bool contains(const json& list, const std::string& item) {
    if (!list.is_array()) return false;
    return std::any_of(list.begin(), list.end(), [&](const json& x) { return x == item; });
}
bool contains(const std::vector<std::string>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

HostConfig keel_config(bool inline_muxer = true) {
    HostConfig config(Ed25519KeyPair::generate());
    config.inline_muxer = inline_muxer;
    config.yamux.close_linger = 200ms;
    return config;
}

// "/ip4/127.0.0.1/tcp/P/p2p/ID" → "/ip4/127.0.0.1/tcp/P".
std::string without_p2p(const std::string& addr) {
    auto at = addr.find("/p2p/");
    return at == std::string::npos ? addr : addr.substr(0, at);
}

class Connect : public InteropTest {
  protected:
    // Keel's view of `peer` once identify finished on the connection to it.
    std::optional<PeerInfo> identified_by_keel(InProcessKeel& keel, const std::string& peer) {
        auto id = PeerId::parse(peer);
        if (!id) return std::nullopt;
        std::optional<PeerInfo> info;
        bool ok = poll_until(
            [&] {
                info = keel.run([&] {
                    for (const auto& c : keel.host().connections_to(*id))
                        if (c->identified) return keel.host().peer_store().get(*id);
                    return std::optional<PeerInfo>();
                });
                return info.has_value();
            },
            20s);
        EXPECT_TRUE(ok) << "Keel never finished identify of " << peer;
        return info;
    }

    std::shared_ptr<Connection> keel_connection_to(InProcessKeel& keel, const std::string& peer) {
        auto id = PeerId::parse(peer);
        if (!id) return nullptr;
        return keel.run([&] {
            auto all = keel.host().connections_to(*id);
            return all.empty() ? nullptr : all.front();
        });
    }

    // Three pings from Keel on a new stream of `conn`.
    static net::awaitable<net::result<int>> ping_three(Host& host,
                                                       std::shared_ptr<Connection> conn) {
        std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
        auto stream = co_await host.new_stream(conn, wanted);
        if (!stream) co_return make_error_code(net::net_errc::protocol_not_supported);
        for (int i = 0; i < 3; ++i) {
            auto rtt = co_await protocols::ping_once(**stream);
            if (!rtt) co_return rtt.error();
        }
        co_return 3;
    }
    void keel_pings(InProcessKeel& keel, std::shared_ptr<Connection> conn) {
        auto rtts = keel.await([&keel, conn] { return ping_three(keel.host(), conn); }, 20s);
        ASSERT_TRUE(rtts.has_value()) << "Keel's pings did not finish";
        ASSERT_TRUE(rtts->has_value()) << rtts->error().message();
    }

    // What the peer printed about Keel in its identify result.
    void expect_peer_identified_keel(const json& id, InProcessKeel& keel) {
        EXPECT_TRUE(id.value("agent_version", "").starts_with("keel/")) << id.dump();
        EXPECT_EQ(id.value("protocol_version", ""), "ipfs/0.1.0");
        for (auto p :
             {"/ipfs/ping/1.0.0", "/ipfs/id/1.0.0", "/ipfs/id/push/1.0.0", "/keel/echo/1.0.0"})
            EXPECT_TRUE(contains(id["protocols"], p)) << p << " missing in " << id.dump();
        EXPECT_TRUE(contains(id["listen_addrs"], without_p2p(keel.addr_text())))
            << "Keel's listen address missing in " << id.dump();
    }

    void expect_keel_identified_peer(const std::optional<PeerInfo>& info, const KeelProcess& p) {
        ASSERT_TRUE(info.has_value());
        EXPECT_EQ(info->agent_version, "interop-peer/1.0");
        EXPECT_EQ(info->protocol_version, "ipfs/0.1.0");
        EXPECT_TRUE(contains(info->protocols, "/ipfs/ping/1.0.0"));
        EXPECT_TRUE(contains(info->protocols, "/keel/echo/1.0.0"));
        EXPECT_TRUE(contains(info->protocols, "/ipfs/kad/1.0.0"));
        auto listen = without_p2p(p.addr);
        EXPECT_TRUE(std::any_of(info->addrs.begin(), info->addrs.end(),
                                [&](const Multiaddr& a) { return a.to_string() == listen; }))
            << "the peer's listen address " << listen << " is not in Keel's peer store";
        EXPECT_TRUE(info->public_key.has_value());
    }

    // The peer dials Keel: pings, identify both ways, and how the muxer was chosen.
    void peer_dials_keel(bool keel_inline, bool peer_inline) {
        InProcessKeel keel(keel_config(keel_inline));
        ASSERT_TRUE(keel.addr());
        std::vector<std::string> args{"--agent", "interop-peer/1.0",
                                      "--do",    "dial " + keel.addr_text(),
                                      "--do",    "ping " + keel.peer_id() + " 3",
                                      "--do",    "identify " + keel.peer_id()};
        if (!peer_inline) args.push_back("--no-inline-muxer");
        auto* p = start_peer("peer", kind(), args);
        ASSERT_TRUE(p);
        auto ping = expect_action(*p, "ping");
        ASSERT_TRUE(ping);
        EXPECT_EQ((*ping)["rtts_ms"].size(), 3u);
        auto id = expect_action(*p, "identify");
        ASSERT_TRUE(id);
        expect_peer_identified_keel(*id, keel);
        expect_keel_identified_peer(identified_by_keel(keel, p->peer_id), *p);
        auto conn = keel_connection_to(keel, p->peer_id);
        ASSERT_TRUE(conn);
        EXPECT_EQ(conn->direction, Direction::inbound);
        EXPECT_EQ(conn->muxer, "/yamux/1.0.0");
        EXPECT_EQ(conn->muxer_inlined, keel_inline && peer_inline && kind() == "go");
        keel_pings(keel, conn);
    }

    // Keel dials the peer.
    void keel_dials_peer(bool keel_inline, bool peer_inline) {
        InProcessKeel keel(keel_config(keel_inline));
        std::vector<std::string> args{"--agent", "interop-peer/1.0"};
        if (!peer_inline) args.push_back("--no-inline-muxer");
        auto* p = start_peer("peer", kind(), args);
        ASSERT_TRUE(p);
        auto addr = Multiaddr::parse(p->addr);
        ASSERT_TRUE(addr);
        auto conn = keel.await([&keel, a = *addr] { return keel.host().dial(a); }, 20s);
        ASSERT_TRUE(conn.has_value()) << "dial did not finish";
        ASSERT_TRUE(conn->has_value()) << conn->error().message();
        auto c = **conn;
        EXPECT_EQ(c->direction, Direction::outbound);
        EXPECT_EQ(c->muxer_inlined, keel_inline && peer_inline && kind() == "go");
        expect_keel_identified_peer(identified_by_keel(keel, p->peer_id), *p);
        keel_pings(keel, c);
        auto e = p->wait_event(
            [&](const json& j) {
                return j.value("event", "") == "identify" && j.value("peer", "") == keel.peer_id();
            },
            20s);
        ASSERT_TRUE(e) << "the peer printed no identify of Keel:\n" << p->stdout_tail();
        EXPECT_TRUE(e->body.value("agent_version", "").starts_with("keel/")) << e->line;
    }
};

TEST_P(Connect, PeerDialsKeelPingIdentify) {
    peer_dials_keel(true, true);
}
TEST_P(Connect, KeelDialsPeerPingIdentify) {
    keel_dials_peer(true, true);
}
// Keel offers no muxer in Noise: the peer must negotiate Yamux by multistream-select.
TEST_P(Connect, PeerDialsKeelWithoutInlinedMuxer) {
    peer_dials_keel(false, true);
}
TEST_P(Connect, KeelDialsPeerWithoutInlinedMuxer) {
    keel_dials_peer(false, true);
}

// A peer that starts as a DHT client and becomes a server announces it by identify push: Keel
// reads the push and the peer enters its routing table (go nodes behind NAT do exactly this
// once AutoNAT says they are reachable).
TEST_P(Connect, IdentifyPushOfAClientTurnedServerIsRead) {
    kad::DhtConfig dht;
    dht.server_mode = true;
    InProcessKeel keel(keel_config(), dht);
    auto* p = start_peer("peer", kind(),
                         {"--kad-mode", "client-then-server:1s", "--do", "dial " + keel.addr_text(),
                          "--do", "identify " + keel.peer_id(), "--do", "sleep 2s"});
    ASSERT_TRUE(p);
    ASSERT_TRUE(expect_action(*p, "identify"));
    auto peer = PeerId::parse(p->peer_id);
    ASSERT_TRUE(peer);
    bool in_table = poll_until(
        [&] { return keel.run([&] { return keel.dht().routing_table().contains(*peer); }); }, 20s);
    EXPECT_TRUE(in_table) << "a peer that switched to DHT server mode never entered the table";
    auto info = keel.run([&] { return keel.host().peer_store().get(*peer); });
    ASSERT_TRUE(info);
    EXPECT_TRUE(contains(info->protocols, "/ipfs/kad/1.0.0"));
}

INSTANTIATE_TEST_SUITE_P(Peers, Connect, ::testing::ValuesIn(foreign_peers()), param_name);

// go only: go offers the muxer in Noise unless told not to (rust never does); and go sends an
// identify record over 2 KiB as two messages, which Keel merges.
class ConnectGo : public Connect {};

TEST_P(ConnectGo, PeerWithoutInlinedMuxerDialsKeel) {
    peer_dials_keel(true, false);
}
TEST_P(ConnectGo, KeelDialsPeerWithoutInlinedMuxer) {
    keel_dials_peer(true, false);
}

TEST_P(ConnectGo, IdentifySplitOverTwoMessagesIsMerged) {
    InProcessKeel keel(keel_config());
    // 60 listen addresses make go's signed record push the message past 2 KiB.
    std::vector<std::string> args{"--agent", "interop-peer/1.0"};
    for (int i = 0; i < 59; ++i) args.insert(args.end(), {"--listen", "/ip4/127.0.0.1/tcp/0"});
    args.insert(args.end(),
                {"--do", "dial " + keel.addr_text(), "--do", "identify " + keel.peer_id()});
    auto* p = start_peer("peer", "go", args);
    ASSERT_TRUE(p);
    ASSERT_TRUE(expect_action(*p, "identify"));
    auto info = identified_by_keel(keel, p->peer_id);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->agent_version, "interop-peer/1.0");
    EXPECT_GE(info->addrs.size(), 32u) << "Keel kept " << info->addrs.size() << " addresses";
    auto conn = keel_connection_to(keel, p->peer_id);
    ASSERT_TRUE(conn);
    EXPECT_TRUE(conn->identified);
    EXPECT_FALSE(conn->identify_error) << conn->identify_error.message();
}

INSTANTIATE_TEST_SUITE_P(Peers, ConnectGo, ::testing::Values(std::string("go")), param_name);

}  // namespace
}  // namespace keel::test::interop
