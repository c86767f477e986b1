// Issue 19's acceptance, measured on a real `keel bootstrap` process with its default budgets:
// one attacking address uses every connection its per-address limit lets it have (64), and on
// each runs the attacks of items 3 (answers never read), 4 (data on finished streams) and 5
// (ADD_PROVIDER flood) at once. A legitimate client on another address keeps asking FIND_NODE.
// Printed: the bootstrap's RSS before, at the peak and after the attacker leaves, the legitimate
// client's latencies, and the provider records the attacker was allowed to store. Asserted: the
// legitimate client is always answered, and the RSS comes back near where it started plus what
// those records (acknowledged, so kept for 48 h) are accounted for (the target, 25 %, is
// printed; 50 % is asserted).
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "keel/base/varint.hpp"
#include "keel/kad/dht.hpp"
#include "keel/load/process_stats.hpp"
#include "keel/net/framing.hpp"
#include "keel/protocols/identify.hpp"
#include "support/http_client.hpp"
#include "support/kad_wire.hpp"
#include "support/keel_process_test.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

// A host whose dials leave from `source` (another loopback address than the other party's).
std::unique_ptr<Host> host_from(asio::io_context& io, const char* source) {
    auto config = test_config();
    auto address = asio::ip::make_address(source);
    config.dial_source = [address](const tcp::endpoint&) { return address; };
    return std::make_unique<Host>(io.get_executor(), std::move(config));
}

class BootstrapUnderAttack : public KeelProcessTest {};

TEST_F(BootstrapUnderAttack, StaysWithinItsBudgetAndServesOthers) {
    // Defaults, except that loopback is not exempt: here 127.0.0.3 plays a host on the internet.
    std::ofstream(tmp_ / "keel.toml") << "[limits]\nexempt_loopback = false\n";
    Child& boot = spawn({"bootstrap", "--config", (tmp_ / "keel.toml").string(), "--listen",
                         "/ip4/127.0.0.1/tcp/0", "--data-dir", (tmp_ / "boot").string(), "--json",
                         "--log-level", "warn", "--api", "127.0.0.1:0"});
    ASSERT_TRUE(boot.started());
    auto line = boot.read_line(20s);
    ASSERT_TRUE(line);
    auto first = nlohmann::json::parse(*line);
    auto boot_id = PeerId::parse(first.at("peer_id").get<std::string>()).value();
    auto boot_addr = Multiaddr::parse(first.at("addrs").at(0).get<std::string>()).value();
    auto api = HttpUrl::parse(first.value("api", ""));
    ASSERT_TRUE(api) << *line;
    // A /metrics figure of the bootstrap's (0 if absent).
    auto metric = [&](std::string_view name) {
        auto reply = http_request(*api, "GET", "/metrics");
        auto at = reply.body.find("\n" + std::string(name) + " ");
        return at == std::string::npos ? 0.0 : std::stod(reply.body.substr(at + name.size() + 2));
    };
    pid_t pid = boot.pid();
    auto rss_mib = [pid] {
        auto s = load::sample_process(pid);
        return s ? static_cast<double>(s->rss_kb) / 1024 : 0.0;
    };
    // RSS's anonymous part (heap, stacks): what the process holds, unlike the pages of its code
    // and libraries (file-backed, shared, paged in as code first runs).
    auto anon_mib = [pid] {
        std::ifstream status("/proc/" + std::to_string(pid) + "/status");
        std::string line;
        while (std::getline(status, line))
            if (line.rfind("RssAnon:", 0) == 0) return std::stod(line.substr(8)) / 1024;
        return 0.0;
    };

    asio::io_context io;
    auto client_host = host_from(io, "127.0.0.2");
    kad::Dht client(*client_host, kad::DhtConfig{});
    client.start();
    std::vector<double> latencies;
    std::size_t unanswered = 0;
    auto ask = [&] {
        auto t0 = net::Clock::now();
        kad::KadMessage m;
        m.type = kad::MessageType::find_node;
        m.key = random_bytes(32, latencies.size() + unanswered);
        auto r = run_task(io, client.request(boot_id, std::move(m), {boot_addr}), 10s);
        if (r && *r)
            latencies.push_back(seconds_since(t0) * 1000);
        else
            ++unanswered;
    };
    for (int i = 0; i < 5; ++i) ask();
    latencies.clear();
    run_until(
        io, [] { return false; }, 500ms);
    const double before = rss_mib();
    const double anon_before = anon_mib();

    // -- the attacker: 64 connections from 127.0.0.3, one host (peer ID) each
    constexpr int connections = 64;
    std::vector<std::unique_ptr<Host>> attackers;
    std::vector<std::shared_ptr<Connection>> conns;
    auto t_connect = net::Clock::now();
    while (static_cast<int>(conns.size()) < connections && seconds_since(t_connect) < 30) {
        auto h = host_from(io, "127.0.0.3");
        auto c = run_task(io, h->connect(boot_addr), 10s);
        attackers.push_back(std::move(h));
        if (c && *c) conns.push_back(**c);
        // The per-address rate (10/s, 40 at once) paces the rest.
        else
            run_until(
                io, [] { return false; }, 100ms);
    }
    std::printf("[figure] attacker: %zu connections from one address in %.1f s\n", conns.size(),
                seconds_since(t_connect));
    ASSERT_GE(conns.size(), 32u);

    const Bytes hot_key(34, 0x42);
    auto writer = [&](std::shared_ptr<net::YamuxStream> s, Bytes data) {
        asio::co_spawn(
            io,
            [s, data = std::move(data)]() -> net::awaitable<void> { co_await s->write_all(data); },
            asio::detached);
    };
    auto open = [&](Host& h, const std::shared_ptr<Connection>& c,
                    std::string protocol) -> std::shared_ptr<net::YamuxStream> {
        std::vector<std::string> wanted{std::move(protocol)};
        auto s = run_task(io, h.new_stream(c, std::move(wanted)), 5s);
        return s && *s ? **s : nullptr;
    };
    double peak = before;
    auto sample = [&] { peak = std::max(peak, rss_mib()); };
    auto t_attack = net::Clock::now();
    for (std::size_t i = 0; i < conns.size(); ++i) {
        Host& h = *attackers[i];
        // Item 5 (and the material for item 3): this peer provides the hot key with 16
        // addresses, then floods ADD_PROVIDER for 2,000 random keys.
        kad::KadMessage add;
        add.type = kad::MessageType::add_provider;
        add.key = hot_key;
        kad::KadPeer me{h.peer_id(), {}, false};
        for (int a = 0; a < 16; ++a)
            me.addrs.push_back(*Multiaddr::parse("/ip4/10.9." + std::to_string(i) + "." +
                                                 std::to_string(a + 1) + "/tcp/4001"));
        add.provider_peers.push_back(me);
        Bytes flood = frame(add);
        for (int k = 0; k < 2000; ++k) {
            add.key = random_bytes(34, i * 10'000 + k);
            auto f = frame(add);
            flood.insert(flood.end(), f.begin(), f.end());
        }
        if (auto s = open(h, conns[i], kad_protocol())) writer(s, flood);
        // Item 3: GET_PROVIDERS for the hot key, 64 per stream, answers never read.
        Bytes asks;
        kad::KadMessage get;
        get.type = kad::MessageType::get_providers;
        get.key = hot_key;
        for (int k = 0; k < 64; ++k) {
            auto f = frame(get);
            asks.insert(asks.end(), f.begin(), f.end());
        }
        for (int s = 0; s < 4; ++s)
            if (auto st = open(h, conns[i], kad_protocol())) writer(st, asks);
        // Item 4: identify streams, then 200 KiB each once their handler is done.
        for (int s = 0; s < 4; ++s)
            if (auto st = open(h, conns[i], std::string(protocols::identify_protocol_id)))
                writer(st, Bytes(200 * 1024, 0xab));
        sample();
    }
    // The attack runs; the legitimate client keeps asking.
    while (seconds_since(t_attack) < 15) {
        ask();
        sample();
        run_until(
            io, [] { return false; }, 200ms);
    }
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
        return latencies.empty()
                   ? 0.0
                   : latencies[std::min(
                         latencies.size() - 1,
                         static_cast<std::size_t>(p * static_cast<double>(latencies.size())))];
    };
    std::printf(
        "[figure] during the attack: legitimate FIND_NODE %zu answered, %zu not; p50 %.1f "
        "ms, p99 %.1f ms, max %.1f ms\n",
        latencies.size(), unanswered, pct(0.5), pct(0.99),
        latencies.empty() ? 0.0 : latencies.back());
    EXPECT_EQ(unanswered, 0u);

    // -- the attacker leaves
    for (auto& c : conns) c->session->close();
    conns.clear();
    shut_down(io, [&] {
        std::vector<Host*> hosts;
        for (auto& h : attackers) hosts.push_back(h.get());
        return hosts;
    }());
    attackers.clear();
    auto t_left = net::Clock::now();
    const double records = metric("keel_provider_records");
    // What the provider store accounts those records for: ProviderStore::record_cost() each
    // (~200 bytes) and one address list per attacking provider, rounded up.
    const double kept_mib = (records * 200 + connections * 1024) / (1024 * 1024);
    double after = rss_mib();
    bool back = poll_until(
        [&] {
            after = rss_mib();
            return after <= before * 1.25;
        },
        30s, 500ms);
    std::printf(
        "[figure] bootstrap RSS: %.1f MiB before, %.1f MiB at the peak, %.1f MiB %.1f s "
        "after the attacker left (%s within 25 %%, while holding the %.0f provider records it "
        "was allowed to store, %.1f MiB); anonymous part %.1f MiB before, %.1f MiB after\n",
        before, peak, after, seconds_since(t_left), back ? "back" : "NOT back", records, kept_mib,
        anon_before, anon_mib());
    // The 25 % target is a figure (memory targets are printed, not asserted: malloc's behaviour
    // varies); the assertion is a looser guard against memory the attack leaves behind.
    EXPECT_LE(after, before * 1.5 + kept_mib);
    client.stop();
    shut_down(io, {client_host.get()});
}

}  // namespace
}  // namespace keel::test
