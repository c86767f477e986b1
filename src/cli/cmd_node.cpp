// keel node / keel bootstrap: run a libp2p node with the Kademlia DHT. A bootstrap is always a DHT
// server; a node is a client unless --dht-server.
#include <spdlog/spdlog.h>
#include <boost/asio/signal_set.hpp>
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"
#include "keel/app/service_notifier.hpp"
#include "keel/net/process_limits.hpp"
#include "keel/protocols/echo.hpp"
#include "node_options.hpp"

namespace keel::cli {

namespace asio = boost::asio;
using app::NodeRole;
using app::NodeSettings;

app::NodeSettings NodeFlags::resolve(NodeRole role) const {
    auto settings = NodeSettings::defaults(role);
    if (!config_file.empty()) app::apply_config_file(config_file, settings);
    for (const auto& [option, copy] : given)
        if (option->count() > 0) copy(settings);
    if (settings.data_dir.empty()) settings.data_dir = default_data_dir().string();
    return settings;
}

namespace {

// Registers a flag bound to flags.values.*field; when given, it overrides the config file.
template <typename T>
CLI::Option* bind_option(CLI::App& cmd, NodeFlags& flags, const std::string& name,
                         T NodeSettings::*field, const std::string& help) {
    auto* option = cmd.add_option(name, flags.values.*field, help);
    flags.given.emplace_back(option,
                             [&flags, field](NodeSettings& s) { s.*field = flags.values.*field; });
    return option;
}

CLI::Option* bind_flag(CLI::App& cmd, NodeFlags& flags, const std::string& name,
                       bool NodeSettings::*field, bool value, const std::string& help) {
    auto* option = cmd.add_flag(name, help);
    flags.given.emplace_back(option, [field, value](NodeSettings& s) { s.*field = value; });
    return option;
}

CLI::Option* bind_duration(CLI::App& cmd, NodeFlags& flags, const std::string& name,
                           std::function<void(NodeSettings&, net::Duration)> set,
                           const std::string& help) {
    auto text = std::make_shared<std::string>();
    auto* option = cmd.add_option(name, *text, help)->check([](const std::string& v) {
        return parse_duration(v) ? std::string() : "expected a duration such as 250ms, 10s, 2m";
    });
    flags.given.emplace_back(option,
                             [text, set](NodeSettings& s) { set(s, *parse_duration(*text)); });
    return option;
}

}  // namespace

void add_node_flags(CLI::App& cmd, NodeFlags& flags, NodeRole role, bool embedded_network) {
    const auto defaults = NodeSettings::defaults(role);
    cmd.add_option("--config", flags.config_file,
                   "TOML file with any of the settings (docs/configuration.md); flags win")
        ->check(CLI::ExistingFile);
    bind_option(cmd, flags, "--listen", &NodeSettings::listen,
                "Multiaddr to listen on (repeatable)")
        ->default_str(defaults.listen.front());
    bind_option(cmd, flags, "--bootstrap", &NodeSettings::bootstrap,
                embedded_network
                    ? "Join these bootstraps instead of starting local ones (repeatable)"
                    : "Bootstrap peer multiaddr ending in /p2p/ID, or a /dnsaddr/HOST "
                      "address (repeatable)");
    bind_option(cmd, flags, "--data-dir", &NodeSettings::data_dir,
                "State directory (default: $KEEL_DATA_DIR or ~/.local/share/keel)");
    bind_option(cmd, flags, "--identity", &NodeSettings::identity,
                "Key file (default: DATA_DIR/identity.key)");
    bind_option(cmd, flags, "--profile", &NodeSettings::profile,
                "Network profile: ipfs | chiral | chiral-v1")
        ->default_str(defaults.profile);
    bind_option(cmd, flags, "--kad-protocol", &NodeSettings::kad_protocol,
                "Custom Kademlia protocol ID");
    bind_option(cmd, flags, "--agent-version", &NodeSettings::agent_version,
                "Identify agentVersion (default: the profile's, else keel/VERSION)");
    if (role == NodeRole::node)
        bind_flag(cmd, flags, "--dht-server", &NodeSettings::dht_server, true,
                  "Serve DHT requests");
    bind_flag(cmd, flags, "--no-inline-muxer", &NodeSettings::inline_muxer, false,
              "Do not offer Yamux inside the Noise handshake (negotiate it afterwards)");
    bind_option(cmd, flags, "--api", &NodeSettings::api,
                "HTTP API address HOST:PORT on this machine, or off")
        ->default_str(defaults.api);
    bind_flag(cmd, flags, "--api-allow-remote", &NodeSettings::api_allow_remote, true,
              "Allow an --api address reachable from other machines (no authentication!)");
    bind_option(cmd, flags, "--ui-dir", &NodeSettings::ui_dir,
                "Directory of the web UI to serve at /");
    bind_option(cmd, flags, "--log-level", &NodeSettings::log_level,
                "trace|debug|info|warn|error|off")
        ->default_str(defaults.log_level);
    bind_duration(
        cmd, flags, "--connect-timeout",
        [](NodeSettings& s, net::Duration d) {
            s.dial_timeout = s.handshake_timeout = s.identify_timeout = s.negotiate_timeout = d;
        },
        "Deadline of each dial and upgrade phase (default 10s)");
    bind_duration(
        cmd, flags, "--probe-interval",
        [](NodeSettings& s, net::Duration d) { s.probe_interval = d; },
        "How often each bootstrap is probed (default 30s)");
    cmd.add_flag("--json", flags.json, "Print events as JSON lines");
    if (!embedded_network) cmd.add_flag("--echo", flags.echo, "Serve /keel/echo/1.0.0 (for tests)");
}

void run_until_signal(asio::io_context& io, std::vector<app::NodeRuntime*> runtimes,
                      std::function<void()> on_stop, std::function<void()> on_reload) {
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::signal_set hangups(io, SIGHUP);
    std::function<void()> await_hangup = [&]() {
        hangups.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            if (on_reload) on_reload();
            await_hangup();
        });
    };
    await_hangup();
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        hangups.cancel();
        if (on_stop) on_stop();
        for (auto* r : runtimes) r->stop();
        // Connections get a moment to say GoAway; we leave when they are gone, or after 3 s.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        asio::co_spawn(
            io,
            [&, deadline]() -> net::awaitable<void> {
                for (auto* r : runtimes) co_await r->wait_idle(deadline);
                io.stop();
            },
            asio::detached);
    });
    io.run();
    for (auto* r : runtimes) r->flush();
}

namespace {

void log_reload(const NodeFlags& flags, const std::string& what) {
    if (flags.json) {
        emit({{"event", "reloaded"}, {"result", what}});
    } else {
        std::cout << "reload: " << what << std::endl;
    }
}

int run_node(const NodeFlags& flags, NodeRole role) {
    NodeSettings settings;
    try {
        settings = flags.resolve(role);
        settings.api_endpoint();  // a malformed address is a usage error, found before anything
        setup_logging(settings.log_level);
    } catch (const app::ConfigError& e) {
        std::cerr << "keel: " << e.what() << "\n";
        return 2;
    }
    // With an API, the page comes along (a bootstrap's is the operator's view) when it was built.
    if (settings.api != "off" && settings.ui_dir.empty()) settings.ui_dir = find_ui_dir();
    // Each connection is a descriptor: a soft limit of 1024 (a shell's default) would stop a
    // bootstrap long before max_connections, with accept() failing in a loop.
    auto fds = net::raise_fd_limit();
    if (fds.soft > 0 && settings.max_connections + 64 > fds.soft)
        std::cerr << "keel: warning: limits.max_connections " << settings.max_connections
                  << " needs more file descriptors than the " << fds.soft
                  << " allowed (ulimit -n; LimitNOFILE= under systemd)\n";
    asio::io_context io;
    app::NodeRuntime::EventSink sink;
    if (flags.json) sink = [](const nlohmann::json& event) { emit(event); };
    std::unique_ptr<app::NodeRuntime> runtime;
    try {
        runtime = std::make_unique<app::NodeRuntime>(io.get_executor(), settings, role, sink);
        if (flags.echo) {
            auto& host = runtime->host();
            host.set_handler(std::string(protocols::echo_protocol_id),
                             [&host](std::shared_ptr<net::YamuxStream> stream,
                                     std::shared_ptr<Connection>) -> net::awaitable<void> {
                                 co_await protocols::serve_echo(*stream,
                                                                host.config().stream_idle_timeout);
                             });
        }
        runtime->start();
    } catch (const app::ConfigError& e) {
        std::cerr << "keel: " << e.what() << "\n";
        return 1;
    }
    if (!flags.json) {
        auto& host = runtime->host();
        std::cout << "Keel " << (role == NodeRole::bootstrap ? "bootstrap " : "node ")
                  << host.peer_id().to_base58() << " (DHT "
                  << (runtime->dht().config().server_mode ? "server" : "client") << ", "
                  << runtime->dht().config().profile.kad_protocol << ")\n";
        for (const auto& a : runtime->listen_addrs())
            std::cout << "Listening on " << a.to_string() << "\n";
        if (!runtime->api_url().empty()) std::cout << "API on " << runtime->api_url() << "\n";
        std::cout.flush();
    }
    runtime->join();

    // Under systemd: READY=1 now (listening, state loaded), and watchdog pings while the DHT
    // serves (a bootstrap or --dht-server) or, for a client, while the event loop turns.
    auto& dht = runtime->dht();
    app::ServiceNotifier notifier(io.get_executor(), [&dht] {
        return !dht.config().server_mode || app::dht_answers_find_node(dht);
    });
    const auto& restored = runtime->restored();
    notifier.ready("listening on " + runtime->listen_addrs().front().to_string() + "; restored " +
                   std::to_string(restored.routing_peers) + " routing peers, " +
                   std::to_string(restored.providers) + " provider records");
    notifier.start_watchdog();

    auto reload = [&]() {
        if (flags.config_file.empty()) {
            log_reload(flags, "nothing to reload (no --config)");
            return;
        }
        try {
            auto fresh = flags.resolve(role);
            if (auto logger = spdlog::get("keel"))
                logger->set_level(spdlog::level::from_str(fresh.log_level));
            log_reload(flags, runtime->reload(fresh));
        } catch (const app::ConfigError& e) {
            // A bad file on reload keeps the running configuration: never take a node down.
            log_reload(flags, std::string("kept the running configuration: ") + e.what());
        }
    };
    run_until_signal(
        io, {runtime.get()},
        [&] {
            notifier.stop_watchdog();
            notifier.stopping();
        },
        reload);
    if (flags.json) emit({{"event", "stopped"}});
    return 0;
}

}  // namespace

void add_node_command(CLI::App& app, int& exit_code) {
    auto flags = std::make_shared<NodeFlags>();
    auto* cmd = app.add_subcommand("node", "Run a libp2p node (DHT client unless --dht-server)");
    add_node_flags(*cmd, *flags, NodeRole::node, false);
    cmd->callback([flags, &exit_code]() { exit_code = run_node(*flags, NodeRole::node); });

    auto bflags = std::make_shared<NodeFlags>();
    auto* boot = app.add_subcommand("bootstrap", "Run a bootstrap node (always a DHT server)");
    add_node_flags(*boot, *bflags, NodeRole::bootstrap, false);
    boot->callback([bflags, &exit_code]() { exit_code = run_node(*bflags, NodeRole::bootstrap); });
}

}  // namespace keel::cli
