// keel node: run a libp2p node that serves identify and ping (and echo, for tests).
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"
#include "keel/crypto/identity_file.hpp"
#include "keel/host/host.hpp"
#include "keel/protocols/echo.hpp"

namespace keel::cli {

namespace asio = boost::asio;

namespace {

struct NodeOptions {
    std::vector<std::string> listen{"/ip4/127.0.0.1/tcp/4001"};
    std::string data_dir;
    std::string identity;
    bool no_inline_muxer = false;
    bool echo = false;
    bool json = false;
    std::string log_level = "info";
};

int run_node(const NodeOptions& opts) {
    setup_logging(opts.log_level);
    std::filesystem::path data_dir =
        opts.data_dir.empty() ? default_data_dir() : std::filesystem::path(opts.data_dir);
    std::filesystem::path key_path =
        opts.identity.empty() ? data_dir / "identity.key" : std::filesystem::path(opts.identity);
    auto key = load_or_create_identity(key_path);
    if (!key) {
        std::cerr << "keel node: identity " << key_path << ": " << key.error().message() << "\n";
        return 1;
    }

    asio::io_context io;
    HostConfig config(*key);
    config.inline_muxer = !opts.no_inline_muxer;
    Host host(io.get_executor(), std::move(config));
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
            std::cerr << "keel node: --listen " << text << ": " << why << "\n";
            return 2;
        }
        auto bound = host.listen(*addr);
        if (!bound) {
            std::cerr << "keel node: cannot listen on " << text << ": " << bound.error().message()
                      << "\n";
            return 1;
        }
        addrs.push_back(bound->to_string() + "/p2p/" + host.peer_id().to_base58());
    }

    if (opts.json) {
        emit({{"event", "listening"}, {"peer_id", host.peer_id().to_base58()}, {"addrs", addrs}});
        host.observe_connections([](const std::shared_ptr<Connection>& c, bool opened) {
            emit({{"event", opened ? "connection_opened" : "connection_closed"},
                  {"peer_id", c->peer.to_base58()},
                  {"addr", c->remote_addr.to_string()},
                  {"direction", c->direction == Direction::inbound ? "inbound" : "outbound"},
                  {"muxer_inlined", c->muxer_inlined}});
        });
    } else {
        std::cout << "Keel node " << host.peer_id().to_base58() << "\n";
        for (const auto& a : addrs) std::cout << "Listening on " << a.get<std::string>() << "\n";
        std::cout.flush();
    }

    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer shutdown_deadline(io);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        host.stop();
        // Connections get a moment to say GoAway; then we leave regardless.
        shutdown_deadline.expires_after(std::chrono::seconds(3));
        shutdown_deadline.async_wait([&](const boost::system::error_code&) { io.stop(); });
    });
    io.run();
    if (opts.json) emit({{"event", "stopped"}});
    return 0;
}

}  // namespace

void add_node_command(CLI::App& app, int& exit_code) {
    auto opts = std::make_shared<NodeOptions>();
    auto* cmd = app.add_subcommand("node", "Run a libp2p node (identify, ping)");
    cmd->add_option("--listen", opts->listen, "Multiaddr to listen on (repeatable)")
        ->capture_default_str();
    cmd->add_option("--data-dir", opts->data_dir,
                    "State directory (default: $KEEL_DATA_DIR or "
                    "~/.local/share/keel)");
    cmd->add_option("--identity", opts->identity, "Key file (default: DATA_DIR/identity.key)");
    cmd->add_flag("--no-inline-muxer", opts->no_inline_muxer,
                  "Do not offer Yamux inside the Noise handshake (negotiate it afterwards)");
    cmd->add_flag("--echo", opts->echo, "Serve /keel/echo/1.0.0 (for tests)");
    cmd->add_flag("--json", opts->json, "Print events as JSON lines");
    cmd->add_option("--log-level", opts->log_level, "trace|debug|info|warn|error|off")
        ->capture_default_str();
    cmd->callback([opts, &exit_code]() { exit_code = run_node(*opts); });
}

}  // namespace keel::cli
