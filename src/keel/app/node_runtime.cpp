#include "keel/app/node_runtime.hpp"

#include <malloc.h>

#include <fstream>

#include "keel/app/health_json.hpp"
#include "keel/app/health_service.hpp"
#include "keel/app/history_sampler.hpp"
#include "keel/app/node_api.hpp"
#include "keel/app/self_probe.hpp"
#include "keel/crypto/identity_file.hpp"
#include "keel/host/dnsaddr.hpp"
#include "keel/host/staggered_dial.hpp"
#include "keel/net/condition.hpp"
#include "keel/net/log.hpp"
#include "keel/net/socket_records.hpp"

namespace keel::app {

namespace asio = net::asio;
using nlohmann::json;

namespace {
// The verifier's second identity is a DHT client whatever this node is.
kad::DhtConfig observer_dht_config(const NodeSettings& s) {
    auto c = s.dht_config(NodeRole::node);
    c.server_mode = false;
    return c;
}
}  // namespace

// Declaration order is construction order: the Host outlives everything that uses it.
struct NodeRuntime::Parts {
    Parts(asio::any_io_executor ex, const NodeSettings& s, NodeRole role, Ed25519KeyPair key,
          std::unique_ptr<store::Store> db, std::vector<Multiaddr> bootstrap)
        : store(std::move(db)),
          host(ex, s.host_config(std::move(key))),
          connection_closed(ex),
          dht(host, s.dht_config(role)),
          observer_host(ex, s.host_config(Ed25519KeyPair::generate())),
          observer_dht(observer_host, observer_dht_config(s)),
          monitor(host, dht, std::move(bootstrap), s.monitor_config()),
          events(ex),
          http(ex, events),
          context{host, dht, monitor, events},
          release_timer(ex),
          history_timer(ex),
          self_probe_timer(ex) {
        if (role == NodeRole::node && s.relay_client != "off") {
            relay::RelayClientConfig relay_config;
            relay_config.message_timeout = s.negotiate_timeout;
            // Its relays are our bootstraps: the health monitor alone redials them.
            relay_config.reconnect = [this](const PeerId& relay) { monitor.reconnect_now(relay); };
            relay_client = std::make_unique<relay::RelayClient>(host, relay_config);
            context.relay_client = relay_client.get();
        }
        if (s.relay_enabled) {
            relay = std::make_unique<relay::RelayService>(host, s.relay_config());
            context.relay = relay.get();
        }
        context.verifier = s.verifier_config();
        context.history = &history;
        context.is_bootstrap = role == NodeRole::bootstrap;
        // A bootstrap probes itself from observer_host (self_probe.hpp): that peer is ours.
        if (context.is_bootstrap)
            context.local_peers.push_back({observer_host.peer_id(), "peer", "own-probe"});
        context.verifier.observer = &observer_dht;
        context.verifier.health_requests = monitor.health_requests();
        host.observe_connections([this](const std::shared_ptr<Connection>&, bool opened) {
            if (!opened) connection_closed.notify();
        });
    }

    std::unique_ptr<store::Store> store;
    Host host;
    net::Condition connection_closed;  // wait_idle() looks again
    kad::Dht dht;
    // A second identity, without a listener or a routing table of its own: the discovery
    // check's "another user" (VerifierConfig::observer).
    Host observer_host;
    kad::Dht observer_dht;
    health::HealthMonitor monitor;
    http::EventBus events;
    http::HttpServer http;
    NodeContext context;
    asio::steady_timer release_timer;  // paces release_memory()
    NodeHistory history;
    asio::steady_timer history_timer;                  // paces the history's points
    asio::steady_timer self_probe_timer;               // paces a bootstrap's probe of itself
    std::unique_ptr<relay::RelayService> relay;        // with [relay] enabled
    std::unique_ptr<relay::RelayClient> relay_client;  // keel node, unless relay.client = "off"
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);
};

namespace {

std::vector<Multiaddr> parse_bootstrap_list(const std::vector<std::string>& texts) {
    std::vector<Multiaddr> out;
    for (const auto& text : texts) {
        std::string why;
        auto addr = Multiaddr::parse(text, &why);
        // A /dnsaddr address may name its peers in its TXT records instead.
        if (!addr || (!addr->find(proto_code::p2p) && !is_dnsaddr(*addr)))
            throw ConfigError("bootstrap " + text + ": " +
                              (addr ? "must end in /p2p/PEER_ID or be a /dnsaddr address" : why));
        out.push_back(*addr);
    }
    return out;
}

// A damaged keel.db is moved aside (kept for the operator, named in the log) and the node starts
// with an empty state: the network refills peers, and providers re-announce; refusing to start
// would turn one bad disk sector into a bootstrap that is down until someone logs in.
boost::system::result<std::unique_ptr<store::Store>> quarantine_and_reopen(
    const std::filesystem::path& data_dir, std::string& why) {
    auto stamp = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
    auto db = data_dir / "keel.db";
    auto aside = data_dir / ("keel.db.corrupt-" + stamp);
    log().error("event=store_corrupt file={} detail=\"{}\" action=quarantined moved_to={}",
                db.string(), why, aside.string());
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        auto from = std::filesystem::path(db.string() + suffix);
        if (std::filesystem::exists(from, ec))
            std::filesystem::rename(from, aside.string() + suffix, ec);
        if (ec)
            throw ConfigError("state " + db.string() + " is corrupt (" + why +
                              ") and cannot be moved aside: " + ec.message());
    }
    why.clear();
    return store::Store::open(db, &why);
}

}  // namespace

NodeRuntime::NodeRuntime(asio::any_io_executor executor, NodeSettings settings, NodeRole role,
                         EventSink sink)
    : settings_(std::move(settings)), role_(role), sink_(std::move(sink)) {
    if (settings_.data_dir.empty()) throw ConfigError("no data directory");
    if (settings_.relay_client != "auto" && settings_.relay_client != "on" &&
        settings_.relay_client != "off")
        throw ConfigError("relay.client " + settings_.relay_client + ": expected auto, on or off");
    bootstrap_ = parse_bootstrap_list(settings_.bootstrap);
    std::filesystem::path data_dir(settings_.data_dir);
    if (!create_private_dirs(data_dir))
        throw ConfigError("data directory " + data_dir.string() + ": cannot create it");
    std::filesystem::path key_path = settings_.identity.empty()
                                         ? data_dir / "identity.key"
                                         : std::filesystem::path(settings_.identity);
    // A data directory with state but no key belonged to a peer ID that is now lost: making a
    // new one silently would hand its routing table and records to a stranger, and a bootstrap
    // would quietly change the address every client has configured.
    std::error_code exists_error;
    if (!std::filesystem::exists(key_path, exists_error) &&
        std::filesystem::exists(data_dir / "keel.db", exists_error))
        throw ConfigError("identity " + key_path.string() + " is missing but " +
                          (data_dir / "keel.db").string() +
                          " holds a node's state: restore the key (the peer ID depends on it), "
                          "or move keel.db away to start as a new peer");
    auto key = load_or_create_identity(key_path);
    if (!key) throw ConfigError("identity " + key_path.string() + ": " + key.error().message());
    std::string why;
    auto db = store::Store::open(data_dir / "keel.db", &why);
    if (!db && db.error() == store::store_errc::corrupt) db = quarantine_and_reopen(data_dir, why);
    if (!db)
        throw ConfigError("state " + (data_dir / "keel.db").string() + ": " + db.error().message() +
                          " " + why);
    parts_ = std::make_unique<Parts>(executor, settings_, role_, std::move(*key), std::move(*db),
                                     bootstrap_);
}

NodeRuntime::~NodeRuntime() {
    if (parts_) *parts_->alive = false;
}

void NodeRuntime::set_local_peers(std::vector<LocalPeer> peers) {
    parts_->context.local_peers = std::move(peers);
}

Host& NodeRuntime::host() {
    return parts_->host;
}
kad::Dht& NodeRuntime::dht() {
    return parts_->dht;
}
health::HealthMonitor& NodeRuntime::monitor() {
    return parts_->monitor;
}

void NodeRuntime::emit(const json& event) const {
    if (sink_) sink_(event);
}

void NodeRuntime::start() {
    auto& p = *parts_;
    restored_ = attach_store(p.dht, *p.store);
    p.dht.start();
    serve_health_protocol(p.dht);
    if (p.relay) p.relay->start();
    if (p.relay_client) p.relay_client->start();

    // A bootstrap's crowds come and go: their sockets' reactor records are made side by side now,
    // so that they do not pin scattered pages after a crowd has left (net/socket_records.hpp).
    if (role_ == NodeRole::bootstrap)
        net::reserve_socket_records(p.host.get_executor(),
                                    settings_.max_connections + settings_.max_pending_inbound);

    json addrs = json::array();
    for (const auto& text : settings_.listen) {
        std::string why;
        auto addr = Multiaddr::parse(text, &why);
        if (!addr) throw ConfigError("listen " + text + ": " + why);
        auto bound = p.host.listen(*addr);
        if (!bound) throw ConfigError("cannot listen on " + text + ": " + bound.error().message());
        auto full = Multiaddr::parse(bound->to_string() + "/p2p/" + p.host.peer_id().to_base58());
        listen_addrs_.push_back(*full);
        addrs.push_back(full->to_string());
    }

    if (settings_.private_addresses == "auto")
        p.dht.set_share_private_addrs(!p.host.has_public_address());

    write_listen_file();
    release_memory_periodically();
    sample_history_periodically(p.context, p.history, p.history_timer, p.alive);

    if (role_ == NodeRole::bootstrap && !listen_addrs_.empty())
        probe_self_periodically(p.context, p.observer_host, p.observer_dht,
                                self_probe_target(listen_addrs_.front()), settings_.probe_interval,
                                p.self_probe_timer, p.alive);

    if (settings_.api != "off") {
        auto endpoint = *settings_.api_endpoint();
        if (!endpoint.address().is_loopback())
            log().warn(
                "event=api_exposed addr={} note=\"the HTTP API (and /metrics) is reachable "
                "from other machines without authentication\"",
                settings_.api);
        install_node_api(p.http, p.context);
        if (!settings_.ui_dir.empty()) {
            std::string why;
            auto files = http::StaticFiles::load(settings_.ui_dir, &why);
            if (!files) throw ConfigError("ui_dir " + settings_.ui_dir + ": " + why);
            p.http.static_files(std::move(*files));
        }
        auto bound = p.http.listen(endpoint);
        if (!bound)
            throw ConfigError("cannot serve the API on " + settings_.api + ": " +
                              bound.error().message());
        api_url_ = "http://" + bound->address().to_string() + ":" + std::to_string(bound->port());
    }

    auto kad_config = p.dht.config();
    emit({{"event", "listening"},
          {"role", role_ == NodeRole::bootstrap ? "bootstrap" : "node"},
          {"peer_id", p.host.peer_id().to_base58()},
          {"addrs", addrs},
          {"dht_mode", kad_config.server_mode ? "server" : "client"},
          {"api", api_url_},
          {"restored",
           {{"peers", restored_.peers},
            {"routing_table", restored_.routing_peers},
            {"providers", restored_.providers},
            {"records", restored_.records}}},
          {"kad_protocol", kad_config.profile.kad_protocol}});
    // A bootstrap's stream leaves connections out: thousands a second, each a line to format and
    // write (the Host logs them at debug level for whoever wants them).
    if (sink_ && role_ != NodeRole::bootstrap) {
        p.host.observe_connections([this](const std::shared_ptr<Connection>& c, bool opened) {
            emit({{"event", opened ? "connection_opened" : "connection_closed"},
                  {"peer_id", c->peer.to_base58()},
                  {"addr", c->remote_addr.to_string()},
                  {"direction", c->direction == Direction::inbound ? "inbound" : "outbound"},
                  {"muxer_inlined", c->muxer_inlined}});
        });
    }
}

void NodeRuntime::join() {
    if (bootstrap_.empty() || joined_) return;
    joined_ = true;
    auto& p = *parts_;
    if (p.relay_client) {
        const bool public_address = p.host.has_public_address();
        // Behind NAT (no public address of ours), the bootstraps relay us: a reservation on each.
        if (settings_.relay_client == "on" || !public_address) {
            p.relay_client->keep_reservations(bootstrap_);
            emit({{"event", "relay_client"},
                  {"relays", bootstrap_.size()},
                  {"reason", public_address ? "relay.client = on" : "no public address"}});
        }
    }
    p.monitor.on_change([this](const health::MonitoredBootstrap& b, health::HealthState previous) {
        if (b.health.state == previous) return;
        auto j = health_to_json(b.health);
        j["event"] = "bootstrap_health";
        j["previous"] = health::state_name(previous);
        j["node_state"] = health::state_name(parts_->monitor.node_state());
        j["reconnect_attempt"] = b.reconnect.attempt;
        emit(j);
    });
    auto alive = p.alive;
    auto join_task = [this, alive]() -> net::awaitable<void> {
        auto& parts = *parts_;
        // The bootstrap list, staggered: a hanging first entry costs the stagger, not a timeout.
        auto race = co_await dial_staggered(parts.host, bootstrap_, settings_.bootstrap_stagger);
        if (!*alive) co_return;
        std::vector<Multiaddr> order = bootstrap_;
        if (race.connection) {
            const auto& winner = bootstrap_[race.winner_index];
            emit({{"event", "bootstrap_connected"},
                  {"peer_id", race.connection->peer.to_base58()},
                  {"addr", winner.to_string()},
                  {"elapsed_ms", race.elapsed.count()}});
            log().info("event=bootstrap_connected addr={} elapsed_ms={}", winner.to_string(),
                       race.elapsed.count());
            // The DHT joins through the connection we have (reused, not redialled).
            std::rotate(order.begin(), order.begin() + static_cast<long>(race.winner_index),
                        order.begin() + static_cast<long>(race.winner_index) + 1);
        } else {
            json failures = json::array();
            for (std::size_t i = 0; i < race.failures.size(); ++i) {
                if (!race.failures[i]) continue;
                failures.push_back({{"addr", bootstrap_[i].to_string()},
                                    {"phase", phase_name(race.failures[i]->phase)},
                                    {"error", race.failures[i]->message()}});
            }
            emit({{"event", "bootstrap_failed"},
                  {"elapsed_ms", race.elapsed.count()},
                  {"failures", failures}});
        }
        auto reached = co_await parts.dht.bootstrap(order);
        if (!*alive) co_return;
        emit({{"event", "bootstrapped"},
              {"reached", reached},
              {"routing_table_size", parts.dht.routing_table().size()}});
    };
    p.monitor.start();
    asio::co_spawn(p.host.get_executor(), join_task, asio::detached);
}

// Every 10 s: the peers gone for limits.forget_peers_after are forgotten, then the memory is given
// back. glibc keeps freed memory for reuse and returns it to the system only from the top of the
// heap: after a peak (an attack's connections and buffers, a burst of lookups, a crowd of peers
// that left) the RSS would stay at the peak for good. malloc_trim walks the free lists: well
// under a millisecond for a bootstrap's heap.
void NodeRuntime::release_memory_periodically() {
    auto& p = *parts_;
    auto alive = p.alive;
    asio::co_spawn(
        p.host.get_executor(),
        [timer = &p.release_timer, host = &p.host, alive]() -> net::awaitable<void> {
            while (*alive) {
                timer->expires_after(std::chrono::seconds(10));
                auto [ec] = co_await timer->async_wait(net::use_result);
                if (ec || !*alive) co_return;
                host->forget_stale_peers();
                ::malloc_trim(0);
            }
        },
        asio::detached);
}

void NodeRuntime::write_listen_file() const {
    // For local tools (the health-check timer probes the node it runs next to): written whole,
    // then renamed, so a reader never sees half a file.
    auto path = std::filesystem::path(settings_.data_dir) / "listen-addr";
    auto temporary = path;
    temporary += ".tmp";
    {
        std::ofstream out(temporary, std::ios::trunc);
        for (const auto& a : listen_addrs_) out << a.to_string() << "\n";
        if (!out) return;
    }
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
}

std::string NodeRuntime::reload(const NodeSettings& fresh) {
    auto list = parse_bootstrap_list(fresh.bootstrap);
    if (list == bootstrap_) return "bootstrap list unchanged";
    auto& p = *parts_;
    bootstrap_ = list;
    settings_.bootstrap = fresh.bootstrap;
    p.monitor.set_bootstraps(list);
    emit({{"event", "bootstrap_list_reloaded"}, {"bootstraps", fresh.bootstrap}});
    if (!joined_) {
        join();  // started with no list: this is the first join
    } else if (!list.empty()) {
        auto& dht = p.dht;
        asio::co_spawn(
            p.host.get_executor(), [&dht, list]() { return dht.bootstrap(list); }, asio::detached);
    }
    return "bootstrap list: " + std::to_string(list.size()) + " entries";
}

void NodeRuntime::stop() {
    auto& p = *parts_;
    *p.alive = false;
    p.release_timer.cancel();
    p.history_timer.cancel();
    p.self_probe_timer.cancel();
    if (p.relay) p.relay->stop();
    if (p.relay_client) p.relay_client->stop();
    p.monitor.stop();
    p.http.stop();
    p.dht.stop();
    p.host.stop();
    p.observer_dht.stop();
    p.observer_host.stop();
}

net::awaitable<bool> NodeRuntime::wait_idle(net::Clock::time_point deadline) {
    auto& p = *parts_;
    auto idle = [&p] { return p.host.connections().empty(); };
    const bool done = co_await p.connection_closed.until(idle, deadline);
    co_return done;
}

void NodeRuntime::flush() {
    parts_->store->flush();
}

}  // namespace keel::app
