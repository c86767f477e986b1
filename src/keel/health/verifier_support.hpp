#pragma once
// What the discovery verifier's steps share (internal to keel/health): asking many peers at once,
// pinging and asking a peer for its figures, and the wording of a step's outcome.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "keel/health/discovery_verifier.hpp"
#include "keel/kad/dht.hpp"
#include "keel/protocols/keel_health.hpp"

namespace keel::health::verifier {

using Outcome = DiscoveryVerifier::Outcome;

double ms_between(net::Clock::time_point from, net::Clock::time_point to);
std::string format_ms(double ms);
std::string format_ms(net::Clock::duration d);
std::string plural(std::size_t n, std::string_view one, std::string_view many);
// The first `shown` short IDs, then "…" when there are more.
std::string short_list(const std::vector<PeerId>& peers, std::size_t shown);

Outcome pass(std::string detail);
Outcome fail(std::string detail, std::string_view remedy);
Outcome not_enough_peers(std::string detail, std::string_view remedy);

inline constexpr std::string_view no_peers_remedy =
    "No peers known at all: check that a bootstrap is reachable (keel health ADDR) and that its "
    "address ends in the right /p2p/ID";

// Sees each answer (or failure) as it arrives; true stops the wait.
using OnAnswer = std::function<bool(const PeerId&, const net::result<kad::KadMessage>&)>;

// Sends `message` to every peer in parallel (each request bounded by the DHT's rpc_timeout) and
// returns once all answered or failed, or `on_answer` asked to stop.
net::awaitable<void> ask_peers(kad::Dht& dht, std::vector<PeerId> peers, kad::KadMessage message,
                               OnAnswer on_answer);
// ask_peers, but returns by `limit` with the answers so far: one silent peer must not take the
// whole step's deadline when the others have answered.
net::awaitable<bool> ask_peers_within(kad::Dht& dht, std::vector<PeerId> peers,
                                      kad::KadMessage message, OnAnswer on_answer,
                                      net::Duration limit);
// The k closest peers to `key` that answered a lookup, then the routing table's closest (in
// case the lookup found fewer); never ourselves.
net::awaitable<std::vector<PeerId>> closest_peers(kad::Dht& dht, Bytes key);

struct PingOutcome {
    std::shared_ptr<Connection> connection;
    net::Clock::duration rtt{};
};
net::awaitable<net::result<PingOutcome>> ping_peer(Host& host, PeerId peer);
// A peer's own figures over /keel/health (no ping back), asked in our turn.
net::awaitable<net::result<protocols::HealthStats>> ask_stats(
    Host& host, std::shared_ptr<protocols::HealthRequestPacer> pacer, PeerId peer);
bool speaks_health(Host& host, const PeerId& peer);
// Asks the peer over /keel/health to ping us back on a stream it opens itself, in our turn.
net::awaitable<net::result<protocols::HealthStats>> ask_ping_back(
    Host& host, std::shared_ptr<protocols::HealthRequestPacer> pacer,
    std::shared_ptr<Connection> conn);

}  // namespace keel::health::verifier
