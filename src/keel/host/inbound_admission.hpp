#pragma once
// Which inbound connections a host lets in. Global caps (open connections, handshakes in progress)
// keep the host within its means; per-address ones (handshakes and connections per host,
// connections per network, new connections per second per host) keep one host, or one network,
// from taking all of it. A host is an IPv4 address or an IPv6 /56, a network an IPv4 /24 or an
// IPv6 /48 (host/address_groups.hpp). A bootstrap is public: these are what make that safe.
//
// Handshakes in progress are shared fairly when they run out: a newcomer that every other limit
// lets in, arriving while all max_pending places are taken, ends the oldest handshake of the
// network holding the most places (an IPv4 /24 or an IPv6 /48), if that network holds at least
// two more than the newcomer's. A few networks that open connections and send nothing then hold
// places only until someone else arrives; before, 8 addresses of one /24 held all 256 for the
// whole handshake deadline, again and again.
//
// An admitted connection is pending (in its upgrade) until the Host reports upgraded() or
// upgrade_failed(); an upgraded one counts until closed(). No I/O and no clock of its own: the
// caller passes the time, so the token buckets are testable without sleeping.
#include <array>
#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string_view>

#include <boost/asio/ip/address.hpp>

#include "keel/host/address_groups.hpp"
#include "keel/net/asio.hpp"

namespace keel {

// The limits, with "no limit" as defaults; HostConfig holds the defaults a node runs with.
struct AdmissionLimits {
    std::size_t max_connections = std::numeric_limits<std::size_t>::max();  // open, both directions
    std::size_t max_pending = std::numeric_limits<std::size_t>::max();  // inbound, in their upgrade
    std::size_t max_pending_per_ip = 0;      // of those, from one host (0: no cap)
    std::size_t max_connections_per_ip = 0;  // inbound, pending + upgraded, one host (0: no cap)
    std::size_t max_connections_per_subnet = 0;  // the same from one network (0: no cap)
    double rate_per_ip = 0;        // new inbound connections per second per host (0: no limit) ...
    std::size_t burst_per_ip = 1;  // ... and at most this many at once (the bucket's size)
    // Loopback peers (127.0.0.0/8, ::1) skip every per-address limit: they are local processes
    // (`keel up`'s bootstraps, `keel load`, tests), not the public. The global caps still apply.
    bool exempt_loopback = true;
};

// Why a connection was refused: the first limit it hit, checked in this order but `pending` last
// (making room there ends someone's handshake: only for a connection let in otherwise).
enum class Refusal { connections, pending, pending_per_ip, per_ip, per_subnet, rate_per_ip };
inline constexpr std::array all_refusals{Refusal::connections,    Refusal::pending,
                                         Refusal::pending_per_ip, Refusal::per_ip,
                                         Refusal::per_subnet,     Refusal::rate_per_ip};
// "connections", "pending", "pending_per_ip", "per_ip", "per_subnet", "rate_per_ip".
std::string_view refusal_name(Refusal reason);

class InboundAdmission {
  public:
    using Address = IpAddress;

    // Ends the oldest handshake in progress from `network` (see network_of) and
    // returns its address, whose place is then free (that connection's upgrade_failed() or
    // upgraded() must not follow); nullopt if there is none to end.
    using EvictOldest = std::function<std::optional<Address>(const Address& network)>;

    explicit InboundAdmission(AdmissionLimits limits);

    // Decides on a new inbound connection from `from` at `now`, with `open_connections` already
    // open. Admitted (nullopt): it is pending from now on. Refused: nothing is recorded. Without
    // `evict_oldest`, a full set of handshakes refuses every newcomer.
    std::optional<Refusal> admit(const Address& from, net::Clock::time_point now,
                                 std::size_t open_connections,
                                 const EvictOldest& evict_oldest = {});
    // The admitted connection from `from` finished its upgrade: pending → connected.
    void upgraded(const Address& from);
    // It did not (failed, timed out, or the host stopped): no longer pending.
    void upgrade_failed(const Address& from);
    // An upgraded connection from `from` closed.
    void closed(const Address& from);

    const AdmissionLimits& limits() const { return limits_; }
    std::size_t pending() const { return pending_; }
    std::size_t pending_from(const Address& from) const;             // from its host
    std::size_t connections_from(const Address& from) const;         // pending + upgraded, its host
    std::size_t connections_from_subnet(const Address& from) const;  // its network
    // Entries held: bounded by the connections counted plus the addresses whose token bucket is
    // still refilling (see prune()).
    std::size_t tracked_addresses() const { return by_host_.size(); }
    std::size_t tracked_subnets() const { return by_network_.size(); }
    // Handshakes in progress from the network of `from`, every address counted.
    std::size_t pending_from_network(const Address& from) const;
    std::size_t handshake_networks() const { return pending_by_network_.size(); }

  private:
    struct PerIp {
        std::size_t pending = 0;
        std::size_t upgraded = 0;
        // The token bucket (rate_per_ip > 0), kept as the time it is full again: at `now` it holds
        // burst − (full_at − now) · rate tokens. One time point, exact, no floating drift.
        net::Clock::time_point full_at{};
    };

    // Whether `address` (canonical) is counted and limited per address at all.
    bool per_address(const Address& address) const;
    bool idle(const PerIp& entry, net::Clock::time_point now) const;
    // One fewer connection from `address` (canonical): `pending` or upgraded.
    void release(const Address& address, bool pending);
    // A handshake from `from` (canonical) ended: its global and its network's place are free.
    void handshake_ended(const Address& from);
    // All places taken: frees one from the most crowded network if it is fairer (see the top).
    bool make_room(const Address& from, const EvictOldest& evict_oldest);
    // Drops the entries that hold nothing: no connection, and a bucket full again (a fresh entry
    // starts full, so forgetting it changes no decision). Keeps memory bounded when the sources are
    // many and each is seen once (an IPv6 /48, a botnet): entries live only while they count.
    void prune(net::Clock::time_point now);

    AdmissionLimits limits_;
    bool tracks_addresses_;
    net::Clock::duration token_interval_{};  // one token per this (1 / rate_per_ip)
    net::Clock::duration burst_span_{};      // (burst_per_ip − 1) tokens' worth
    std::size_t pending_ = 0;
    // Ordered maps, not hashed: the keys are chosen by remote hosts.
    std::map<Address, PerIp> by_host_;
    std::map<Address, std::size_t> by_network_;  // pending + upgraded
    // Handshakes in progress per network, every address (loopback too: the global cap applies to
    // it) and with no per-address limit set.
    std::map<Address, std::size_t> pending_by_network_;
    net::Clock::time_point last_prune_{};
};

}  // namespace keel
