#include "keel/health/health_monitor.hpp"

#include <algorithm>

#include "keel/net/log.hpp"

namespace keel::health {

namespace asio = net::asio;

HealthMonitor::HealthMonitor(Host& host, kad::Dht& dht, std::vector<Multiaddr> bootstraps,
                             MonitorConfig config)
    : host_(host), dht_(dht), config_(config), alive_(std::make_shared<bool>(false)) {
    // The monitor alone redials bootstraps: the DHT waits for it (refresh_soon below).
    dht_.leave_bootstrap_reconnection_to_monitor();
    if (!config_.probe.health_requests)
        config_.probe.health_requests = std::make_shared<protocols::HealthRequestPacer>();
    for (auto& addr : bootstraps) watched_.push_back(make_watched(std::move(addr)));
}

std::shared_ptr<HealthMonitor::Watched> HealthMonitor::make_watched(Multiaddr addr) {
    auto w = std::make_shared<Watched>(host_.get_executor());
    w->state.health.addr = std::move(addr);
    if (const auto* p2p = w->state.health.addr.find(proto_code::p2p))
        if (auto peer = PeerId::from_bytes(p2p->value)) w->state.health.peer_id = *peer;
    return w;
}

void HealthMonitor::set_bootstraps(std::vector<Multiaddr> bootstraps) {
    std::vector<std::shared_ptr<Watched>> next;
    for (auto& addr : bootstraps) {
        auto kept = std::find_if(watched_.begin(), watched_.end(),
                                 [&](const auto& w) { return w->state.health.addr == addr; });
        if (kept != watched_.end()) {
            next.push_back(*kept);
            continue;
        }
        auto w = make_watched(std::move(addr));
        if (*alive_) asio::co_spawn(host_.get_executor(), watch(w), asio::detached);
        next.push_back(std::move(w));
    }
    for (auto& w : watched_) {
        if (std::find(next.begin(), next.end(), w) != next.end()) continue;
        w->removed = true;
        w->wake.notify();
    }
    watched_ = std::move(next);
}

HealthMonitor::~HealthMonitor() {
    *alive_ = false;
}

void HealthMonitor::start() {
    if (*alive_) return;
    *alive_ = true;
    auto alive = alive_;
    // A bootstrap whose connection drops is probed at once: that is how a crash is seen in
    // seconds rather than at the next interval.
    host_.observe_connections([this, alive](const std::shared_ptr<Connection>& c, bool opened) {
        if (opened || !*alive) return;
        for (auto& w : watched_) {
            if (w->state.health.peer_id == c->peer && !host_.is_connected(c->peer))
                w->wake.notify();
        }
    });
    for (auto& w : watched_) asio::co_spawn(host_.get_executor(), watch(w), asio::detached);
}

void HealthMonitor::stop() {
    *alive_ = false;
    for (auto& w : watched_) w->wake.notify();
}

void HealthMonitor::reconnect_now(const PeerId& peer) {
    for (auto& w : watched_)
        if (w->state.health.peer_id == peer) w->wake.notify();
}

void HealthMonitor::probe_now() {
    for (auto& w : watched_) w->wake.notify();
}

std::vector<MonitoredBootstrap> HealthMonitor::snapshot() const {
    std::vector<MonitoredBootstrap> out;
    for (const auto& w : watched_) out.push_back(w->state);
    return out;
}

HealthState HealthMonitor::node_state() const {
    bool any_probe = false, any_healthy = false, any_reachable = false;
    for (const auto& w : watched_) {
        auto s = w->state.health.state;
        any_probe |= s != HealthState::connecting;
        any_healthy |= s == HealthState::healthy;
        any_reachable |= s == HealthState::healthy || s == HealthState::degraded;
    }
    if (!any_probe) return HealthState::connecting;
    if (any_healthy && dht_.routing_table().size() > 0) return HealthState::healthy;
    if (any_reachable || dht_.routing_table().size() > 0) return HealthState::degraded;
    return HealthState::down;
}

net::awaitable<void> HealthMonitor::watch(std::shared_ptr<Watched> w) {
    auto alive = alive_;
    Backoff backoff(config_.backoff);
    while (*alive && !w->removed) {
        auto previous = w->state.health.state;
        auto failures = w->state.health.consecutive_failures;
        auto probe = co_await probe_bootstrap(host_, dht_, w->state.health.addr, config_.probe);
        if (!*alive || w->removed) co_return;
        ++w->state.probes;
        probe.consecutive_failures = probe.state == HealthState::healthy ? 0 : failures + 1;
        if (!probe.peer_id) probe.peer_id = w->state.health.peer_id;
        w->state.health = probe;

        net::Duration wait = config_.probe_interval;
        if (probe.state == HealthState::healthy) {
            // Back after an outage: the DHT, which left reconnection to us, refreshes its table.
            if (previous != HealthState::healthy && previous != HealthState::connecting)
                dht_.refresh_soon();
            backoff.reset();
            w->state.reconnect = {};
        } else {
            wait = backoff.next();
            w->state.reconnect = {true, backoff.attempt(), std::chrono::system_clock::now() + wait};
        }
        if (probe.state != previous) {
            log().info("event=bootstrap_health addr={} state={} previous={} error=\"{}\"",
                       probe.addr.to_string(), state_name(probe.state), state_name(previous),
                       probe.last_error);
        }
        for (auto& listener : listeners_) listener(w->state, previous);
        co_await w->wake.wait(net::Clock::now() + wait);
    }
}

}  // namespace keel::health
