#pragma once
// /keel/health/1.0.0: how a Keel node sees itself (peers, routing table, records). Other libp2p
// implementations do not speak it; monitors then estimate these figures from a FIND_NODE.
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "keel/crypto/peer_id.hpp"
#include "keel/net/byte_stream.hpp"

namespace keel::protocols {

inline constexpr std::string_view health_protocol_id = "/keel/health/1.0.0";
inline constexpr std::size_t max_health_message = 4096;

struct HealthStats {
    std::uint64_t connected_peers = 0;
    std::uint64_t routing_table_size = 0;
    std::uint64_t provider_records = 0;
    std::uint64_t stored_values = 0;
    std::uint64_t uptime_seconds = 0;
    std::string agent_version;
    bool dht_server = false;
    // Set in an answer to a request that asked for a ping back: whether the node could ping the
    // requester over a stream it opened itself, and the round trip.
    bool ping_back_ok = false;
    std::optional<double> ping_back_ms;
};

// Performs the ping back (opens a ping stream to the requester and pings once, under its own
// deadline) and returns the round trip or why it failed.
using PingBack = std::function<net::awaitable<net::result<net::Clock::duration>>()>;

// Server side: read the request, run `ping_back` first when the request asks for it (without
// one, such a request is answered with ping_back_ok false), answer with `stats`, close.
net::awaitable<net::error_code> serve_health(net::ByteStream& stream, const HealthStats& stats,
                                             PingBack ping_back = {});
// Client side: ask (with `ping_back`, the node pings us back before it answers) and read the
// answer.
net::awaitable<net::result<HealthStats>> request_health(net::ByteStream& stream,
                                                        bool ping_back = false);

// How often one peer may ask another: a node refuses a second request from a peer within this
// interval (PerPeerRateLimiter), and a requester paces itself by it (HealthRequestPacer), so that
// a node's own probes and checks of one peer never run into the limit.
inline constexpr net::Duration health_request_interval{1000};

// The requester's side of health_request_interval: every request this node makes to one peer
// (the health monitor's probes, the discovery verifier's questions) waits its turn, spaced by the
// interval plus a margin for two requests' transit times differing.
class HealthRequestPacer {
  public:
    static constexpr net::Duration spacing = health_request_interval + net::Duration(100);

    // Waits until `peer` may be asked again. The turn is claimed before the wait, so concurrent
    // askers queue up in order.
    net::awaitable<void> turn(PeerId peer);

  private:
    std::map<PeerId, net::Clock::time_point> next_;  // pruned of past turns as it grows
};

// At most one request per peer per `interval`, so that the stats cannot be used to make a node
// spend its time answering. Remembers at most `max_peers` peers.
class PerPeerRateLimiter {
  public:
    explicit PerPeerRateLimiter(net::Duration interval, std::size_t max_peers = 4096)
        : interval_(interval), max_peers_(max_peers) {}
    bool allow(const PeerId& peer, net::Clock::time_point now = net::Clock::now());

  private:
    net::Duration interval_;
    std::size_t max_peers_;
    std::map<PeerId, net::Clock::time_point> last_;
};

}  // namespace keel::protocols
