#pragma once
// Serves /keel/health/1.0.0 from a node's live figures, at most once a second per peer. A request
// may ask for a ping back: the node then opens /ipfs/ping/1.0.0 to the requester on the same
// connection and pings it once (under ping_back_timeout) before it answers.
#include "keel/kad/dht.hpp"

namespace keel::app {

struct HealthServiceConfig {
    net::Duration request_timeout{10'000};      // a silent requester is dropped after this
    net::Duration ping_back_timeout{5'000};     // new stream + one ping round trip
    std::size_t max_ping_backs_in_flight = 32;  // beyond this, ping_back_ok is false
};

void serve_health_protocol(kad::Dht& dht, HealthServiceConfig config = {});

}  // namespace keel::app
