// Matrix: Circuit Relay v2 with go and rust peers, both directions.
//
// (a) Keel is the relay: a `keel bootstrap` (relay on by default); a go/rust peer with no listener
//     reserves on it (`reserve`), a second peer of the same implementation dials
//     <keel>/p2p-circuit/p2p/<first> and echoes data to it through Keel's circuit; Keel's
//     /api/v1/node relay figures count the reservation, the circuit and its bytes.
// (b) Keel is the relay client: a go/rust peer serves the relay (`--relay-server`); a `keel node
//     --echo` with `[relay] client = "on"` and that peer as its bootstrap reserves on it
//     (`reachability.relays` in /api/v1/node); a go/rust peer with no listener echoes data to
//     Keel through <relay>/p2p-circuit/p2p/<keel>, and Keel lists it as a limited peer.
#include <algorithm>

#include "interop_fixture.hpp"

namespace keel::test::interop {
namespace {

// Under the 128 KiB per-circuit default of Keel's relay (both directions counted or not).
constexpr std::size_t echo_bytes = 32 * 1024;

class Relay : public InteropTest {
  protected:
    // GET /api/v1/node polled until `done(answer)` holds; the last answer in `last`.
    bool poll_node(const KeelProcess& p, const std::function<bool(const json&)>& done,
                   Clock::duration timeout, json& last) {
        return poll_until(
            [&] {
                auto j = api_json(p, "GET", "/api/v1/node");
                if (!j) return false;
                last = *j;
                return done(*j);
            },
            timeout, 100ms);
    }
};

TEST_P(Relay, PeerReservesOnKeelAndAnotherReachesItThroughKeel) {
    auto* keel = start_bootstrap("keel-relay");
    ASSERT_TRUE(keel);
    ASSERT_TRUE(keel->api) << "keel bootstrap printed no api URL";

    // A: no listener of its own; reachable only through the reservation.
    auto* a = start_peer("a", kind(), {"--do", "reserve " + keel->addr, "--linger", "120s"}, false);
    ASSERT_TRUE(a);
    auto reserved = expect_action(*a, "reserve", 40s);
    ASSERT_TRUE(reserved);
    const auto& circuits = (*reserved)["circuit_addrs"];
    ASSERT_TRUE(circuits.is_array() && !circuits.empty()) << *reserved;
    std::string a_id;
    {
        auto first = circuits[0].get<std::string>();
        auto at = first.rfind("/p2p-circuit/p2p/");
        ASSERT_NE(at, std::string::npos) << first;
        a_id = first.substr(at + std::string("/p2p-circuit/p2p/").size());
    }
    const std::string target = keel->addr + "/p2p-circuit/p2p/" + a_id;
    EXPECT_TRUE(
        std::any_of(circuits.begin(), circuits.end(), [&](const json& c) { return c == target; }))
        << "expected " << target << " among " << circuits;
    if (kind() == "go") {
        // go checks the voucher (signed by Keel's key, for the reserving peer) before accepting.
        EXPECT_EQ(reserved->value("voucher", false), true) << *reserved;
    }

    json last;
    ASSERT_TRUE(poll_node(
        *keel,
        [](const json& j) {
            return j["relay"].is_object() && j["relay"].value("reservations", 0) >= 1;
        },
        20s, last))
        << "Keel's relay shows no reservation: " << last.dump();

    // B: dials A through Keel and echoes.
    auto* b = start_peer("b", kind(),
                         {"--do", "echo-via " + target + " " + std::to_string(echo_bytes)}, false);
    ASSERT_TRUE(b);
    auto echoed = expect_action(*b, "echo-via", 40s);
    ASSERT_TRUE(echoed);
    EXPECT_EQ(echoed->value("bytes", std::size_t{0}), echo_bytes);
    // go marks the connection limited when the relay's answer carries limits (Keel sends them).
    if (kind() == "go") {
        EXPECT_EQ(echoed->value("limited", false), true) << *echoed;
    }

    ASSERT_TRUE(poll_node(
        *keel,
        [](const json& j) {
            const auto& r = j["relay"];
            return r.is_object() && r.value("reservations", 0) >= 1 &&
                   r.value("circuits_opened", 0) >= 1 &&
                   r.value("bytes_relayed", std::size_t{0}) >= 2 * echo_bytes;
        },
        20s, last))
        << "Keel's relay figures: " << last.dump();
    figure("interop.relay", kind() + "_via_keel_echo_ms", num(echoed->value("ms", 0.0), 1), "",
           std::to_string(echo_bytes) + " B; keel relay bytes_relayed=" +
               std::to_string(last["relay"].value("bytes_relayed", std::size_t{0})));
}

TEST_P(Relay, KeelReservesOnPeerRelayAndIsReachedThroughIt) {
    auto* relay = start_peer("relay", kind(), {"--relay-server"});
    ASSERT_TRUE(relay);
    const std::string relay_addr = relay->addr;

    auto config = write_file("keel.toml", "[relay]\nclient = \"on\"\n");
    auto* keel = start_node("keel", {relay_addr}, config, {"--echo"});
    ASSERT_TRUE(keel);

    json last;
    ASSERT_TRUE(poll_node(
        *keel,
        [](const json& j) {
            const auto& r = j["reachability"];
            return r.is_object() && r["relays"].is_array() && !r["relays"].empty();
        },
        60s, last))
        << "Keel holds no reservation on the " << kind() << " relay: " << last.dump();
    const auto reservation = last["reachability"]["relays"][0];
    const std::string target = relay_addr + "/p2p-circuit/p2p/" + keel->peer_id;
    ASSERT_TRUE(reservation["addrs"].is_array()) << reservation;
    // Keel lists its circuit listen addresses as <relay>/p2p-circuit (without its own /p2p).
    const std::string listen_addr = relay_addr + "/p2p-circuit";
    EXPECT_TRUE(std::any_of(reservation["addrs"].begin(), reservation["addrs"].end(),
                            [&](const json& a) { return a == listen_addr || a == target; }))
        << "expected " << listen_addr << " among Keel's circuit addresses: " << reservation;
    // Both relays were started with 10 min and 64 MiB per circuit.
    EXPECT_EQ(reservation.value("limit_bytes", std::uint64_t{0}), std::uint64_t{64} << 20)
        << reservation;
    EXPECT_EQ(reservation.value("limit_duration_s", std::uint64_t{0}), 600u) << reservation;

    // A peer with no listener reaches Keel through the relay, and stays connected a while so
    // Keel's peer list can be read.
    auto* client = start_peer(
        "client", kind(),
        {"--do", "echo-via " + target + " " + std::to_string(echo_bytes), "--linger", "60s"},
        false);
    ASSERT_TRUE(client);
    auto echoed = expect_action(*client, "echo-via", 40s);
    ASSERT_TRUE(echoed);
    EXPECT_EQ(echoed->value("bytes", std::size_t{0}), echo_bytes);
    EXPECT_EQ(echoed->value("peer", ""), keel->peer_id) << *echoed;
    if (kind() == "go") {
        EXPECT_EQ(echoed->value("limited", false), true) << *echoed;
    }
    figure("interop.relay", "keel_via_" + kind() + "_echo_ms", num(echoed->value("ms", 0.0), 1));

    // Keel lists the client as connected over a limited (relayed) connection only.
    auto connected = client->wait_event(event_is("connected", {{"peer", keel->peer_id}}), 5s);
    ASSERT_TRUE(connected) << client->stdout_tail();
    std::string why;
    json peers;
    bool limited = poll_until(
        [&] {
            auto j = api_json(*keel, "GET", "/api/v1/peers", nullptr, 30s, &why);
            if (!j) return false;
            peers = *j;
            for (const auto& p : (*j)["peers"])
                if (p.value("connected", false) && p.value("limited", false) &&
                    p.value("peer_id", "") != relay->peer_id)
                    return true;
            return false;
        },
        20s, 100ms);
    EXPECT_TRUE(limited) << "no limited peer in Keel's list: " << why << " " << peers.dump();
}

INSTANTIATE_TEST_SUITE_P(Peers, Relay, ::testing::ValuesIn(foreign_peers()), param_name);

}  // namespace
}  // namespace keel::test::interop
