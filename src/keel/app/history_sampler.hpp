#pragma once
// Feeds a NodeHistory: every step a point (node state, connections, routing table, RSS, the
// bootstrap-side counters, each bootstrap's last probe), published on the event stream as
// "history"; and a mark whenever a bootstrap changes state.
#include <memory>

#include "keel/app/node_api.hpp"
#include "keel/app/node_history.hpp"

namespace keel::app {

// The point that describes the node now.
HistoryPoint sample_node(NodeContext& node, NodeHistory& history);
// Samples every history.limits().step until `alive` is false or `timer` is cancelled; marks
// state changes from the monitor from now on.
void sample_history_periodically(NodeContext& node, NodeHistory& history,
                                 net::asio::steady_timer& timer, std::shared_ptr<bool> alive);

}  // namespace keel::app
