#pragma once
// Keel DHT nodes for the DHT integration tests (dht_network_test.cpp, dht_bad_input_test.cpp,
// dht_persistence_test.cpp): a Host listening on 127.0.0.1 with a started Dht, their orderly
// shutdown, tasks run at most N at a time on one io_context, and the tally lookups keep.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "keel/kad/dht.hpp"
#include "support/kad_wire.hpp"
#include "support/test_support.hpp"

namespace keel::test {

struct DhtNode {
    std::unique_ptr<Host> host;
    std::unique_ptr<kad::Dht> dht;
    Multiaddr addr;  // listen address with /p2p

    const PeerId& id() const { return host->peer_id(); }
};

inline kad::DhtConfig dht_config(bool server, net::Duration rpc_timeout) {
    kad::DhtConfig config;
    config.server_mode = server;
    config.rpc_timeout = rpc_timeout;
    config.lookup_timeout = 20s;
    return config;
}

inline DhtNode make_node(asio::io_context& io, kad::DhtConfig config) {
    DhtNode node;
    node.host = std::make_unique<Host>(io.get_executor(), test_config());
    auto bound = node.host->listen(loopback_any_port());
    EXPECT_TRUE(bound) << bound.error().message();
    if (bound) node.addr = with_peer(*bound, node.host->peer_id());
    node.dht = std::make_unique<kad::Dht>(*node.host, std::move(config));
    node.dht->start();
    return node;
}

// Stops the DHTs and hosts, lets connections close, then destroys each DHT before its host.
inline void shut_down_nodes(asio::io_context& io, std::vector<DhtNode>& nodes,
                            std::vector<std::unique_ptr<Host>>& others) {
    std::vector<Host*> hosts;
    for (auto& n : nodes) {
        if (n.dht) n.dht->stop();
        hosts.push_back(n.host.get());
    }
    for (auto& h : others) hosts.push_back(h.get());
    shut_down(io, hosts);
    for (auto& n : nodes) n.dht.reset();
    nodes.clear();
    others.clear();
}

using TaskMaker = std::function<net::awaitable<void>(std::size_t)>;

inline net::awaitable<void> parallel_worker(std::shared_ptr<std::size_t> next,
                                            std::shared_ptr<std::size_t> finished,
                                            std::size_t count, std::shared_ptr<TaskMaker> make) {
    while (*next < count) {
        std::size_t i = (*next)++;
        co_await (*make)(i);
        ++*finished;
    }
}

// Starts tasks make(0) … make(count - 1) with at most `parallel` in flight (each a coroutine
// doing its own bookkeeping); returns how many have finished so far.
inline std::shared_ptr<std::size_t> spawn_parallel(asio::io_context& io, std::size_t count,
                                                   std::size_t parallel, TaskMaker make) {
    auto next = std::make_shared<std::size_t>(0);
    auto finished = std::make_shared<std::size_t>(0);
    auto maker = std::make_shared<TaskMaker>(std::move(make));
    for (std::size_t w = 0; w < std::min(count, parallel); ++w)
        asio::co_spawn(io, parallel_worker(next, finished, count, maker), asio::detached);
    return finished;
}

// spawn_parallel, then runs `io` until all tasks finished; false on timeout.
inline bool run_parallel(asio::io_context& io, std::size_t count, std::size_t parallel,
                         TaskMaker make, net::Duration timeout) {
    auto finished = spawn_parallel(io, count, parallel, std::move(make));
    return run_until(
        io, [&] { return *finished == count; }, timeout);
}

inline bool has_addr(const std::vector<Multiaddr>& addrs, const Multiaddr& want) {
    auto bare = want.without(proto_code::p2p);
    return std::any_of(addrs.begin(), addrs.end(),
                       [&](const Multiaddr& a) { return a.without(proto_code::p2p) == bare; });
}

struct FindTally {
    std::size_t found = 0;
    std::size_t failed = 0;
    std::vector<std::string> failures;

    void fail(std::string why) {
        ++failed;
        if (failures.size() < 10) failures.push_back(std::move(why));
    }
};

inline net::awaitable<void> bootstrap_one(kad::Dht& dht, Multiaddr bootstrap,
                                          std::shared_ptr<std::vector<std::size_t>> reached,
                                          std::size_t index) {
    std::vector<Multiaddr> peers{std::move(bootstrap)};
    (*reached)[index] = co_await dht.bootstrap(std::move(peers));
}

}  // namespace keel::test
