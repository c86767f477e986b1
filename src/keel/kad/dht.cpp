// Dht: the facade. Lifetime (start, stop), who joins the routing table, and bootstrap, refresh
// and republish. The server side, the client side and the public operations live in
// dht_server.cpp, dht_client.cpp and dht_operations.cpp.
#include "keel/kad/dht.hpp"

#include <sodium.h>

#include <algorithm>
#include <chrono>

#include "keel/base/scope_exit.hpp"
#include "keel/host/staggered_dial.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/log.hpp"
#include "keel/protocols/ping.hpp"

namespace keel::kad {

namespace asio = net::asio;
using net::awaitable;

Dht::Dht(Host& host, DhtConfig config)
    : host_(host),
      config_(std::move(config)),
      table_(host.peer_id(),
             [&] {
                 auto t = config_.table;
                 t.k = config_.k;
                 return t;
             }()),
      providers_(config_.provider_limits),
      store_rate_per_peer_(config_.store_rate_per_peer, config_.store_burst_per_peer),
      store_rate_per_ip_(config_.store_rate_per_ip, config_.store_burst_per_ip),
      alive_(std::make_shared<bool>(true)),
      refresh_signal_(host.get_executor()),
      stopped_(host.get_executor()) {}

Dht::~Dht() {
    *alive_ = false;
}

std::int64_t Dht::now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void Dht::start() {
    if (config_.server_mode) {
        host_.set_handler(config_.profile.kad_protocol,
                          [this](std::shared_ptr<net::YamuxStream> stream,
                                 std::shared_ptr<Connection> conn) -> awaitable<void> {
                              co_await serve(std::move(stream), std::move(conn));
                          });
    }
    auto alive = alive_;
    // Routing table members keep their addresses in the peer store, connected or not.
    host_.peer_store().add_pin(
        [this, alive](const PeerId& peer) { return *alive && table_.contains(peer); });
    host_.observe_identified([this, alive](const std::shared_ptr<Connection>& conn) {
        if (*alive) consider_for_table(conn);
    });
    asio::co_spawn(host_.get_executor(), refresh_loop(), asio::detached);
    log().info("event=dht_started mode={} protocol={} k={} alpha={}",
               config_.server_mode ? "server" : "client", config_.profile.kad_protocol, config_.k,
               config_.alpha);
}

void Dht::stop() {
    *alive_ = false;
    refresh_signal_.cancel();
    stopped_.fire();  // ends the requests in flight; any started later ends at once
}

// ---- routing table membership ------------------------------------------------------------

void Dht::consider_for_table(const std::shared_ptr<Connection>& conn) {
    // Asked of the store in place: a copy of the peer's record costs a dozen allocations, for
    // every peer that connects.
    const auto& peers = host_.peer_store();
    if (!peers.contains(conn->peer)) return;
    // Only DHT servers of our own network: a client, or a server of another DHT, stays out; a
    // member whose identify push no longer lists our protocol (server turned client) leaves.
    if (!peers.supports(conn->peer, config_.profile.kad_protocol)) {
        if (table_.evict(conn->peer)) {
            log().debug("event=routing_table_remove peer={} reason=no_longer_a_server", conn->peer);
            if (persistence_.routing_changed) persistence_.routing_changed(conn->peer, false);
        }
        return;
    }
    auto outcome = table_.add(conn->peer, conn->remote_addr);
    switch (outcome.result) {
        case AddResult::added:
            log().debug("event=routing_table_add peer={} size={}", conn->peer, table_.size());
            if (persistence_.routing_changed) persistence_.routing_changed(conn->peer, true);
            break;
        case AddResult::bucket_full:
            // A peer that pushes identify in a loop must not start a ping per push: each one a
            // stream to the same member, and any failure among them (our own stream limit
            // included) would evict it.
            if (stale_checks_.insert(*outcome.ping_candidate).second)
                asio::co_spawn(host_.get_executor(),
                               check_stale(*outcome.ping_candidate, conn->peer, conn->remote_addr),
                               asio::detached);
            break;
        case AddResult::rejected_diversity:
            log().debug("event=routing_table_reject peer={} reason=ip_diversity", conn->peer);
            break;
        default:
            break;
    }
}

awaitable<void> Dht::check_stale(PeerId candidate, PeerId newcomer, std::optional<Multiaddr> addr) {
    auto alive = alive_;
    ++stats_.stale_checks;
    // However this ends, the candidate may be checked again.
    ScopeExit checked([this, alive, candidate] {
        if (*alive) stale_checks_.erase(candidate);
    });
    bool answered = false;
    auto conn = co_await net::with_deadline(
        [&]() -> awaitable<net::result<std::shared_ptr<Connection>>> {
            auto c = co_await host_.connect_peer(candidate);
            if (!c) co_return c.error().error;
            co_return *c;
        }(),
        config_.rpc_timeout);
    if (conn) {
        std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
        auto stream = co_await host_.new_stream(*conn, std::move(wanted));
        if (stream) {
            auto rtt =
                co_await net::with_deadline(protocols::ping_once(**stream), config_.rpc_timeout);
            answered = bool(rtt);
            co_await (*stream)->close_write();
        }
    }
    if (!*alive) co_return;
    if (answered) {
        table_.mark_seen(candidate);
        co_return;
    }
    log().info("event=routing_table_evict peer={} reason=unresponsive replaced_by={}", candidate,
               newcomer);
    table_.evict(candidate);
    if (persistence_.routing_changed) persistence_.routing_changed(candidate, false);
    table_.add(newcomer, addr);
}

void Dht::restore_routing_peer(const PeerId& peer) {
    std::optional<Multiaddr> addr;
    if (auto info = host_.peer_store().get(peer); info && !info->addrs.empty())
        addr = info->addrs.front();
    table_.add(peer, addr);
}

// ---- bootstrap and refresh -------------------------------------------------------------------

awaitable<std::size_t> Dht::bootstrap(std::vector<Multiaddr> peers) {
    bootstrap_peers_ = peers;
    // Staggered, not one after another: a bootstrap that hangs costs the stagger, not a timeout.
    auto race = co_await dial_staggered(host_, peers, config_.bootstrap_stagger);
    std::size_t reached = 0;
    if (race.connection && co_await host_.wait_identified(race.connection)) reached = 1;
    for (const auto& failure : race.failures)
        if (failure) log().info("event=bootstrap_dial_failed error=\"{}\"", failure->message());
    co_await refresh();
    co_return reached;
}

awaitable<void> Dht::refresh() {
    last_refresh_ = net::Clock::now();
    if (table_.size() == 0 && !bootstrap_peers_.empty() && bootstrap_redials_) {
        // Bootstraps that just failed are left to their backoff (and to the health monitor).
        std::vector<Multiaddr> dialable;
        for (const auto& addr : bootstrap_peers_) {
            const auto* p2p = addr.find(proto_code::p2p);
            auto peer = p2p ? PeerId::from_bytes(p2p->value) : PeerId::from_bytes({});
            if (!peer || !host_.dial_backoff().waiting(*peer)) dialable.push_back(addr);
        }
        auto race = co_await dial_staggered(host_, dialable, config_.bootstrap_stagger);
        if (race.connection) co_await host_.wait_identified(race.connection);
    }
    if (table_.size() == 0) co_return;
    co_await lookup(host_.peer_id().bytes(), MessageType::find_node, {});
    // Random keys landing in each stale bucket (SHA-256 cannot be inverted; trying random keys
    // until one has the wanted prefix takes ~2^(cpl+1) hashes, which is why only shallow buckets
    // are refreshed).
    for (int cpl : table_.stale_buckets(last_refresh_ - config_.refresh_interval)) {
        Bytes key(32);
        for (int tries = 0; tries < (1 << 18); ++tries) {
            randombytes_buf(key.data(), key.size());
            if (common_prefix_length(table_.self_key(), kad_key(key)) == cpl) break;
        }
        co_await lookup(key, MessageType::find_node, {});
        if (!*alive_) co_return;
    }
}

void Dht::refresh_soon() {
    refresh_requested_ = true;
    refresh_signal_.cancel();
}

awaitable<void> Dht::refresh_loop() {
    auto alive = alive_;
    while (*alive) {
        refresh_signal_.expires_after(std::chrono::seconds(5));
        co_await refresh_signal_.async_wait(net::use_result);
        if (!*alive) co_return;
        auto since = net::Clock::now() - last_refresh_;
        bool due = since >= config_.refresh_interval || std::exchange(refresh_requested_, false);
        bool starving = table_.size() < config_.refresh_threshold && !bootstrap_peers_.empty() &&
                        since >= std::chrono::seconds(10);
        if (due || starving) co_await refresh();
        if (!*alive) co_return;
        // Republish what we provide before the 48 h validity runs out.
        auto now = now_ms();
        for (auto& [key, at] : provided_) {
            if (now - at < provider_republish_ms) continue;
            at = now;
            co_await provide(key);
            if (!*alive) co_return;
        }
        providers_.remove_expired(now);
        remove_expired_records(now);
    }
}

}  // namespace keel::kad
