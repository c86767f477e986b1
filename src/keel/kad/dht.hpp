#pragma once
// The Kademlia DHT on top of a Host: server RPC handlers (in server mode), iterative lookups,
// provider records and values, bootstrap and periodic refresh. Runs on the Host's executor.
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "keel/host/host.hpp"
#include "keel/kad/kad_message.hpp"
#include "keel/kad/lookup.hpp"
#include "keel/kad/network_profile.hpp"
#include "keel/kad/provider_store.hpp"
#include "keel/kad/record_validator.hpp"
#include "keel/kad/routing_table.hpp"
#include "keel/kad/rpc_counts.hpp"
#include "keel/net/rate_limiter.hpp"
#include "keel/net/signal.hpp"

namespace keel::kad {

struct DhtConfig {
    NetworkProfile profile = *network_profile("ipfs");
    bool server_mode = false;
    // What FIND_NODE and GET_PROVIDERS answers give of other peers' addresses: all of them, or
    // (a public bootstrap) only public and /p2p-circuit ones, since a private or loopback address
    // of someone else's LAN is useless to the asker and tells strangers about that LAN.
    bool share_private_addrs = true;
    std::size_t k = 20;
    std::size_t alpha = 3;                    // parallel requests per lookup (spec, js)
    net::Duration rpc_timeout{10'000};        // one request, dial included
    net::Duration lookup_timeout{60'000};     // a whole iterative lookup
    net::Duration refresh_interval{600'000};  // spec: 10 min
    std::size_t refresh_threshold = 4;        // below this many peers, refresh at once
    net::Duration bootstrap_stagger{250};     // between parallel bootstrap dials
    std::size_t max_rpcs_per_stream = 64;
    net::Duration stream_idle_timeout{60'000};
    // Values stored for others (PUT_VALUE): at most this many, and this many bytes of keys and
    // values together; past either, new keys are refused (held values were acknowledged).
    std::size_t max_records = 100'000;
    std::size_t max_record_bytes = 32 * 1024 * 1024;
    // A store (ADD_PROVIDER, PUT_VALUE) is answered only once durable; a write that takes longer
    // than this is not acknowledged (the stream is reset).
    net::Duration durable_timeout{5000};
    // Stores accepted per second (and at once) from one peer and from one IP address. A peer ID
    // is free to make, an address is not; loopback skips the per-address one when
    // store_limits_exempt_loopback (as the Host's admission limits do).
    double store_rate_per_peer = 200;
    std::size_t store_burst_per_peer = 2000;
    double store_rate_per_ip = 100;
    std::size_t store_burst_per_ip = 1000;
    bool store_limits_exempt_loopback = true;
    RoutingTableConfig table;
    ProviderStoreLimits provider_limits;
};

// Counters for /metrics and health: requests we served and sent, by type and outcome.
struct DhtStats {
    RpcCounts served;
    RpcCounts sent;
    std::uint64_t lookups = 0;
    std::uint64_t lookup_failures = 0;
    std::uint64_t inbound_streams = 0;  // Kademlia streams peers opened to us (go reuses one)
    // Pings of a full bucket's least recently seen member, to make room for a newcomer.
    std::uint64_t stale_checks = 0;
};

// Stored events the persistence layer subscribes to. `ack` (when given) may be called on any
// thread, once the record is durable (true) or failed to persist (false).
struct DhtPersistence {
    using Ack = std::function<void(bool durable)>;
    std::function<void(const Bytes& key, const ProviderEntry&, Ack ack)> provider_added;
    std::function<void(const Record&, Ack ack)> record_stored;
    std::function<void(const PeerId&, bool in_table)> routing_changed;
};

class Dht {
  public:
    Dht(Host& host, DhtConfig config);
    ~Dht();

    // Registers the server handler (server mode) and starts watching identify and the refresh loop.
    void start();
    void stop();

    // Dials `peers` (each ending in /p2p/ID) staggered in parallel; once the first answers, looks
    // ourselves up. Returns 1 if a bootstrap was reached, else 0.
    net::awaitable<std::size_t> bootstrap(std::vector<Multiaddr> peers);
    // Who reconnects to the bootstraps when the routing table empties: by default the DHT's
    // refresh dials them again (a short-lived client has no one else). A HealthMonitor takes
    // this over (it redials on its own backoff and calls refresh_soon() once one is back), so
    // that one component alone decides when a bootstrap is dialed again.
    void leave_bootstrap_reconnection_to_monitor() { bootstrap_redials_ = false; }
    // Runs a refresh at the refresh loop's next look (within a few seconds): a bootstrap is back.
    void refresh_soon();
    net::awaitable<LookupResult> get_closest_peers(Bytes key);
    net::awaitable<net::result<std::vector<Multiaddr>>> find_peer(PeerId peer);
    // Announces us as a provider of `key` to the k closest peers, all at once under one
    // rpc_timeout. ADD_PROVIDER has no response, so each announcement is followed by a PING on the
    // same stream: a Keel server answers it only once the provider record is durable, which makes
    // the answer an acknowledgement.
    struct ProvideResult {
        std::size_t sent = 0;
        std::size_t acknowledged = 0;
    };
    net::awaitable<net::result<ProvideResult>> provide(Bytes key);
    // Providers of `key` until `count` are found or the lookup ends; `on_found` sees each one.
    net::awaitable<std::vector<ProviderEntry>> find_providers(
        Bytes key, std::size_t count, std::function<void(const ProviderEntry&)> on_found = {});
    // Stores a value on the k closest peers (all at once, under one rpc_timeout); fails below
    // `quorum` acknowledgements.
    net::awaitable<net::result<std::size_t>> put_value(Bytes key, Bytes value,
                                                       std::size_t quorum = 1);
    // The best valid value seen from at least `quorum` peers (a local copy counts as one).
    net::awaitable<net::result<Bytes>> get_value(Bytes key, std::size_t quorum = 1);

    // One request to one peer (dialing it if needed), bounded by rpc_timeout.
    net::awaitable<net::result<KadMessage>> request(PeerId peer, KadMessage message,
                                                    std::vector<Multiaddr> addrs = {});
    // One request on this connection (a health probe's, which holds it already): never a dial,
    // never held back by a dial backoff; bounded by rpc_timeout.
    net::awaitable<net::result<KadMessage>> request(std::shared_ptr<Connection> connection,
                                                    KadMessage message);

    // What this node answers to a FIND_NODE for `key`, computed the way a remote request is
    // served but without the network or the request counters: the service watchdog's check.
    std::vector<KadPeer> answer_find_node(BytesView key) const {
        return closer_peers(key, host_.peer_id());
    }
    // True while the DHT protocol handler is registered (a server, not stopped).
    bool serving() const;

    RoutingTable& routing_table() { return table_; }
    ProviderStore& provider_store() { return providers_; }
    ValidatorRegistry& validators() { return validators_; }
    const DhtConfig& config() const { return config_; }
    // DhtConfig::share_private_addrs, once the node knows its own addresses.
    void set_share_private_addrs(bool share) { config_.share_private_addrs = share; }
    const DhtStats& stats() const { return stats_; }
    Host& host() { return host_; }
    void set_persistence(DhtPersistence persistence) { persistence_ = std::move(persistence); }
    // Restores state loaded at startup (no persistence callbacks fire).
    void restore_provider(const Bytes& key, ProviderEntry entry);
    void restore_record(Record record);
    void restore_routing_peer(const PeerId& peer);
    std::size_t record_count() const { return records_.size(); }
    // The stored record under `key` if it has not expired (its ttl then says what is left).
    std::optional<Record> live_record(const Bytes& key);
    std::size_t record_bytes() const { return record_bytes_; }

  private:
    using OnResponse = std::function<bool(const PeerId& from, const KadMessage& response)>;

    net::awaitable<void> serve(std::shared_ptr<net::YamuxStream> stream,
                               std::shared_ptr<Connection> connection);
    struct DurableAck;
    // `ack`, when given, is completed once a stored provider record is durable.
    std::optional<KadMessage> handle_request(const KadMessage& request, const PeerId& from,
                                             const std::shared_ptr<DurableAck>& ack);
    std::vector<KadPeer> closer_peers(BytesView key, const PeerId& exclude) const;
    // `addrs` without private ones unless config_.share_private_addrs.
    std::vector<Multiaddr> shareable(std::vector<Multiaddr> addrs) const;
    net::awaitable<LookupResult> lookup(Bytes key, MessageType type, OnResponse on_response);
    // Sends `message` to every peer in parallel, all under one rpc_timeout; ends early when the
    // DHT is stopped. The answers in the order of `peers` (nullopt: failed or not in time).
    struct FanOut;
    net::awaitable<std::vector<std::optional<KadMessage>>> send_to_all(std::vector<PeerId> peers,
                                                                       KadMessage message);
    net::awaitable<void> send_one(std::shared_ptr<FanOut> fan_out, std::size_t index, PeerId peer,
                                  KadMessage message);
    void consider_for_table(const std::shared_ptr<Connection>& connection);
    // Of the addresses `from` gave us (of itself or of others), those that can reach their peer
    // from here, judged by how we reach `from` (addresses_worth_keeping): a NATed peer's LAN and
    // loopback addresses would reach someone else, or ourselves.
    std::vector<Multiaddr> worth_keeping(std::vector<Multiaddr> addrs, const PeerId& from) const;
    net::awaitable<void> check_stale(PeerId candidate, PeerId newcomer,
                                     std::optional<Multiaddr> addr);
    net::awaitable<void> refresh_loop();
    net::awaitable<void> refresh();
    // Writes `message` on a new stream of `connection` and reads the answer (none for
    // ADD_PROVIDER: a PING after it, answered once the record is durable, stands for one).
    net::awaitable<net::result<KadMessage>> exchange(std::shared_ptr<Connection> connection,
                                                     KadMessage message);
    void count_sent(MessageType type, const net::result<KadMessage>& result, bool abandoned);
    bool store_provider(const Bytes& key, ProviderEntry entry,
                        const std::shared_ptr<DurableAck>& ack = nullptr);
    // Stores (or replaces) a value for others; false when the limits refuse a new key.
    bool store_record(Record record, const std::shared_ptr<DurableAck>& ack = nullptr);
    void remove_expired_records(std::int64_t now);
    // A store request from `connection` within the per-peer and per-address rates.
    bool store_allowed(const Connection& connection);
    std::int64_t now_ms() const;

    Host& host_;
    DhtConfig config_;
    RoutingTable table_;
    ProviderStore providers_;
    ValidatorRegistry validators_;
    std::map<Bytes, Record> records_;
    std::size_t record_bytes_ = 0;
    net::RateLimiter<PeerId> store_rate_per_peer_;
    net::RateLimiter<net::asio::ip::address> store_rate_per_ip_;
    DhtStats stats_;
    DhtPersistence persistence_;
    std::vector<Multiaddr> bootstrap_peers_;
    std::map<Bytes, std::int64_t> provided_;  // keys we provide -> last announcement (unix ms)
    std::shared_ptr<bool> alive_;             // false once stopped; tasks check it
    // Members being pinged by check_stale: one check each at a time, however many newcomers (or
    // identify pushes from one) ask for their place meanwhile.
    std::set<PeerId> stale_checks_;
    net::asio::steady_timer refresh_signal_;
    bool refresh_requested_ = false;
    bool bootstrap_redials_ = true;
    net::Signal stopped_;  // fires (and wakes every waiter) on stop()
    net::Clock::time_point last_refresh_{};
};

}  // namespace keel::kad
