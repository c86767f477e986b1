#pragma once
// A bootstrap's own health probe: the same probe a client runs (connect, ping, FIND_NODE,
// /keel/health), from the node's second identity to its own listen address, every probe interval.
// It answers the operator's question "would a client that dials me now get an answer?", which a
// process that is up but whose DHT stopped answering cannot answer from its counters.
#include <memory>
#include <optional>

#include "keel/app/node_api.hpp"

namespace keel::app {

// Where a client on this machine reaches `listen`: a wildcard address becomes loopback.
Multiaddr self_probe_target(const Multiaddr& listen);

// Probes `target` from `observer` every `interval` until `alive` is false or `timer` is
// cancelled; each result goes to node.self_probe and on the event stream as "self_probe".
void probe_self_periodically(NodeContext& node, Host& observer, kad::Dht& observer_dht,
                             Multiaddr target, net::Duration interval,
                             net::asio::steady_timer& timer, std::shared_ptr<bool> alive);

}  // namespace keel::app
