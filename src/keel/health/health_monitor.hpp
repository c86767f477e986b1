#pragma once
// Watches every configured bootstrap: probes each on an interval (30 s by default) and at once when
// its connection closes; a bootstrap that is not healthy is probed again (which redials it) after
// a jittered exponential backoff, so recovery is automatic and never a retry storm.
#include <functional>
#include <memory>
#include <vector>

#include "keel/health/backoff.hpp"
#include "keel/health/bootstrap_probe.hpp"
#include "keel/net/condition.hpp"

namespace keel::health {

struct MonitorConfig {
    net::Duration probe_interval{30'000};
    ProbeConfig probe;
    BackoffConfig backoff;
};

struct ReconnectStatus {
    bool active = false;  // waiting to redial after a failed probe
    int attempt = 0;
    std::chrono::system_clock::time_point next_attempt{};
};

struct MonitoredBootstrap {
    BootstrapHealth health;
    ReconnectStatus reconnect;
    std::uint64_t probes = 0;  // each one may dial: the count bounds reconnect traffic
};

class HealthMonitor {
  public:
    using Listener = std::function<void(const MonitoredBootstrap& now, HealthState previous)>;

    HealthMonitor(Host& host, kad::Dht& dht, std::vector<Multiaddr> bootstraps,
                  MonitorConfig config = {});
    ~HealthMonitor();

    void start();
    void stop();
    // Probe every bootstrap now instead of at its next turn.
    void probe_now();
    // Probe (and so redial) the bootstrap with this peer ID now: someone that needs a connection
    // to it (the relay client, to reserve) asks the owner of bootstrap reconnection instead of
    // dialing itself. The asker paces its asks.
    void reconnect_now(const PeerId& peer);
    // A new bootstrap list (a config reload): bootstraps no longer listed stop being watched,
    // new ones are watched from now on (at once if started), kept ones keep their state.
    void set_bootstraps(std::vector<Multiaddr> bootstraps);
    std::vector<MonitoredBootstrap> snapshot() const;
    // Paces the probes' /keel/health requests per peer; whoever else asks the same peers from
    // this Host (the discovery verifier) takes turns through it too.
    std::shared_ptr<protocols::HealthRequestPacer> health_requests() const {
        return config_.probe.health_requests;
    }
    // connecting until a first probe; healthy when some bootstrap is healthy and the routing
    // table has peers; degraded when something is reachable; down otherwise.
    HealthState node_state() const;
    void on_change(Listener listener) { listeners_.push_back(std::move(listener)); }

  private:
    struct Watched {
        explicit Watched(net::asio::any_io_executor ex) : wake(ex) {}
        MonitoredBootstrap state;
        net::Condition wake;   // notified to probe now (a lost connection, probe_now, removal)
        bool removed = false;  // dropped from the list: its watch loop ends
    };

    net::awaitable<void> watch(std::shared_ptr<Watched> watched);
    std::shared_ptr<Watched> make_watched(Multiaddr addr);

    Host& host_;
    kad::Dht& dht_;
    MonitorConfig config_;
    std::vector<std::shared_ptr<Watched>> watched_;
    std::vector<Listener> listeners_;
    std::shared_ptr<bool> alive_;
};

}  // namespace keel::health
