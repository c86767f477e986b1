#pragma once
// The node's local HTTP API: one endpoint per command of the brief (see docs/api.md), live events
// over SSE and Prometheus metrics. Everything answers JSON.
#include "keel/health/discovery_verifier.hpp"
#include "keel/health/health_monitor.hpp"
#include "keel/http/event_bus.hpp"
#include "keel/http/http_server.hpp"
#include "keel/kad/dht.hpp"
#include "keel/relay/relay_client.hpp"
#include "keel/relay/relay_service.hpp"

namespace keel::app {

// A peer run in the same process as this node (`keel up`'s embedded network), so that the page
// can tell the local network apart from peers found on a real one.
struct LocalPeer {
    PeerId peer_id;
    std::string role;  // "bootstrap" | "peer"
    std::string label;  // "local-bootstrap-1", "local-peer", … (the `node` tag of keel up's events)
};

class NodeHistory;

struct NodeContext {
    Host& host;
    kad::Dht& dht;
    health::HealthMonitor& monitor;
    http::EventBus& events;
    net::Clock::time_point started = net::Clock::now();
    health::VerifierConfig verifier{};     // bootstrap_peers are filled from the monitor per run
    std::vector<LocalPeer> local_peers{};  // empty unless keel up runs them
    NodeHistory* history = nullptr;        // GET /api/v1/history answers 404 without one
    bool is_bootstrap = false;
    // A bootstrap's last probe of itself (see self_probe.hpp); none before the first.
    std::optional<health::BootstrapHealth> self_probe{};
    relay::RelayService* relay = nullptr;        // a relay server's figures, when it serves one
    relay::RelayClient* relay_client = nullptr;  // reservations held, when a relay client
};

// Registers the routes and publishes host/DHT/health changes on the event bus.
void install_node_api(http::HttpServer& server, NodeContext& node);
// Prometheus text exposition format.
std::string render_metrics(NodeContext& node);

}  // namespace keel::app
