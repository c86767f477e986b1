#pragma once
// The node's local HTTP API: one endpoint per command of the brief (see docs/api.md), live events
// over SSE and Prometheus metrics. Everything answers JSON.
#include "keel/api/event_bus.hpp"
#include "keel/api/http_server.hpp"
#include "keel/health/discovery_verifier.hpp"
#include "keel/health/health_monitor.hpp"
#include "keel/kad/dht.hpp"

namespace keel::app {

struct NodeContext {
    Host& host;
    kad::Dht& dht;
    health::HealthMonitor& monitor;
    api::EventBus& events;
    net::Clock::time_point started = net::Clock::now();
    health::VerifierConfig verifier{};  // bootstrap_peers are filled from the monitor per run
};

// Registers the routes and publishes host/DHT/health changes on the event bus.
void install_node_api(api::HttpServer& server, NodeContext& node);
// Prometheus text exposition format.
std::string render_metrics(NodeContext& node);

}  // namespace keel::app
