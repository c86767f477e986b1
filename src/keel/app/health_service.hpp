#pragma once
// Serves /keel/health/1.0.0 from a node's live figures, at most once a second per peer.
#include "keel/kad/dht.hpp"

namespace keel::app {

void serve_health_protocol(kad::Dht& dht);

}  // namespace keel::app
