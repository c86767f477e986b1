// keel node / keel bootstrap: run a libp2p node with the Kademlia DHT. A bootstrap is always a DHT
// server; a node is a client unless --dht-server.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"
#include "keel/app/dht_persistence.hpp"
#include "keel/app/health_json.hpp"
#include "keel/app/health_service.hpp"
#include "keel/app/node_api.hpp"
#include "keel/crypto/identity_file.hpp"
#include "keel/health/health_monitor.hpp"
#include "keel/host/dnsaddr.hpp"
#include "keel/host/host.hpp"
#include "keel/kad/dht.hpp"
#include "keel/protocols/echo.hpp"
#include "node_options.hpp"

namespace keel::cli {

namespace asio = boost::asio;

void add_node_options(CLI::App& cmd, NodeOptions& opts, bool is_bootstrap) {
    cmd.add_option("--listen", opts.listen, "Multiaddr to listen on (repeatable)")
        ->capture_default_str();
    cmd.add_option("--bootstrap", opts.bootstrap,
                   "Bootstrap peer multiaddr ending in /p2p/ID, or a /dnsaddr/HOST address "
                   "(repeatable)");
    cmd.add_option("--data-dir", opts.data_dir,
                   "State directory (default: $KEEL_DATA_DIR or ~/.local/share/keel)");
    cmd.add_option("--identity", opts.identity, "Key file (default: DATA_DIR/identity.key)");
    cmd.add_option("--profile", opts.profile, "Network profile: ipfs | chiral")
        ->capture_default_str();
    cmd.add_option("--kad-protocol", opts.kad_protocol, "Custom Kademlia protocol ID");
    if (!is_bootstrap) cmd.add_flag("--dht-server", opts.dht_server, "Serve DHT requests");
    cmd.add_flag("--no-inline-muxer", opts.no_inline_muxer,
                 "Do not offer Yamux inside the Noise handshake (negotiate it afterwards)");
    cmd.add_flag("--echo", opts.echo, "Serve /keel/echo/1.0.0 (for tests)");
    cmd.add_flag("--json", opts.json, "Print events as JSON lines");
    cmd.add_option("--log-level", opts.log_level, "trace|debug|info|warn|error|off")
        ->capture_default_str();
    // A bootstrap serves no API unless asked (e.g. --api 127.0.0.1:9464 for Prometheus).
    if (is_bootstrap) opts.api = "off";
    cmd.add_option("--api", opts.api, "HTTP API address HOST:PORT on this machine, or off")
        ->capture_default_str();
    cmd.add_option("--ui-dir", opts.ui_dir, "Directory of the web UI to serve at /");
}

int run_node(const NodeOptions& opts, bool is_bootstrap) {
    setup_logging(opts.log_level);
    auto profile = kad::network_profile(opts.profile);
    if (!profile) {
        std::cerr << "keel: unknown --profile " << opts.profile << " (ipfs | chiral)\n";
        return 2;
    }
    if (!opts.kad_protocol.empty()) profile->kad_protocol = opts.kad_protocol;
    std::vector<Multiaddr> bootstrap;
    for (const auto& text : opts.bootstrap) {
        std::string why;
        auto addr = Multiaddr::parse(text, &why);
        // A /dnsaddr address may name its peers in its TXT records instead.
        if (!addr || (!addr->find(proto_code::p2p) && !is_dnsaddr(*addr))) {
            std::cerr << "keel: --bootstrap " << text << ": "
                      << (addr ? "must end in /p2p/PEER_ID or be a /dnsaddr address" : why) << "\n";
            return 2;
        }
        bootstrap.push_back(*addr);
    }
    std::filesystem::path data_dir =
        opts.data_dir.empty() ? default_data_dir() : std::filesystem::path(opts.data_dir);
    std::filesystem::path key_path =
        opts.identity.empty() ? data_dir / "identity.key" : std::filesystem::path(opts.identity);
    auto key = load_or_create_identity(key_path);
    if (!key) {
        std::cerr << "keel: identity " << key_path << ": " << key.error().message() << "\n";
        return 1;
    }

    asio::io_context io;
    // Before anything is printed: a SIGTERM right after the "listening" line must stop us cleanly.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    HostConfig config(*key);
    config.inline_muxer = !opts.no_inline_muxer;
    config.protocol_version = profile->identify_protocol_version;
    Host host(io.get_executor(), std::move(config));
    kad::DhtConfig dht_config;
    dht_config.profile = *profile;
    dht_config.server_mode = is_bootstrap || opts.dht_server;
    kad::Dht dht(host, dht_config);
    std::error_code mkdir_error;
    std::filesystem::create_directories(data_dir, mkdir_error);
    std::string why;
    auto store = store::Store::open(data_dir / "keel.db", &why);
    if (!store) {
        std::cerr << "keel: state " << (data_dir / "keel.db") << ": " << store.error().message()
                  << " " << why << "\n";
        return 1;
    }
    auto restored = app::attach_store(dht, **store);
    dht.start();
    app::serve_health_protocol(dht);
    if (opts.echo) {
        host.set_handler(std::string(protocols::echo_protocol_id),
                         [&host](std::shared_ptr<net::YamuxStream> stream,
                                 std::shared_ptr<Connection>) -> net::awaitable<void> {
                             co_await protocols::serve_echo(*stream,
                                                            host.config().stream_idle_timeout);
                         });
    }

    nlohmann::json addrs = nlohmann::json::array();
    for (const auto& text : opts.listen) {
        std::string why;
        auto addr = Multiaddr::parse(text, &why);
        if (!addr) {
            std::cerr << "keel: --listen " << text << ": " << why << "\n";
            return 2;
        }
        auto bound = host.listen(*addr);
        if (!bound) {
            std::cerr << "keel: cannot listen on " << text << ": " << bound.error().message()
                      << "\n";
            return 1;
        }
        addrs.push_back(bound->to_string() + "/p2p/" + host.peer_id().to_base58());
    }

    health::HealthMonitor monitor(host, dht, bootstrap);
    api::EventBus events(io.get_executor());
    api::HttpServer http(io.get_executor(), events);
    app::NodeContext node{host, dht, monitor, events};
    std::string api_url;
    if (opts.api != "off") {
        auto colon = opts.api.rfind(':');
        net::error_code ec;
        auto address = asio::ip::make_address(
            colon == std::string::npos ? opts.api : opts.api.substr(0, colon), ec);
        int port = colon == std::string::npos ? 0 : std::atoi(opts.api.c_str() + colon + 1);
        if (ec || port < 0 || port > 65535) {
            std::cerr << "keel: --api " << opts.api << ": expected HOST:PORT\n";
            return 2;
        }
        app::install_node_api(http, node);
        if (!opts.ui_dir.empty()) http.static_files(opts.ui_dir);
        auto bound = http.listen({address, static_cast<std::uint16_t>(port)});
        if (!bound) {
            std::cerr << "keel: cannot serve the API on " << opts.api << ": "
                      << bound.error().message() << "\n";
            return 1;
        }
        api_url = "http://" + bound->address().to_string() + ":" + std::to_string(bound->port());
    }
    if (opts.json) {
        emit({{"event", "listening"},
              {"peer_id", host.peer_id().to_base58()},
              {"addrs", addrs},
              {"dht_mode", dht_config.server_mode ? "server" : "client"},
              {"api", api_url},
              {"restored",
               {{"peers", restored.peers},
                {"routing_table", restored.routing_peers},
                {"providers", restored.providers},
                {"records", restored.records}}},
              {"kad_protocol", profile->kad_protocol}});
        host.observe_connections([](const std::shared_ptr<Connection>& c, bool opened) {
            emit({{"event", opened ? "connection_opened" : "connection_closed"},
                  {"peer_id", c->peer.to_base58()},
                  {"addr", c->remote_addr.to_string()},
                  {"direction", c->direction == Direction::inbound ? "inbound" : "outbound"},
                  {"muxer_inlined", c->muxer_inlined}});
        });
    } else {
        std::cout << "Keel " << (is_bootstrap ? "bootstrap " : "node ")
                  << host.peer_id().to_base58() << " (DHT "
                  << (dht_config.server_mode ? "server" : "client") << ", " << profile->kad_protocol
                  << ")\n";
        for (const auto& a : addrs) std::cout << "Listening on " << a.get<std::string>() << "\n";
        if (!api_url.empty()) std::cout << "API on " << api_url << "\n";
        std::cout.flush();
    }

    if (!bootstrap.empty()) {
        if (opts.json) {
            monitor.on_change(
                [&monitor](const health::MonitoredBootstrap& b, health::HealthState previous) {
                    if (b.health.state == previous) return;
                    auto j = app::health_to_json(b.health);
                    j["event"] = "bootstrap_health";
                    j["previous"] = health::state_name(previous);
                    j["node_state"] = health::state_name(monitor.node_state());
                    j["reconnect_attempt"] = b.reconnect.attempt;
                    emit(j);
                });
        }
        monitor.start();
        asio::co_spawn(
            io,
            [&]() -> net::awaitable<void> {
                auto reached = co_await dht.bootstrap(bootstrap);
                if (opts.json)
                    emit({{"event", "bootstrapped"},
                          {"reached", reached},
                          {"routing_table_size", dht.routing_table().size()}});
            },
            asio::detached);
    }

    asio::steady_timer shutdown_deadline(io);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        monitor.stop();
        http.stop();
        dht.stop();
        host.stop();
        // Connections get a moment to say GoAway; we leave when they are gone, or after 3 s.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        asio::co_spawn(
            io,
            [&, deadline]() -> net::awaitable<void> {
                while (!host.connections().empty() && std::chrono::steady_clock::now() < deadline) {
                    shutdown_deadline.expires_after(std::chrono::milliseconds(20));
                    co_await shutdown_deadline.async_wait(net::use_result);
                }
                io.stop();
            },
            asio::detached);
    });
    io.run();
    (*store)->flush();
    if (opts.json) emit({{"event", "stopped"}});
    return 0;
}

void add_node_command(CLI::App& app, int& exit_code) {
    auto opts = std::make_shared<NodeOptions>();
    auto* cmd = app.add_subcommand("node", "Run a libp2p node (DHT client unless --dht-server)");
    add_node_options(*cmd, *opts, false);
    cmd->callback([opts, &exit_code]() { exit_code = run_node(*opts, false); });

    auto bopts = std::make_shared<NodeOptions>();
    auto* boot = app.add_subcommand("bootstrap", "Run a bootstrap node (always a DHT server)");
    add_node_options(*boot, *bopts, true);
    boot->callback([bopts, &exit_code]() { exit_code = run_node(*bopts, true); });
}

}  // namespace keel::cli
