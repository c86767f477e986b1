#include "keel/host/dnsaddr.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cctype>
#include <map>

#include "keel/crypto/ed25519.hpp"
#include "keel/host/failure.hpp"
#include "keel/host/host.hpp"
#include "keel/host/tcp_address.hpp"
#include "support/net_test_util.hpp"

namespace keel {
namespace {

using net::test::run;
using namespace std::chrono_literals;

PeerId random_peer() {
    return PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
}

Multiaddr ma(const std::string& text) {
    return Multiaddr::parse(text).value();
}

std::vector<std::string> strings(const std::vector<Multiaddr>& addrs) {
    std::vector<std::string> out;
    for (const auto& a : addrs) out.push_back(a.to_string());
    return out;
}

TEST(DnsaddrParse, KeepsEveryRecordWhenNoPeerIsGiven) {
    auto a = random_peer().to_base58();
    auto b = random_peer().to_base58();
    std::vector<std::string> txt{
        "dnsaddr=/ip4/192.0.2.1/tcp/4001/p2p/" + a,
        "dnsaddr=/ip6/2001:db8::1/tcp/4001/p2p/" + a,
        "dnsaddr=/ip4/192.0.2.2/udp/4001/quic-v1/p2p/" + b,
        "dnsaddr=/dns4/node.example.com/tcp/443",
    };
    auto r = parse_dnsaddr_txt(txt, std::nullopt);
    EXPECT_EQ(r.malformed, 0u);
    EXPECT_EQ(r.other_peer, 0u);
    EXPECT_EQ(strings(r.addrs),
              (std::vector<std::string>{
                  "/ip4/192.0.2.1/tcp/4001/p2p/" + a, "/ip6/2001:db8::1/tcp/4001/p2p/" + a,
                  "/ip4/192.0.2.2/udp/4001/quic-v1/p2p/" + b, "/dns4/node.example.com/tcp/443"}));
}

TEST(DnsaddrParse, FiltersByTheDialedPeerId) {
    auto want = random_peer();
    auto other = random_peer().to_base58();
    const auto w = want.to_base58();
    std::vector<std::string> txt{
        "dnsaddr=/ip4/192.0.2.1/tcp/4001/p2p/" + other,
        "dnsaddr=/ip4/192.0.2.2/tcp/4001/p2p/" + w,
        "dnsaddr=/ip4/192.0.2.3/tcp/4001",  // no /p2p: cannot be the peer dialed
        // A relay address: the last /p2p names the target, the first the relay.
        "dnsaddr=/ip4/192.0.2.4/tcp/4001/p2p/" + other + "/p2p-circuit/p2p/" + w,
        "dnsaddr=/ip4/192.0.2.5/tcp/4001/p2p/" + w + "/p2p-circuit/p2p/" + other,
    };
    auto r = parse_dnsaddr_txt(txt, want);
    EXPECT_EQ(r.other_peer, 3u);
    EXPECT_EQ(r.malformed, 0u);
    EXPECT_EQ(strings(r.addrs), (std::vector<std::string>{"/ip4/192.0.2.2/tcp/4001/p2p/" + w,
                                                          "/ip4/192.0.2.4/tcp/4001/p2p/" + other +
                                                              "/p2p-circuit/p2p/" + w}));
}

TEST(DnsaddrParse, DropsMalformedEntries) {
    auto w = random_peer().to_base58();
    std::vector<std::string> txt{
        "v=spf1 -all",                               // another use of TXT
        "dnsaddr=",                                  // empty
        "dnsaddr=ip4/192.0.2.1/tcp/4001",            // not a multiaddr (no leading /)
        "dnsaddr=/ip4/192.0.2.300/tcp/4001",         // bad ip4
        "dnsaddr=/ip4/192.0.2.1/tcp/99999",          // bad port
        "dnsaddr=/foo/bar",                          // unknown protocol
        "dnsaddr=/ip4/192.0.2.1/tcp/4001/p2p/Qm1",   // not a peer ID
        "DNSADDR=/ip4/192.0.2.1/tcp/4001/p2p/" + w,  // the key is case-sensitive
        " dnsaddr=/ip4/192.0.2.1/tcp/4001/p2p/" + w,
        "dnsaddr=/ip4/192.0.2.9/tcp/4001/p2p/" + w,  // the one good entry
        "dnsaddr=/ip4/192.0.2.9/tcp/4001/p2p/" + w,  // a duplicate: dropped, not malformed
    };
    auto r = parse_dnsaddr_txt(txt, std::nullopt);
    EXPECT_EQ(r.malformed, 9u);
    EXPECT_EQ(strings(r.addrs), (std::vector<std::string>{"/ip4/192.0.2.9/tcp/4001/p2p/" + w}));
    EXPECT_TRUE(parse_dnsaddr_txt({}, std::nullopt).addrs.empty());
}

TEST(DnsaddrParse, ReturnsNestedDnsaddrEntriesForTheCaller) {
    auto want = random_peer();
    auto other = random_peer().to_base58();
    const auto w = want.to_base58();
    std::vector<std::string> txt{
        "dnsaddr=/dnsaddr/ams-1.bootstrap.example.org/p2p/" + w,
        "dnsaddr=/dnsaddr/ams-2.bootstrap.example.org/p2p/" + other,
        "dnsaddr=/dnsaddr/regional.example.org",  // no /p2p: its own records get filtered
        "dnsaddr=/ip4/192.0.2.7/tcp/4001/p2p/" + w,
    };
    auto r = parse_dnsaddr_txt(txt, want);
    EXPECT_EQ(r.other_peer, 1u);
    ASSERT_EQ(r.addrs.size(), 3u);
    EXPECT_EQ(r.addrs[0].to_string(), "/dnsaddr/ams-1.bootstrap.example.org/p2p/" + w);
    EXPECT_TRUE(is_dnsaddr(r.addrs[0]));
    EXPECT_EQ(r.addrs[1].to_string(), "/dnsaddr/regional.example.org");
    EXPECT_TRUE(is_dnsaddr(r.addrs[1]));
    EXPECT_FALSE(is_dnsaddr(r.addrs[2]));
    EXPECT_EQ(dnsaddr_query_name(r.addrs[0]), "_dnsaddr.ams-1.bootstrap.example.org");
}

TEST(DnsaddrParse, QueryNamesAndPeerIds) {
    auto p = random_peer();
    auto addr = ma("/dnsaddr/bootstrap.libp2p.io/p2p/" + p.to_base58());
    EXPECT_EQ(dnsaddr_query_name(addr), "_dnsaddr.bootstrap.libp2p.io");
    EXPECT_EQ(last_peer_id(addr), p);
    EXPECT_FALSE(last_peer_id(ma("/dnsaddr/bootstrap.libp2p.io")));
    EXPECT_FALSE(dnsaddr_query_name(ma("/dns4/bootstrap.libp2p.io/tcp/4001")));
    EXPECT_FALSE(dnsaddr_query_name(ma("/dnsaddr/a..b")));  // empty label
    EXPECT_FALSE(dnsaddr_query_name(ma("/dnsaddr/" + std::string(64, 'a') + ".org")));
    EXPECT_FALSE(dnsaddr_query_name(ma("/dnsaddr/a\\b.org")));  // no escapes
    EXPECT_TRUE(dnsaddr_query_name(ma("/dnsaddr/" + std::string(63, 'a') + ".org.")));
}

TEST(DnsaddrParse, OnlyPlainTcpAddressesAreDialable) {
    auto w = random_peer().to_base58();
    EXPECT_TRUE(is_tcp_dialable(ma("/ip4/192.0.2.1/tcp/4001")));
    EXPECT_TRUE(is_tcp_dialable(ma("/ip6/2001:db8::1/tcp/4001/p2p/" + w)));
    EXPECT_TRUE(is_tcp_dialable(ma("/dns4/example.org/tcp/4001/p2p/" + w)));
    EXPECT_FALSE(is_tcp_dialable(ma("/ip4/192.0.2.1/udp/4001/quic-v1/p2p/" + w)));
    EXPECT_FALSE(is_tcp_dialable(ma("/ip4/192.0.2.1/tcp/443/tls/ws/p2p/" + w)));
    EXPECT_FALSE(is_tcp_dialable(ma("/dnsaddr/example.org/p2p/" + w)));
    EXPECT_FALSE(is_tcp_dialable(ma("/ip4/192.0.2.1/tcp/1/p2p/" + w + "/p2p-circuit")));
}

TEST(DnsaddrResolve, PassesOtherAddressesThrough) {
    run([]() -> net::awaitable<void> {
        auto addr = ma("/ip4/127.0.0.1/tcp/4001");
        auto r = co_await resolve_dnsaddr(addr, 1s);
        KEEL_CO_ASSERT_OK(r);
        EXPECT_EQ(*r, std::vector<Multiaddr>{addr});
    });
}

// The real resolver path, without the internet: names under the reserved .invalid TLD never
// exist. A configured resolver answers NXDOMAIN (or fails) quickly; a machine without a reachable
// one runs into the deadline. Either way the answer comes within the deadline, as an error, and
// the I/O thread keeps running meanwhile (the lookup is on a worker thread).
TEST(DnsaddrResolve, UnresolvableNameFailsWithinTheDeadline) {
    run(
        []() -> net::awaitable<void> {
            auto executor = co_await net::asio::this_coro::executor;
            auto ticks = std::make_shared<int>(0);
            auto stop = std::make_shared<bool>(false);
            net::asio::co_spawn(
                executor,
                [ticks, stop]() -> net::awaitable<void> {
                    net::asio::steady_timer t(co_await net::asio::this_coro::executor);
                    while (!*stop) {
                        t.expires_after(5ms);
                        co_await t.async_wait(net::use_result);
                        ++*ticks;
                    }
                },
                net::asio::detached);
            auto start = net::Clock::now();
            auto addr = ma("/dnsaddr/keel-dnsaddr-test.invalid");
            auto r = co_await resolve_dnsaddr(addr, 3s);
            auto took = net::Clock::now() - start;
            *stop = true;
            KEEL_CO_ASSERT(!r);
            std::printf(
                "[ dnsaddr  ] _dnsaddr.keel-dnsaddr-test.invalid: \"%s\" after %.3f s, "
                "%d timer ticks meanwhile\n",
                r.error().message().c_str(), std::chrono::duration<double>(took).count(), *ticks);
            EXPECT_LT(took, 3500ms);
            // 5 ms ticks: a blocked I/O thread would show none.
            if (took > 100ms) {
                EXPECT_GT(*ticks, 0);
            }
        },
        10s);
}

TEST(DnsaddrResolve, HostDialReportsPhaseDial) {
    net::asio::io_context io;
    HostConfig config(Ed25519KeyPair::generate());
    config.dial_timeout = 3s;
    Host host(io.get_executor(), std::move(config));
    std::optional<HostResult<std::shared_ptr<Connection>>> result;
    auto start = net::Clock::now();
    auto addr = ma("/dnsaddr/keel-dnsaddr-test.invalid/p2p/" + random_peer().to_base58());
    net::asio::co_spawn(
        io, [&]() -> net::awaitable<void> { result = co_await host.dial(addr); },
        net::asio::detached);
    while (!result && net::Clock::now() - start < 10s) io.run_for(20ms);
    auto took = net::Clock::now() - start;
    ASSERT_TRUE(result.has_value()) << "dial did not finish";
    ASSERT_FALSE(*result);
    std::printf("[ dnsaddr  ] dial %s: %s after %.3f s\n", addr.to_string().c_str(),
                result->error().message().c_str(), std::chrono::duration<double>(took).count());
    EXPECT_EQ(result->error().phase, Phase::dial);
    EXPECT_EQ(result->error().detail, addr.to_string());
    EXPECT_LT(took, 3500ms);
    EXPECT_EQ(host.stats().dial_failures_by_phase[Phase::dial], 1u);
    host.stop();
    io.run_for(50ms);
}

// ---- against a DNS server on 127.0.0.1 (no internet) --------------------------------------

namespace asio = net::asio;
using asio::ip::udp;

// Answers TXT queries from `zone` (name without the trailing dot -> TXT strings; a name with an
// empty list exists but has no TXT); any other name is NXDOMAIN. Each string goes out split into
// 40-byte character-strings, as long records are in real zones: the resolver must join them.
class FakeDns {
  public:
    explicit FakeDns(asio::any_io_executor executor) : state_(std::make_shared<State>(executor)) {
        asio::co_spawn(executor, serve(state_), asio::detached);
        set_dnsaddr_nameserver(state_->socket.local_endpoint());
    }
    ~FakeDns() {
        set_dnsaddr_nameserver(std::nullopt);
        net::error_code ignored;
        state_->socket.close(ignored);
    }
    FakeDns(const FakeDns&) = delete;
    FakeDns& operator=(const FakeDns&) = delete;

    std::map<std::string, std::vector<std::string>>& zone() { return state_->zone; }
    std::size_t queries() const { return state_->queries; }

  private:
    struct State {
        explicit State(asio::any_io_executor ex)
            : socket(ex, udp::endpoint(asio::ip::address_v4::loopback(), 0)) {}
        udp::socket socket;
        std::map<std::string, std::vector<std::string>> zone;
        std::size_t queries = 0;
    };

    static void put16(Bytes& out, std::size_t v) {
        out.push_back(static_cast<std::uint8_t>(v >> 8));
        out.push_back(static_cast<std::uint8_t>(v & 0xff));
    }

    static net::awaitable<void> serve(std::shared_ptr<State> s) {
        std::array<std::uint8_t, 1500> buf{};
        udp::endpoint from;
        while (true) {
            auto [ec, n] =
                co_await s->socket.async_receive_from(asio::buffer(buf), from, net::use_result);
            if (ec) co_return;
            if (n < 12) continue;
            std::size_t pos = 12;
            std::string name;
            while (pos < n && buf[pos] != 0) {
                std::size_t len = buf[pos++];
                if (pos + len > n) break;
                if (!name.empty()) name += '.';
                for (std::size_t i = 0; i < len; ++i)
                    name += static_cast<char>(std::tolower(buf[pos + i]));
                pos += len;
            }
            pos += 1;  // the root label
            if (pos + 4 > n) continue;
            const std::size_t qtype = std::size_t(buf[pos]) << 8 | buf[pos + 1];
            pos += 4;
            ++s->queries;

            Bytes out(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(pos));
            out[2] = static_cast<std::uint8_t>(0x80 | (buf[2] & 0x01));  // QR, RD copied
            out[3] = 0x80;                                               // RA, NOERROR
            for (std::size_t i = 6; i < 12; ++i) out[i] = 0;             // AN, NS, AR counts
            auto it = s->zone.find(name);
            std::size_t answers = 0;
            if (it == s->zone.end()) {
                out[3] |= 3;  // NXDOMAIN
            } else if (qtype == 16) {
                for (const auto& text : it->second) {
                    Bytes rdata;
                    for (std::size_t at = 0; at < text.size(); at += 40) {
                        auto chunk = text.substr(at, 40);
                        rdata.push_back(static_cast<std::uint8_t>(chunk.size()));
                        rdata.insert(rdata.end(), chunk.begin(), chunk.end());
                    }
                    out.push_back(0xc0);  // the name: a pointer to the question's
                    out.push_back(0x0c);
                    put16(out, 16);  // TXT
                    put16(out, 1);   // IN
                    put16(out, 0);   // TTL, 60 s
                    put16(out, 60);
                    put16(out, rdata.size());
                    out.insert(out.end(), rdata.begin(), rdata.end());
                    ++answers;
                }
            }
            out[6] = static_cast<std::uint8_t>(answers >> 8);
            out[7] = static_cast<std::uint8_t>(answers & 0xff);
            co_await s->socket.async_send_to(asio::buffer(out), from, net::use_result);
        }
    }

    std::shared_ptr<State> state_;
};

// Runs `task` on `io` until it finishes or `limit` passes.
template <class T>
std::optional<T> run_on(asio::io_context& io, net::awaitable<T> task,
                        net::Duration limit = std::chrono::seconds(10)) {
    auto out = std::make_shared<std::optional<T>>();
    asio::co_spawn(
        io,
        [](net::awaitable<T> t, std::shared_ptr<std::optional<T>> o) -> net::awaitable<void> {
            auto value = co_await std::move(t);
            o->emplace(std::move(value));
        }(std::move(task), out),
        asio::detached);
    auto deadline = net::Clock::now() + limit;
    while (!*out && net::Clock::now() < deadline) io.run_for(std::chrono::milliseconds(5));
    return std::move(*out);
}

std::string addr_record(const std::string& addr) {
    return "dnsaddr=" + addr;
}

TEST(DnsaddrLocalServer, ResolvesNestedRecordsAndFiltersByPeer) {
    asio::io_context io;
    FakeDns dns(io.get_executor());
    const auto a = random_peer().to_base58();
    const auto b = random_peer().to_base58();
    dns.zone()["_dnsaddr.keel.test"] = {
        addr_record("/ip4/192.0.2.1/tcp/4001/p2p/" + a),
        addr_record("/ip4/192.0.2.2/tcp/4001/p2p/" + b),
        addr_record("/dnsaddr/sub.keel.test"),
        "v=spf1 -all",
    };
    dns.zone()["_dnsaddr.sub.keel.test"] = {
        addr_record("/ip6/2001:db8::1/tcp/4001/p2p/" + a),
        addr_record("/ip4/192.0.2.4/udp/4001/quic-v1/p2p/" + b),
    };

    auto only_a = run_on(io, resolve_dnsaddr(ma("/dnsaddr/keel.test/p2p/" + a), 5s));
    ASSERT_TRUE(only_a.has_value());
    ASSERT_TRUE(*only_a) << only_a->error().message();
    EXPECT_EQ(strings(**only_a), (std::vector<std::string>{"/ip4/192.0.2.1/tcp/4001/p2p/" + a,
                                                           "/ip6/2001:db8::1/tcp/4001/p2p/" + a}));
    EXPECT_EQ(dns.queries(), 2u);

    auto all = run_on(io, resolve_dnsaddr(ma("/dnsaddr/keel.test"), 5s));
    ASSERT_TRUE(all.has_value() && *all);
    EXPECT_EQ(strings(**all), (std::vector<std::string>{
                                  "/ip4/192.0.2.1/tcp/4001/p2p/" + a,
                                  "/ip4/192.0.2.2/tcp/4001/p2p/" + b,
                                  "/ip6/2001:db8::1/tcp/4001/p2p/" + a,
                                  "/ip4/192.0.2.4/udp/4001/quic-v1/p2p/" + b,
                              }));
}

TEST(DnsaddrLocalServer, ErrorsNameTheReason) {
    asio::io_context io;
    FakeDns dns(io.get_executor());
    dns.zone()["_dnsaddr.empty.keel.test"] = {};  // exists, no TXT
    dns.zone()["_dnsaddr.loop.keel.test"] = {"dnsaddr=/dnsaddr/loop.keel.test"};
    dns.zone()["_dnsaddr.junk.keel.test"] = {"dnsaddr=/nonsense", "hello"};

    auto missing = run_on(io, resolve_dnsaddr(ma("/dnsaddr/missing.keel.test"), 5s));
    ASSERT_TRUE(missing.has_value() && !*missing);
    EXPECT_EQ(missing->error(), asio::error::host_not_found);

    auto empty = run_on(io, resolve_dnsaddr(ma("/dnsaddr/empty.keel.test"), 5s));
    ASSERT_TRUE(empty.has_value() && !*empty);
    EXPECT_EQ(empty->error(), dnsaddr_errc::no_records);
    EXPECT_EQ(empty->error().message(), "no TXT records");

    auto junk = run_on(io, resolve_dnsaddr(ma("/dnsaddr/junk.keel.test"), 5s));
    ASSERT_TRUE(junk.has_value() && !*junk);
    EXPECT_EQ(junk->error(), dnsaddr_errc::no_records);

    const auto before = dns.queries();
    auto loop = run_on(io, resolve_dnsaddr(ma("/dnsaddr/loop.keel.test"), 5s));
    ASSERT_TRUE(loop.has_value() && !*loop);
    EXPECT_EQ(loop->error(), dnsaddr_errc::too_deep);
    EXPECT_EQ(dns.queries() - before, dnsaddr_max_depth);
}

TEST(DnsaddrLocalServer, HostDialsTheResolvedAddresses) {
    asio::io_context io;
    FakeDns dns(io.get_executor());
    HostConfig server_config(Ed25519KeyPair::generate());
    Host server(io.get_executor(), std::move(server_config));
    auto bound = server.listen(ma("/ip4/127.0.0.1/tcp/0"));
    ASSERT_TRUE(bound);
    HostConfig client_config(Ed25519KeyPair::generate());
    client_config.dial_timeout = 5s;
    Host client(io.get_executor(), std::move(client_config));

    // A port nobody listens on comes first: the staggered dial gets past it.
    std::uint16_t closed = 0;
    {
        asio::ip::tcp::acceptor probe(io,
                                      asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
        closed = probe.local_endpoint().port();
    }
    const auto id = server.peer_id().to_base58();
    const auto other = random_peer().to_base58();
    dns.zone()["_dnsaddr.node.keel.test"] = {
        addr_record("/ip4/127.0.0.1/tcp/" + std::to_string(closed) + "/p2p/" + id),
        addr_record("/ip4/127.0.0.1/udp/4001/quic-v1/p2p/" + id),  // not dialable: skipped
        addr_record(bound->to_string() + "/p2p/" + id),
        addr_record("/ip4/127.0.0.1/tcp/1/p2p/" + other),
    };

    auto conn = run_on(io, client.dial(ma("/dnsaddr/node.keel.test/p2p/" + id)));
    ASSERT_TRUE(conn.has_value()) << "dial did not finish";
    ASSERT_TRUE(*conn) << conn->error().message();
    EXPECT_EQ((**conn)->peer, server.peer_id());
    EXPECT_EQ((**conn)->remote_addr, *bound);

    // Records only for another peer: phase dial, "no TXT records".
    const auto nobody = random_peer().to_base58();
    const auto addr = ma("/dnsaddr/node.keel.test/p2p/" + nobody);
    auto refused = run_on(io, client.dial(addr));
    ASSERT_TRUE(refused.has_value());
    ASSERT_FALSE(*refused);
    EXPECT_EQ(refused->error().phase, Phase::dial);
    EXPECT_EQ(refused->error().error, dnsaddr_errc::no_records);
    EXPECT_EQ(refused->error().message(), "dial: no TXT records (" + addr.to_string() + ")");

    client.stop();
    server.stop();
    io.run_for(100ms);
}

}  // namespace
}  // namespace keel
