#include "keel/health/bootstrap_probe.hpp"

#include <sodium.h>
#include <algorithm>

#include "keel/net/deadline.hpp"
#include "keel/protocols/keel_health.hpp"
#include "keel/protocols/ping.hpp"

namespace keel::health {

namespace {
double ms_since(net::Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(net::Clock::now() - start).count();
}
}  // namespace

net::awaitable<BootstrapHealth> probe_bootstrap(Host& host, kad::Dht& dht, Multiaddr addr,
                                                ProbeConfig config) {
    BootstrapHealth h;
    h.addr = addr;
    h.checked_at = std::chrono::system_clock::now();
    auto fail = [&](const Failure& f) {
        h.last_error = f.message();
        h.failed_phase = f.phase;
    };

    auto conn = co_await host.connect(addr);
    if (!conn) {
        fail(conn.error());
        h.state = classify(h, config.thresholds);
        co_return h;
    }
    h.peer_id = (*conn)->peer;
    if (auto identified = co_await host.wait_identified(*conn); !identified) {
        fail(identified.error());
        h.state = classify(h, config.thresholds);
        co_return h;
    }

    // Ping: a peer that holds the connection open but does not answer (frozen, overloaded) is
    // unreachable, and its connection is closed so that the next probe dials afresh.
    std::vector<std::string> ping_protocol{std::string(protocols::ping_protocol_id)};
    auto ping_stream = co_await host.new_stream(*conn, std::move(ping_protocol));
    if (!ping_stream) {
        fail(ping_stream.error());
        (*conn)->session->close();
        h.state = classify(h, config.thresholds);
        co_return h;
    }
    auto rtt = co_await net::with_deadline(protocols::ping_once(**ping_stream), config.timeout);
    co_await (*ping_stream)->close_write();
    if (!rtt) {
        fail(Failure{Phase::protocol, rtt.error(), "ping"});
        (*conn)->session->close();
        h.state = classify(h, config.thresholds);
        co_return h;
    }
    h.reachable = true;
    h.latency_ms = std::chrono::duration<double, std::milli>(*rtt).count();

    // FIND_NODE for a random key: a bootstrap whose table is empty answers with no peers.
    kad::KadMessage find;
    find.type = kad::MessageType::find_node;
    find.key.resize(32);
    randombytes_buf(find.key.data(), find.key.size());
    auto start = net::Clock::now();
    auto answer = co_await dht.request(*conn, find);  // on the probe's own connection
    std::size_t closer = 0;
    if (answer) {
        h.find_node_ms = ms_since(start);
        closer = answer->closer_peers.size();
        h.dht_ok = closer >= 1;
        if (!h.dht_ok) h.last_error = "dht: FIND_NODE answered with no peers";
    } else {
        h.last_error = "dht: FIND_NODE failed: " + answer.error().message();
    }

    auto info = host.peer_store().get((*conn)->peer);
    bool speaks_health = info && std::find(info->protocols.begin(), info->protocols.end(),
                                           protocols::health_protocol_id) != info->protocols.end();
    if (speaks_health) {
        if (config.health_requests) co_await config.health_requests->turn((*conn)->peer);
        std::vector<std::string> health_protocol{std::string(protocols::health_protocol_id)};
        auto stream = co_await host.new_stream(*conn, std::move(health_protocol));
        if (stream) {
            auto stats =
                co_await net::with_deadline(protocols::request_health(**stream), config.timeout);
            if (stats) {
                h.peer_count = stats->connected_peers;
                h.routing_table_size = stats->routing_table_size;
                h.stats_estimated = false;
            }
        }
    }
    if (h.stats_estimated && answer) {
        // Another implementation: the peers it returned are a lower bound on what it knows.
        h.peer_count = closer;
        h.routing_table_size = closer;
    }
    h.state = classify(h, config.thresholds);
    co_return h;
}

}  // namespace keel::health
