// keel up: the one command a newcomer runs. Starts a node with its HTTP API (and the web UI when
// it is built) joined to the given --bootstrap list, or, by default, to a small local network run
// in the same process: two embedded bootstraps that know each other, and one local peer (a plain
// DHT server joined to them). Two bootstraps, not one: a lone bootstrap's FIND_NODE can name no
// other peer, and Keel calls that (honestly) degraded. The local peer: discovery verification
// needs a peer besides us and the bootstraps to discover, ping and be pinged back by; without
// one, a newcomer's first run could only report "not enough peers".
#include <filesystem>
#include <iostream>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "node_options.hpp"

namespace keel::cli {

namespace asio = boost::asio;
using app::NodeRole;
using nlohmann::json;

namespace {

struct UpOptions {
    NodeFlags flags;
    int local_port = 4011;  // the embedded bootstraps listen on this port and the next, the
                            // local peer on the one after
};

// How long the node waits for the local peer to be in the bootstraps' routing tables before it
// joins anyway: its first lookup then finds the local peer instead of a later refresh.
constexpr auto local_peer_join_wait = std::chrono::seconds(10);

int run_up(const UpOptions& o) {
    app::NodeSettings settings;
    try {
        settings = o.flags.resolve(NodeRole::node);
        settings.api_endpoint();  // a malformed address is a usage error, found before anything
        setup_logging(settings.log_level);
    } catch (const app::ConfigError& e) {
        std::cerr << "keel up: " << e.what() << "\n";
        return 2;
    }
    if (settings.ui_dir.empty()) settings.ui_dir = find_ui_dir();
    if (settings.api == "off") {
        std::cerr << "keel up: the API cannot be off here (it is what `keel up` is for)\n";
        return 2;
    }
    asio::io_context io;
    auto sink_for = [&o](std::string name) -> app::NodeRuntime::EventSink {
        if (!o.flags.json) return {};
        return [name](const json& event) {
            auto tagged = event;
            tagged["node"] = name;
            emit(tagged);
        };
    };

    std::vector<std::unique_ptr<app::NodeRuntime>> local;  // the embedded bootstraps
    std::unique_ptr<app::NodeRuntime> local_peer;
    std::unique_ptr<app::NodeRuntime> node;
    try {
        bool embedded = settings.bootstrap.empty();
        if (embedded) {
            for (int i = 0; i < 2; ++i) {
                auto b = app::NodeSettings::defaults(NodeRole::bootstrap);
                b.data_dir = (std::filesystem::path(settings.data_dir) /
                              ("local-bootstrap-" + std::to_string(i + 1)))
                                 .string();
                int port = o.local_port == 0 ? 0 : o.local_port + i;
                b.listen = {"/ip4/127.0.0.1/tcp/" + std::to_string(port)};
                b.profile = settings.profile;
                b.kad_protocol = settings.kad_protocol;
                b.k = settings.k;
                b.rpc_timeout = settings.rpc_timeout;
                local.push_back(std::make_unique<app::NodeRuntime>(
                    io.get_executor(), b, NodeRole::bootstrap,
                    sink_for("local-bootstrap-" + std::to_string(i + 1))));
                local.back()->start();
            }
            // Each embedded bootstrap knows the other, so that a FIND_NODE names a peer.
            for (std::size_t i = 0; i < local.size(); ++i) {
                auto& other = *local[(i + 1) % local.size()];
                auto& dht = local[i]->dht();
                auto addrs = other.listen_addrs();
                asio::co_spawn(
                    io, [&dht, addrs]() { return dht.bootstrap(addrs); }, asio::detached);
                for (const auto& a : local[i]->listen_addrs())
                    settings.bootstrap.push_back(a.to_string());
            }
            // The local peer: a plain node, but a DHT server (so that FIND_NODE names it), no API.
            auto p = app::NodeSettings::defaults(NodeRole::node);
            p.data_dir = (std::filesystem::path(settings.data_dir) / "local-peer").string();
            int port = o.local_port == 0 ? 0 : o.local_port + 2;
            p.listen = {"/ip4/127.0.0.1/tcp/" + std::to_string(port)};
            p.api = "off";
            p.dht_server = true;
            p.bootstrap = settings.bootstrap;
            p.profile = settings.profile;
            p.kad_protocol = settings.kad_protocol;
            p.k = settings.k;
            p.rpc_timeout = settings.rpc_timeout;
            local_peer = std::make_unique<app::NodeRuntime>(io.get_executor(), p, NodeRole::node,
                                                            sink_for("local-peer"));
            local_peer->start();
            local_peer->join();
        }
        node = std::make_unique<app::NodeRuntime>(io.get_executor(), settings, NodeRole::node,
                                                  sink_for("node"));
        node->start();
        if (local_peer) {
            std::vector<app::LocalPeer> labels;
            for (std::size_t i = 0; i < local.size(); ++i)
                labels.push_back({local[i]->host().peer_id(), "bootstrap",
                                  "local-bootstrap-" + std::to_string(i + 1)});
            labels.push_back({local_peer->host().peer_id(), "peer", "local-peer"});
            node->set_local_peers(std::move(labels));
        }
    } catch (const app::ConfigError& e) {
        std::cerr << "keel up: " << e.what() << "\n";
        if (std::string_view(e.what()).find("cannot") != std::string_view::npos)
            std::cerr << "(is another keel already running? try --local-port 0 --listen "
                         "/ip4/127.0.0.1/tcp/0 --api 127.0.0.1:0, or stop it)\n";
        return 1;
    }

    json bootstraps = json::array();
    for (const auto& b : settings.bootstrap) bootstraps.push_back(b);
    json node_addrs = json::array();
    for (const auto& a : node->listen_addrs()) node_addrs.push_back(a.to_string());
    json local_peer_json;  // null with --bootstrap
    if (local_peer) {
        json addrs = json::array();
        for (const auto& a : local_peer->listen_addrs()) addrs.push_back(a.to_string());
        local_peer_json = {{"peer_id", local_peer->host().peer_id().to_base58()}, {"addrs", addrs}};
    }
    if (o.flags.json) {
        emit({{"event", "up"},
              {"api", node->api_url()},
              {"ui", !settings.ui_dir.empty()},
              {"peer_id", node->host().peer_id().to_base58()},
              {"addrs", node_addrs},
              {"bootstraps", bootstraps},
              {"embedded_bootstraps", !local.empty()},
              {"local_peer", local_peer_json}});
    } else {
        std::cout << "Keel is up.\n";
        std::cout << "  " << (settings.ui_dir.empty() ? "API" : "Web UI and API") << ": "
                  << node->api_url() << "\n";
        std::cout << "  Node " << node->host().peer_id().to_base58() << "\n";
        for (const auto& a : node_addrs)
            std::cout << "    listening on " << a.get<std::string>() << "\n";
        std::cout << (local.empty() ? "  Bootstraps:\n"
                                    : "  Local bootstraps (in this process):\n");
        for (const auto& b : settings.bootstrap) std::cout << "    " << b << "\n";
        if (local_peer) {
            std::cout << "  Local peer (in this process, for the diagnostics to discover):\n";
            for (const auto& a : local_peer->listen_addrs())
                std::cout << "    " << a.to_string() << "\n";
        }
        if (!local.empty())
            std::cout << "  Another node can join them: keel node --listen /ip4/127.0.0.1/tcp/0 "
                         "--api 127.0.0.1:0 --data-dir DIR --bootstrap "
                      << settings.bootstrap.front() << "\n";
        std::cout << "  Check discovery: curl -X POST '" << node->api_url()
                  << "/api/v1/diagnostics?wait=1'\n";
        std::cout << "Ctrl-C stops it." << std::endl;
    }
    bool stopping = false;
    if (local_peer) {
        // The node joins once the local peer is in both bootstraps' routing tables, so that the
        // node's first lookup finds it (after local_peer_join_wait it joins anyway).
        asio::co_spawn(
            io,
            [&]() -> net::awaitable<void> {
                asio::steady_timer poll(co_await asio::this_coro::executor);
                auto deadline = std::chrono::steady_clock::now() + local_peer_join_wait;
                auto known = [&] {
                    for (auto& b : local)
                        if (!b->dht().routing_table().contains(local_peer->host().peer_id()))
                            return false;
                    return true;
                };
                while (!known() && !stopping && std::chrono::steady_clock::now() < deadline) {
                    poll.expires_after(std::chrono::milliseconds(20));
                    co_await poll.async_wait(net::use_result);
                }
                if (!stopping) node->join();
            },
            asio::detached);
    } else {
        node->join();
    }
    std::vector<app::NodeRuntime*> all{node.get()};
    if (local_peer) all.push_back(local_peer.get());
    for (auto& b : local) all.push_back(b.get());
    run_until_signal(io, all, [&] { stopping = true; });
    if (o.flags.json) emit({{"event", "stopped"}});
    return 0;
}

}  // namespace

void add_up_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<UpOptions>();
    auto* cmd = app.add_subcommand(
        "up",
        "Start a node with its web UI and API, joined to two local bootstraps and a local peer "
        "(default) or to --bootstrap");
    add_node_flags(*cmd, o->flags, NodeRole::node, true);
    cmd->add_option("--local-port", o->local_port,
                    "Port of the first embedded bootstrap (the second uses the next, the local "
                    "peer the one after; 0: any)")
        ->capture_default_str();
    cmd->callback([o, &exit_code]() { exit_code = run_up(*o); });
}

}  // namespace keel::cli
