// DHT lookup latency in a local network: builds N Keel DHT servers in one process on one
// io_context (127.0.0.1, port 0; node 0 is the bootstrap and the others bootstrap from it), then
// runs lookups one at a time, each from a random node for a random other node, and prints a table
// of latency percentiles, hops and peers queried, and the machine it ran on:
//   find_peer                 the connection between the two nodes (if any) is closed first, so
//                             the call runs an iterative lookup (with k = 20 of 50 nodes the
//                             network is otherwise fully meshed and find_peer would answer from
//                             the peer store);
//   get_closest_peers         warm: over whatever connections are open;
//   get_closest_peers (cold)  all of the querying node's connections are closed first, so the
//                             latency includes dialing (TCP + Noise + Yamux + identify).
// Hops and peers queried come from get_closest_peers' LookupResult (find_peer does not report
// them). Not a Google Benchmark loop: one pass, percentiles over the calls.
// Usage: dht_lookup_bench [--lookups=N] [--nodes=N] [--seed=N]
// Meaningful numbers want an optimised build (cmake --preset release).
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "keel/crypto/ed25519.hpp"
#include "keel/host/host.hpp"
#include "keel/kad/dht.hpp"

namespace {

using namespace keel;
namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Options {
    std::size_t lookups = 1000;
    std::size_t nodes = 50;
    std::uint64_t seed = 1;
};

std::optional<Options> parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&](std::string_view name) -> std::optional<std::uint64_t> {
            if (!a.starts_with(name)) return std::nullopt;
            return std::strtoull(std::string(a.substr(name.size())).c_str(), nullptr, 10);
        };
        if (auto v = value("--lookups="))
            o.lookups = *v;
        else if (auto v2 = value("--nodes="))
            o.nodes = *v2;
        else if (auto v3 = value("--seed="))
            o.seed = *v3;
        else
            return std::nullopt;
    }
    if (o.nodes < 2 || o.lookups == 0) return std::nullopt;
    return o;
}

bool run_until(asio::io_context& io, const std::function<bool()>& done, net::Duration timeout) {
    auto deadline = net::Clock::now() + timeout;
    while (!done()) {
        if (net::Clock::now() >= deadline) return false;
        if (io.stopped()) io.restart();
        io.run_one_for(5ms);
    }
    return true;
}

struct Node {
    std::unique_ptr<Host> host;
    std::unique_ptr<kad::Dht> dht;
    Multiaddr addr;
};

net::awaitable<void> bootstrap_one(kad::Dht& dht, Multiaddr to, std::shared_ptr<std::size_t> done) {
    std::vector<Multiaddr> peers{std::move(to)};
    co_await dht.bootstrap(std::move(peers));
    ++*done;
}

struct Sample {
    double ms = 0;
    bool ok = false;
    int hops = 0;
    std::size_t queried = 0;
    bool has_hops = false;
    bool done = false;
};

net::awaitable<void> time_find_peer(kad::Dht& dht, PeerId target, std::shared_ptr<Sample> out) {
    auto t0 = net::Clock::now();
    auto r = co_await dht.find_peer(target);
    out->ms = std::chrono::duration<double, std::milli>(net::Clock::now() - t0).count();
    out->ok = r.has_value();
    out->done = true;
}

net::awaitable<void> time_closest(kad::Dht& dht, PeerId target, std::shared_ptr<Sample> out) {
    auto t0 = net::Clock::now();
    auto r = co_await dht.get_closest_peers(target.bytes());
    out->ms = std::chrono::duration<double, std::milli>(net::Clock::now() - t0).count();
    out->ok = !r.closest.empty() && r.closest.front() == target;
    out->hops = r.hops;
    out->queried = r.queried;
    out->has_hops = true;
    out->done = true;
}

// Closes `from`'s connections (only those to `to`, if given) and waits until they are gone. A
// background ping of the routing table's ping-before-evict rule may dial again right away, so
// this closes until none is left.
bool disconnect(asio::io_context& io, Host& from, const std::optional<PeerId>& to) {
    auto wanted = [&](const std::shared_ptr<Connection>& c) { return !to || c->peer == *to; };
    auto none_left = [&] {
        auto open = from.connections();
        return std::none_of(open.begin(), open.end(), wanted);
    };
    auto deadline = net::Clock::now() + 10s;
    while (net::Clock::now() < deadline) {
        for (const auto& c : from.connections())
            if (wanted(c)) c->session->close();
        if (run_until(io, none_left, 1s)) return true;
    }
    std::fprintf(stderr, "connections of %s did not close\n",
                 from.peer_id().short_string().c_str());
    return false;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto rank = static_cast<std::size_t>(p / 100.0 * double(v.size() - 1) + 0.5);
    return v[std::min(rank, v.size() - 1)];
}

void print_row(const char* name, const std::vector<Sample>& samples) {
    std::vector<double> ms;
    std::size_t ok = 0, queried = 0;
    int max_hops = 0;
    double hops = 0, max_ms = 0, sum_ms = 0;
    bool with_hops = !samples.empty() && samples.front().has_hops;
    for (const auto& s : samples) {
        ms.push_back(s.ms);
        ok += s.ok;
        hops += s.hops;
        queried += s.queried;
        max_hops = std::max(max_hops, s.hops);
        max_ms = std::max(max_ms, s.ms);
        sum_ms += s.ms;
    }
    double n = samples.empty() ? 1 : double(samples.size());
    std::printf("%-25s %8zu %8zu %8.2f %8.2f %8.2f %8.2f", name, samples.size(), ok,
                percentile(ms, 50), percentile(ms, 99), sum_ms / n, max_ms);
    if (with_hops)
        std::printf(" %9.2f %8d %8.1f\n", hops / n, max_hops, double(queried) / n);
    else
        std::printf(" %9s %8s %8s\n", "-", "-", "-");
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            auto colon = line.find(':');
            if (colon != std::string::npos) {
                auto model = line.substr(colon + 1);
                model.erase(0, model.find_first_not_of(" \t"));
                return model;
            }
        }
    }
    return "unknown";
}

// The 1-minute load average: other work on the machine shows in the latencies.
std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string first;
    if (!(in >> first)) return "unknown";
    return first;
}

}  // namespace

int main(int argc, char** argv) {
    auto options = parse_args(argc, argv);
    if (!options) {
        std::fprintf(stderr, "usage: %s [--lookups=N] [--nodes=N>=2] [--seed=N]\n", argv[0]);
        return 2;
    }
    const auto& o = *options;
    asio::io_context io;
    std::vector<Node> nodes;
    auto t0 = net::Clock::now();
    for (std::size_t i = 0; i < o.nodes; ++i) {
        Node n;
        HostConfig config(Ed25519KeyPair::generate());
        config.yamux.close_linger = 200ms;
        n.host = std::make_unique<Host>(io.get_executor(), std::move(config));
        auto bound = n.host->listen(Multiaddr::parse("/ip4/127.0.0.1/tcp/0").value());
        if (!bound) {
            std::fprintf(stderr, "listen: %s\n", bound.error().message().c_str());
            return 1;
        }
        n.addr = bound->with_component(proto_code::p2p, n.host->peer_id().bytes());
        kad::DhtConfig dc;
        dc.server_mode = true;
        dc.rpc_timeout = 5s;
        n.dht = std::make_unique<kad::Dht>(*n.host, dc);
        n.dht->start();
        nodes.push_back(std::move(n));
    }
    auto bootstrapped = std::make_shared<std::size_t>(0);
    for (std::size_t i = 1; i < o.nodes; ++i)
        asio::co_spawn(io, bootstrap_one(*nodes[i].dht, nodes[0].addr, bootstrapped),
                       asio::detached);
    if (!run_until(
            io, [&] { return *bootstrapped == o.nodes - 1; }, 60s)) {
        std::fprintf(stderr, "bootstrap did not finish\n");
        return 1;
    }
    double build_s = std::chrono::duration<double>(net::Clock::now() - t0).count();

    std::mt19937_64 rng(o.seed);
    std::uniform_int_distribution<std::size_t> pick(0, o.nodes - 1);
    auto pair = [&] {
        std::size_t from = pick(rng), to = pick(rng);
        while (to == from) to = pick(rng);
        return std::pair{from, to};
    };
    // One call at a time: the io_context runs until it is done, then the next starts.
    auto timed = [&](auto&& start) {
        auto s = std::make_shared<Sample>();
        asio::co_spawn(io, start(s), asio::detached);
        if (!run_until(
                io, [&] { return s->done; }, 60s)) {
            std::fprintf(stderr, "a lookup did not finish\n");
            std::exit(1);
        }
        return *s;
    };
    std::vector<Sample> find, closest, cold;
    auto wall0 = net::Clock::now();
    for (std::size_t i = 0; i < o.lookups; ++i) {
        auto [from, to] = pair();
        if (!disconnect(io, *nodes[from].host, nodes[to].host->peer_id())) return 1;
        find.push_back(timed([&](std::shared_ptr<Sample> s) {
            return time_find_peer(*nodes[from].dht, nodes[to].host->peer_id(), std::move(s));
        }));
    }
    for (std::size_t i = 0; i < o.lookups; ++i) {
        auto [from, to] = pair();
        closest.push_back(timed([&](std::shared_ptr<Sample> s) {
            return time_closest(*nodes[from].dht, nodes[to].host->peer_id(), std::move(s));
        }));
    }
    for (std::size_t i = 0; i < o.lookups; ++i) {
        auto [from, to] = pair();
        if (!disconnect(io, *nodes[from].host, std::nullopt)) return 1;
        cold.push_back(timed([&](std::shared_ptr<Sample> s) {
            return time_closest(*nodes[from].dht, nodes[to].host->peer_id(), std::move(s));
        }));
    }
    double wall_s = std::chrono::duration<double>(net::Clock::now() - wall0).count();

    std::printf(
        "DHT lookups: %zu Keel nodes in one process on 127.0.0.1 (k = 20, alpha = 3), "
        "built and bootstrapped in %.2f s; %zu calls per row, one at a time; %.2f s in "
        "all\n",
        o.nodes, build_s, o.lookups, wall_s);
    std::printf("machine: %ld cpus, %s, load average %s; build: %s\n",
                ::sysconf(_SC_NPROCESSORS_ONLN), cpu_model().c_str(), load_average().c_str(),
#ifdef NDEBUG
                "optimised (NDEBUG)"
#else
                "debug (assertions on)"
#endif
    );
    std::printf("%-25s %8s %8s %8s %8s %8s %8s %9s %8s %8s\n", "operation", "lookups", "ok",
                "p50 ms", "p99 ms", "mean ms", "max ms", "hops mean", "hops max", "queried");
    print_row("find_peer", find);
    print_row("get_closest_peers", closest);
    print_row("get_closest_peers (cold)", cold);

    for (auto& n : nodes) n.dht->stop();
    for (auto& n : nodes) n.host->stop();
    io.restart();
    auto deadline = net::Clock::now() + 3s;
    while (!io.stopped() && net::Clock::now() < deadline) io.run_for(20ms);
    io.stop();
    for (auto& n : nodes) n.dht.reset();
    nodes.clear();
    return 0;
}
