#pragma once
// The libp2p host: listens and dials over TCP, upgrades every connection (Noise + Yamux), runs
// identify on it, and routes inbound streams to protocol handlers by multistream-select.
//
// Threading: a Host and everything it owns run on one executor; run its io_context from one
// thread. Every coroutine it starts captures `this`, so destroy the Host only after its
// io_context has stopped running (call stop() first to let connections close cleanly).
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "keel/base/enum_counts.hpp"
#include "keel/crypto/ed25519.hpp"
#include "keel/host/connection.hpp"
#include "keel/host/dial_backoff.hpp"
#include "keel/host/failure.hpp"
#include "keel/host/inbound_admission.hpp"
#include "keel/host/peer_store.hpp"
#include "keel/host/upgrader.hpp"
#include "keel/net/tcp_stream.hpp"
#include "keel/net/yamux_stream.hpp"

namespace keel {

namespace detail {
struct PendingDial;
using PendingDials = std::multimap<PeerId, std::shared_ptr<PendingDial>>;
}  // namespace detail

struct HostConfig {
    explicit HostConfig(Ed25519KeyPair key) : identity(std::move(key)) {}

    Ed25519KeyPair identity;
    std::string agent_version = std::string("keel/") + KEEL_VERSION;
    std::string protocol_version = "ipfs/0.1.0";
    bool inline_muxer = true;
    net::Duration dial_timeout{10000};       // TCP connect (and DNS)
    net::Duration handshake_timeout{10000};  // security + muxer negotiation
    net::Duration identify_timeout{10000};
    net::Duration negotiate_timeout{10000};    // multistream-select on a new stream
    net::Duration stream_idle_timeout{60000};  // built-in handlers drop silent streams
    // After a failed dial, background dialers (the DHT's lookups, refreshes and stores) leave the
    // peer alone for `initial`, doubling per failure up to `max`: a dead peer costs a lookup
    // nothing, and refreshes add no dials to a bootstrap the health monitor is already
    // redialling on its own backoff. An open connection (made by anyone) always gets used.
    DialBackoffConfig dial_backoff;
    net::YamuxConfig yamux;
    // Received and unread bytes over all connections (Yamux receive buffers): past it, new
    // streams are refused and data that would go over resets its stream: what all peers
    // together can make us hold in receive buffers.
    std::size_t max_buffered_bytes = 64 * 1024 * 1024;
    // Inbound limits (see InboundAdmission); going over one refuses the connection at accept.
    std::size_t max_connections = 4096;
    std::size_t max_pending_inbound = 256;  // connections still in their upgrade
    // "Per IP" below is per host: an IPv4 address or an IPv6 /56 (a subscriber's usual prefix).
    std::size_t max_pending_inbound_per_ip = 32;  // of those, from one host (0: no cap)
    // Inbound connections, in their upgrade or upgraded, from one host (0: no cap): a NAT or a
    // CGNAT address stands for many users, so well above a single client's needs.
    std::size_t max_connections_per_ip = 64;
    std::size_t max_connections_per_subnet = 256;  // the same from one IPv4 /24 or IPv6 /48
    double inbound_rate_per_ip = 10;  // new inbound connections per second per host (0: no limit)
    std::size_t inbound_burst_per_ip = 40;  // ... of which this many at once
    // Loopback peers (127.0.0.0/8, ::1) are exempt from the per-address limits above: local
    // processes (`keel up`'s bootstraps, `keel load`, tests). The global caps still apply.
    bool limits_exempt_loopback = true;
    std::size_t max_known_peers = 50'000;  // peer store size; the least recently seen go first
    // forget_stale_peers() drops the peers unpinned (not connected, in no routing table) for this.
    net::Duration forget_peers_after{120'000};
    // Connection manager: past `trim_high_water` open connections (0: 90 % of max_connections),
    // inbound connections with no open stream and nothing received for `trim_idle` are closed,
    // the longest idle first, down to 80 % of the high-water mark. A client using the bootstrap
    // (a stream open, or traffic within trim_idle) is never trimmed; so that one host cannot
    // lock everyone out with idle connections.
    std::size_t trim_high_water = 0;
    net::Duration trim_idle{30'000};
    // Outbound: the local address a dial's socket is bound to (its port is still chosen at
    // connect), e.g. `keel load` spreading its connections over 127.0.0.0/8. Unset, or nullopt
    // for an endpoint: the kernel chooses.
    std::function<std::optional<net::asio::ip::address>(const net::asio::ip::tcp::endpoint&)>
        dial_source;
    // The addresses others reach us at (a public bootstrap behind a port forward, a DNS name):
    // identify's listenAddrs and a relay reservation's addresses. Empty: the listen addresses.
    std::vector<Multiaddr> announce_addrs;
};

struct HostStats {
    std::uint64_t inbound_accepted = 0;
    std::uint64_t inbound_refused = 0;                                   // by any limit
    EnumCounts<Refusal, all_refusals.size()> inbound_refused_by_reason;  // by the limit
    std::uint64_t upgrades_ok = 0;
    std::uint64_t upgrade_failures = 0;
    // Inbound handshakes ended to make room for a connection from a less crowded network.
    std::uint64_t handshakes_evicted = 0;
    std::uint64_t dial_failures = 0;
    EnumCounts<Phase, all_phases.size()> dial_failures_by_phase;
    std::uint64_t streams_refused = 0;      // protocol negotiation failed or no handler
    std::uint64_t trimmed = 0;              // idle inbound connections closed by the manager
    std::uint64_t unidentified_closed = 0;  // inbound connections whose identify failed
};

class Host {
  public:
    // Reaches a /p2p-circuit address (relay/relay_client.hpp plugs in here).
    using CircuitDialer =
        std::function<net::awaitable<HostResult<std::shared_ptr<Connection>>>(Multiaddr)>;
    using StreamHandler = std::function<net::awaitable<void>(std::shared_ptr<net::YamuxStream>,
                                                             std::shared_ptr<Connection>)>;
    using ConnectionObserver = std::function<void(const std::shared_ptr<Connection>&, bool opened)>;

    Host(net::asio::any_io_executor executor, HostConfig config);
    ~Host();
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    const PeerId& peer_id() const { return peer_id_; }
    const HostConfig& config() const { return config_; }
    net::asio::any_io_executor get_executor() const { return executor_; }

    // Binds a TCP listener; returns the bound address (port 0 becomes the real port).
    net::result<Multiaddr> listen(const Multiaddr& addr);
    std::vector<Multiaddr> listen_addrs() const { return listen_addrs_; }
    // Where others can dial us, without /p2p: the announce addresses if set, else the listen
    // addresses with a wildcard one (0.0.0.0, ::) replaced by this machine's interface addresses.
    std::vector<Multiaddr> public_addrs() const;
    // One of public_addrs() is public (is_public_address): peers on the internet can dial us.
    bool has_public_address() const;

    void set_handler(std::string protocol, StreamHandler handler);
    void remove_handler(std::string_view protocol);
    std::vector<std::string> protocols() const;

    // Reuses an open connection to the /p2p peer in `addr` when there is one, and joins a dial of
    // that peer at the same address already in progress instead of dialing again.
    net::awaitable<HostResult<std::shared_ptr<Connection>>> connect(const Multiaddr& addr);
    // Always a new connection. `addr` may end in /p2p/ID: reaching another peer is an error.
    net::awaitable<HostResult<std::shared_ptr<Connection>>> dial(const Multiaddr& addr);
    // An open connection to `peer`, or a dial of its addresses (the given ones, else those in the
    // peer store) one after another until one works. While another connect_peer to `peer` is in
    // progress, waits for its result instead; while a connect() to one of its addresses is, waits
    // for that first.
    net::awaitable<HostResult<std::shared_ptr<Connection>>> connect_peer(
        const PeerId& peer, std::vector<Multiaddr> addrs = {});
    net::awaitable<HostResult<void>> wait_identified(std::shared_ptr<Connection> connection);
    // Failed dials since the last connection to each peer: lets background dialers (the DHT)
    // stay off a peer someone just failed to reach. Host::dial reports its failures itself;
    // note_failed_dial is for a dial a caller's own deadline cut short (the Host sees only a
    // cancellation) and for a peer with no address to dial.
    const DialBackoff& dial_backoff() const { return dial_backoff_; }
    void note_failed_dial(const PeerId& peer) { dial_backoff_.failed(peer); }
    net::awaitable<HostResult<std::shared_ptr<net::YamuxStream>>> new_stream(
        std::shared_ptr<Connection> connection, std::vector<std::string> protocols);

    // Another transport's byte stream (a relayed circuit): upgraded (Noise, Yamux) under the
    // handshake deadline and registered like a TCP connection, marked `limited`.
    net::awaitable<HostResult<std::shared_ptr<Connection>>> adopt_connection(
        std::unique_ptr<net::ByteStream> raw, Direction direction, Multiaddr remote,
        std::optional<PeerId> expected_peer);
    void set_circuit_dialer(CircuitDialer dialer) { circuit_dialer_ = std::move(dialer); }
    // Our /p2p-circuit addresses (relay reservations held): announced next to the others, and
    // pushed to connected peers (identify push) when they change.
    void set_relayed_addrs(std::vector<Multiaddr> addrs);
    const std::vector<Multiaddr>& relayed_addrs() const { return relayed_addrs_; }
    // What we tell peers to dial (identify, provider records): public_addrs() (a wildcard listen
    // address expanded), then the relayed ones.
    std::vector<Multiaddr> advertised_addrs() const;

    // Forgets the peers that have been disconnected (and in no routing table) for
    // HostConfig::forget_peers_after; returns how many. The owner calls it now and then.
    std::size_t forget_stale_peers();

    std::vector<std::shared_ptr<Connection>> connections() const;
    // Open connections to `peer`: a lookup, not a scan (a DHT answer asks for each of its 20
    // peers, and a bootstrap holds thousands of connections).
    std::vector<std::shared_ptr<Connection>> connections_to(const PeerId& peer) const;
    bool is_connected(const PeerId& peer) const;
    PeerStore& peer_store() { return peer_store_; }
    const HostStats& stats() const { return stats_; }
    void observe_connections(ConnectionObserver observer);
    // Called once identify of a connection succeeded (the peer store has the peer's protocols).
    void observe_identified(std::function<void(const std::shared_ptr<Connection>&)> observer);
    // The connection manager never trims a connection for which `keep` answers true, asked at each
    // trim: a relay keeps a reserving peer's connections exactly as long as the reservation lasts.
    void keep_from_trim(std::function<bool(const Connection&)> keep);

    // Stops listening and closes every connection (Yamux GoAway).
    void stop();

  private:
    // Dials `addr` (ending in /p2p/`peer`) unless an open connection or a dial of the same address
    // already in progress gives the answer.
    net::awaitable<HostResult<std::shared_ptr<Connection>>> dial_shared(Multiaddr addr,
                                                                        PeerId peer);
    // Waits (until `deadline`) for a dial in progress: its connection or failure, or nullopt when
    // it was abandoned (its caller gave up) or its connection is already closed.
    net::awaitable<std::optional<HostResult<std::shared_ptr<Connection>>>> join_dial(
        std::shared_ptr<detail::PendingDial> dial, net::Clock::time_point deadline);
    // The dial of `peer` in progress at `addr` (any address: connect_peer's first).
    std::shared_ptr<detail::PendingDial> find_dial(const PeerId& peer, const Multiaddr* addr) const;
    net::Clock::time_point join_deadline() const;

    net::awaitable<void> accept_loop(std::shared_ptr<net::asio::ip::tcp::acceptor> acceptor);
    // `peer`: the remote endpoint accept_loop already asked the kernel for (one getpeername);
    // `handshake`: the connection's entry in handshakes_.
    net::awaitable<void> handle_inbound(std::unique_ptr<net::TcpStream> transport,
                                        net::asio::ip::tcp::endpoint peer, std::uint64_t handshake);
    // InboundAdmission::EvictOldest: resets the oldest handshake from `network` (see handshakes_).
    std::optional<net::asio::ip::address> evict_oldest_handshake(
        const net::asio::ip::address& network);
    // The connection manager's trim (see HostConfig::trim_high_water).
    void trim_idle_connections();
    void forget_connection_of_peer(const Connection& closed);
    // `admitted_from`: an inbound connection's address, released in admission_ once it closes.
    std::shared_ptr<Connection> add_connection(
        Upgraded upgraded, Direction direction, Multiaddr remote, Multiaddr local,
        std::optional<net::asio::ip::address> admitted_from = std::nullopt);
    net::awaitable<void> identify_remote(std::shared_ptr<Connection> connection);
    net::awaitable<void> handle_stream(std::shared_ptr<net::YamuxStream> stream,
                                       std::weak_ptr<Connection> connection);
    // Our identify record for `connection`: the shared part (identify_info, encoded once and
    // kept until push_identify() or the interface addresses' few seconds) and its observed address.
    Bytes identify_record(const Connection& connection) const;
    protocols::IdentifyInfo identify_info() const;
    void push_identify();
    void register_builtin_handlers();

    net::asio::any_io_executor executor_;
    HostConfig config_;
    PeerId peer_id_;
    UpgradeConfig upgrade_config_;
    std::map<std::string, StreamHandler, std::less<>> handlers_;
    std::vector<std::shared_ptr<net::asio::ip::tcp::acceptor>> acceptors_;
    std::vector<Multiaddr> listen_addrs_;
    // public_addrs() of a wildcard listener reads the interfaces (a netlink round trip); identify
    // asks for it on every connection, so the answer is kept for a few seconds.
    mutable std::vector<Multiaddr> public_addrs_;
    mutable net::Clock::time_point public_addrs_until_{};
    mutable Bytes identify_record_;  // empty: to be encoded again
    mutable net::Clock::time_point identify_record_until_{};
    std::map<std::uint64_t, std::shared_ptr<Connection>> connections_;
    // The same connections by peer (most peers have one).
    std::unordered_map<PeerId, std::vector<std::shared_ptr<Connection>>> connections_by_peer_;
    std::uint64_t next_connection_id_ = 1;
    InboundAdmission admission_;
    // Inbound connections in their upgrade, by id, oldest first: the ones admission may end to make
    // room. An entry lives exactly as long as its handle_inbound is in the upgrade, so `transport`
    // (owned by the upgrade until then) is alive while the entry is; `evicted` tells the handler
    // that its admission place was already given back.
    struct InboundHandshake {
        net::asio::ip::address from;
        net::TcpStream* transport = nullptr;
        bool evicted = false;
    };
    std::map<std::uint64_t, InboundHandshake> handshakes_;
    std::uint64_t next_handshake_id_ = 1;
    std::vector<ConnectionObserver> observers_;
    std::vector<std::function<void(const std::shared_ptr<Connection>&)>> identified_observers_;
    std::vector<std::function<bool(const Connection&)>> trim_keepers_;
    PeerStore peer_store_;
    // Dials in progress to known peers. Shared with the dials, which unregister themselves even if
    // their frame outlives the Host.
    std::shared_ptr<detail::PendingDials> dialing_ = std::make_shared<detail::PendingDials>();
    DialBackoff dial_backoff_;
    HostStats stats_;
    CircuitDialer circuit_dialer_;
    std::vector<Multiaddr> relayed_addrs_;
    bool stopped_ = false;
};

}  // namespace keel
