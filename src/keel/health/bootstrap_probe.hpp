#pragma once
// A functional probe of one bootstrap: connect (every phase under its deadline), ping, a FIND_NODE
// round trip, and the bootstrap's own figures over /keel/health/1.0.0 when it is a Keel node.
#include "keel/health/bootstrap_health.hpp"
#include "keel/host/host.hpp"
#include "keel/kad/dht.hpp"
#include "keel/protocols/keel_health.hpp"

namespace keel::health {

struct ProbeConfig {
    net::Duration timeout{10'000};  // for ping, FIND_NODE and health each; dials use the Host's
    HealthThresholds thresholds;
    // Paces /keel/health requests per peer (see VerifierConfig::health_requests). Null: unpaced.
    std::shared_ptr<protocols::HealthRequestPacer> health_requests;
};

net::awaitable<BootstrapHealth> probe_bootstrap(Host& host, kad::Dht& dht, Multiaddr addr,
                                                ProbeConfig config);

}  // namespace keel::health
