#pragma once
// A Circuit Relay v2 server (libp2p/specs relay/circuit-v2.md, the HOP side): peers behind NAT
// reserve a slot on us and are then reachable at <our address>/p2p/<us>/p2p-circuit/p2p/<them>;
// another peer's CONNECT becomes a STOP stream to the reserved peer, and the two streams are
// joined, within the configured bytes and time, into a relayed connection between them.
//
// Lifetime: as the Host's (one executor; destroy after its io_context has stopped).
#include <map>
#include <memory>
#include <string>

#include "keel/base/enum_counts.hpp"
#include "keel/host/host.hpp"
#include "keel/net/stream_pipe.hpp"
#include "keel/relay/relay_config.hpp"
#include "keel/relay/reservations.hpp"

namespace keel::pb {
class HopMessage;
}

namespace keel::relay {

struct RelayStats {
    std::uint64_t reservations_granted = 0;  // new and refreshed
    std::uint64_t circuits_opened = 0;
    std::uint64_t bytes_relayed = 0;  // both directions, circuits that ended
    EnumCounts<Refusal, std::size(all_refusals)> refused_by_reason;
    // How circuits ended: closed (by a peer), or cut at a limit (idle, duration, bytes).
    EnumCounts<net::PipeEnd, std::size(net::all_pipe_ends)> circuits_ended_by;
};

class RelayService {
  public:
    // `signer` signs reservation vouchers: the Host's identity.
    RelayService(Host& host, RelayConfig config);
    ~RelayService();
    RelayService(const RelayService&) = delete;
    RelayService& operator=(const RelayService&) = delete;

    void start();  // serves HOP
    void stop();   // stops serving; open circuits end with their connections

    const RelayConfig& config() const { return config_; }
    const RelayStats& stats() const { return stats_; }
    std::size_t reservations() const { return table_.size(); }
    std::size_t circuits() const { return table_.circuits(); }

  private:
    net::awaitable<void> serve_hop(std::shared_ptr<net::YamuxStream> stream,
                                   std::shared_ptr<Connection> connection);
    net::awaitable<void> reserve(net::YamuxStream& stream, const Connection& connection);
    net::awaitable<void> connect(std::shared_ptr<net::YamuxStream> stream,
                                 std::shared_ptr<Connection> connection,
                                 const pb::HopMessage& request);
    net::awaitable<void> refuse(net::YamuxStream& stream, Refusal why, int status,
                                const Connection& connection);

    Host& host_;
    RelayConfig config_;
    Reservations table_;
    RelayStats stats_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    bool serving_ = false;
};

}  // namespace keel::relay
