#pragma once
// One running Keel node, wired from NodeSettings: identity and SQLite state in its data
// directory, the Host and its listeners, the DHT, the /keel/health protocol, the bootstrap
// monitor, the HTTP API. `keel node`, `keel bootstrap` and each of the nodes `keel up` runs in one
// process are a NodeRuntime. It reports what happens as JSON events to a sink (the CLI prints
// them with --json); the library itself prints nothing.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "keel/app/dht_persistence.hpp"
#include "keel/app/node_api.hpp"
#include "keel/app/node_settings.hpp"

namespace keel::app {

class NodeRuntime {
  public:
    using EventSink = std::function<void(const nlohmann::json&)>;

    // Loads or creates the identity and opens the store in settings.data_dir (which must be set).
    // Throws ConfigError on a startup mistake (bad address, unreadable key, unusable store).
    NodeRuntime(net::asio::any_io_executor executor, NodeSettings settings, NodeRole role,
                EventSink sink = {});
    ~NodeRuntime();
    NodeRuntime(const NodeRuntime&) = delete;
    NodeRuntime& operator=(const NodeRuntime&) = delete;

    // Listens (and writes DATA_DIR/listen-addr), serves the API, emits "listening". Throws
    // ConfigError if an address cannot be used.
    void start();
    // Dials the bootstrap list (staggered; emits "bootstrap_connected" or "bootstrap_failed"),
    // joins the DHT (emits "bootstrapped") and starts the health monitor. No-op without a list.
    void join();
    // A reloaded configuration (SIGHUP): a changed bootstrap list is applied at once (the monitor
    // watches the new list and the DHT joins through it); returns a summary of what was applied.
    // Other settings take effect at the next start. Throws ConfigError on a bad bootstrap list.
    std::string reload(const NodeSettings& fresh);
    // Stops accepting work and closes connections (each says GoAway).
    void stop();
    // Returns once no connection is left (true) or at the deadline (false).
    net::awaitable<bool> wait_idle(net::Clock::time_point deadline);
    // Writes pending state; call after the executor has stopped.
    void flush();

    // Peers run in this process (keel up's local network), shown as such by the API and the page.
    void set_local_peers(std::vector<LocalPeer> peers);

    Host& host();
    kad::Dht& dht();
    health::HealthMonitor& monitor();
    const NodeSettings& settings() const { return settings_; }
    NodeRole role() const { return role_; }
    // Full listen addresses, each ending in /p2p/ID.
    const std::vector<Multiaddr>& listen_addrs() const { return listen_addrs_; }
    const std::string& api_url() const { return api_url_; }  // empty when the API is off
    const RestoredState& restored() const { return restored_; }

  private:
    struct Parts;
    void emit(const nlohmann::json& event) const;
    // DATA_DIR/listen-addr: the full listen addresses, one per line.
    void release_memory_periodically();
    void write_listen_file() const;

    NodeSettings settings_;
    NodeRole role_;
    EventSink sink_;
    std::vector<Multiaddr> bootstrap_;
    std::vector<Multiaddr> listen_addrs_;
    std::string api_url_;
    RestoredState restored_;
    bool joined_ = false;
    std::unique_ptr<Parts> parts_;
};

}  // namespace keel::app
