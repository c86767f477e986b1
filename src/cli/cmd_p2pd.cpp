// keel p2pd: a Keel host driven over the libp2p daemon control protocol, with go-libp2p-daemon's
// command line (single-dash flags, `-flag=value`), so that daemon clients in any language and the
// @libp2p/interop suites can start and use it like `p2pd`.
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"
#include "keel/client/client_node.hpp"
#include "keel/crypto/identity_file.hpp"
#include "keel/p2pd/control_daemon.hpp"

namespace keel::cli {

namespace asio = boost::asio;

namespace {

struct P2pdOptions {
    std::string listen = "/unix/tmp/p2pd.sock";
    std::vector<std::string> host_addrs{"/ip4/127.0.0.1/tcp/0"};  // comma-separated on the line
    bool no_listen_addrs = false;
    std::string id;
    bool noise = true;
    bool tls = false;
    std::string muxer = "yamux";
    bool dht = false;
    bool dht_client = false;
    bool dht_server = false;
    bool bootstrap = false;
    std::vector<std::string> bootstrap_peers;
    bool quiet = false;
    std::string log_level = "warn";
    // go-libp2p-daemon features Keel does not have: accepted when off, an error when on.
    bool pubsub = false, relay = false, autonat = false, nat_port_map = false, conn_manager = false;
};

Multiaddr parse_flag_addr(const std::string& flag, const std::string& text) {
    std::string why;
    auto addr = Multiaddr::parse(text, &why);
    if (!addr) throw std::runtime_error("-" + flag + ": " + text + ": " + why);
    return *addr;
}

void check_supported(const P2pdOptions& o) {
    auto refuse = [](bool on, const std::string& what) {
        if (on) throw std::runtime_error(what + " is not supported by keel p2pd");
    };
    refuse(!o.noise, "-noise=false (Keel secures connections with Noise only)");
    refuse(o.tls, "-tls");
    refuse(o.muxer != "yamux", "-muxer=" + o.muxer + " (Keel speaks yamux)");
    refuse(o.pubsub, "-pubsub");
    refuse(o.relay, "-relay");
    refuse(o.autonat, "-autonat");
    refuse(o.nat_port_map, "-natPortMap");
    refuse(o.conn_manager, "-connManager");
}

int run_p2pd(const P2pdOptions& o) {
    check_supported(o);
    setup_logging(o.log_level);
    client::ClientOptions options;
    if (!o.id.empty()) {
        auto loaded = load_identity(o.id);
        if (!loaded)
            throw std::runtime_error("-id " + o.id + ": " + loaded.error().message() +
                                     " (a raw protobuf PrivateKey file, Ed25519)");
        options.key = *loaded;
    }
    using DhtMode = client::ClientOptions::DhtMode;
    options.dht = (o.dht || o.dht_server) ? DhtMode::server
                  : o.dht_client          ? DhtMode::client
                                          : DhtMode::none;
    std::vector<Multiaddr> host_addrs;
    if (!o.no_listen_addrs)
        for (const auto& text : o.host_addrs)
            if (!text.empty()) host_addrs.push_back(parse_flag_addr("hostAddrs", text));
    std::vector<Multiaddr> bootstrap_peers;
    for (const auto& text : o.bootstrap_peers)
        if (!text.empty()) bootstrap_peers.push_back(parse_flag_addr("bootstrapPeers", text));
    auto control_addr = parse_flag_addr("listen", o.listen);

    asio::io_context io;
    client::ClientNode node(io.get_executor(), options);
    auto& host = node.host();
    auto* dht = node.dht_if_any();
    for (const auto& addr : host_addrs) {
        auto bound = host.listen(addr);
        if (!bound)
            throw std::runtime_error("-hostAddrs " + addr.to_string() + ": " +
                                     bound.error().message());
    }
    if (dht) dht->start();
    p2pd::ControlDaemon daemon(host, dht);
    auto control = daemon.listen(control_addr);
    if (!control)
        throw std::runtime_error("-listen " + control_addr.to_string() + ": " +
                                 control.error().message());
    if (!bootstrap_peers.empty() && (o.bootstrap || dht)) {
        if (dht) {
            asio::co_spawn(io, dht->bootstrap(bootstrap_peers), asio::detached);
        } else {
            for (const auto& peer : bootstrap_peers)
                asio::co_spawn(
                    io, [&host, peer]() -> net::awaitable<void> { co_await host.connect(peer); },
                    asio::detached);
        }
    }
    // Installed before the lines below: a client may signal as soon as it has read them.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer linger(io);
    if (!o.quiet) {
        // The lines go-libp2p-daemon prints; clients wait for "Control socket:".
        std::cout << "Control socket: " << control->to_string() << "\n";
        std::cout << "Peer ID: " << host.peer_id().to_base58() << "\n";
        std::cout << "Peer Addrs:\n";
        for (const auto& addr : host.listen_addrs()) std::cout << addr.to_string() << "\n";
        std::cout << std::flush;
    }

    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        daemon.stop();
        node.stop();
        // Connections get a moment to say GoAway.
        linger.expires_after(std::chrono::milliseconds(200));
        linger.async_wait([&](const boost::system::error_code&) { io.stop(); });
    });
    io.run();
    return 0;
}

}  // namespace

void add_p2pd_command(CLI::App& app, int& exit_code) {
    auto options = std::make_shared<P2pdOptions>();
    auto* cmd = app.add_subcommand(
        "p2pd",
        "Run a libp2p daemon speaking the daemon control protocol (go-libp2p-daemon flags; "
        "-flag and --flag both work)");
    cmd->add_option("--listen", options->listen,
                    "Control endpoint: /unix/PATH or /ip4/ADDR/tcp/PORT")
        ->capture_default_str();
    cmd->add_option("--hostAddrs", options->host_addrs,
                    "Comma-separated multiaddrs for the libp2p host to listen on")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_flag("--noListenAddrs", options->no_listen_addrs, "Do not listen (dial only)");
    cmd->add_option("--id", options->id,
                    "Identity key file (raw protobuf PrivateKey, Ed25519); default: a new key")
        ->check(CLI::ExistingFile);
    cmd->add_flag("--noise", options->noise, "Noise security (the only one Keel has)");
    cmd->add_flag("--tls", options->tls, "TLS security (not supported)");
    cmd->add_option("--muxer", options->muxer, "Stream muxer: yamux")->capture_default_str();
    cmd->add_flag("--dht", options->dht, "Enable the Kademlia DHT as a full node (server)");
    cmd->add_flag("--dhtClient", options->dht_client, "Enable the DHT in client mode");
    cmd->add_flag("--dhtServer", options->dht_server, "Enable the DHT in server mode");
    cmd->add_flag("-b,--bootstrap", options->bootstrap, "Connect to the bootstrap peers");
    cmd->add_option("--bootstrapPeers", options->bootstrap_peers,
                    "Comma-separated bootstrap multiaddrs ending in /p2p/ID")
        ->delimiter(',');
    cmd->add_flag("--quiet", options->quiet, "Do not print the control socket and addresses");
    cmd->add_option("--log-level", options->log_level, "trace|debug|info|warn|error|off")
        ->capture_default_str();
    cmd->add_flag("--pubsub", options->pubsub, "(not supported)");
    cmd->add_flag("--relay", options->relay, "(not supported)");
    cmd->add_flag("--autonat", options->autonat, "(not supported)");
    cmd->add_flag("--natPortMap", options->nat_port_map, "(not supported)");
    cmd->add_flag("--connManager", options->conn_manager, "(not supported)");
    cmd->callback([options, &exit_code] {
        try {
            exit_code = run_p2pd(*options);
        } catch (const std::exception& e) {
            std::cerr << "keel p2pd: " << e.what() << "\n";
            exit_code = 2;
        }
    });
}

// go's flag package takes -name and --name alike; CLI11 wants --name for long options. Only the
// arguments after "p2pd" are rewritten, and only those that look like -name or -name=value.
std::vector<std::string> go_style_flags(int argc, char** argv) {
    std::vector<std::string> args(argv, argv + argc);
    bool in_p2pd = false;
    for (auto& arg : args) {
        if (!in_p2pd) {
            in_p2pd = arg == "p2pd";
            continue;
        }
        if (arg.size() > 2 && arg[0] == '-' && arg[1] != '-') arg.insert(0, "-");
    }
    return args;
}

}  // namespace keel::cli
