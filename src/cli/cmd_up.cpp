// keel up: the one command a newcomer runs. Starts a node with its HTTP API (and the web UI when
// it is built) joined to the given --bootstrap list, or, by default, to a small local network run
// in the same process: two embedded bootstraps that know each other. Two, not one: a lone
// bootstrap's FIND_NODE can name no other peer, and Keel calls that (honestly) degraded.
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
    int local_port = 4011;  // the embedded bootstraps listen on this port and the next
};

// The web UI's built files (scripts/setup builds them into ui/dist): those of the checkout this
// binary was built from, else a ui/dist next to the working directory.
std::string find_ui_dir() {
    std::vector<std::filesystem::path> candidates;
#ifdef KEEL_SOURCE_UI_DIR
    candidates.emplace_back(KEEL_SOURCE_UI_DIR);
#endif
    for (const char* relative : {"ui/dist", "../ui/dist", "../../ui/dist"})
        candidates.emplace_back(relative);
    for (const auto& candidate : candidates)
        if (std::filesystem::exists(candidate / "index.html"))
            return std::filesystem::absolute(candidate).string();
    return {};
}

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

    std::vector<std::unique_ptr<app::NodeRuntime>> local;
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
        }
        node = std::make_unique<app::NodeRuntime>(io.get_executor(), settings, NodeRole::node,
                                                  sink_for("node"));
        node->start();
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
    if (o.flags.json) {
        emit({{"event", "up"},
              {"api", node->api_url()},
              {"ui", !settings.ui_dir.empty()},
              {"peer_id", node->host().peer_id().to_base58()},
              {"addrs", node_addrs},
              {"bootstraps", bootstraps},
              {"embedded_bootstraps", !local.empty()}});
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
        if (!local.empty())
            std::cout << "  Another node can join them: keel node --listen /ip4/127.0.0.1/tcp/0 "
                         "--api 127.0.0.1:0 --data-dir DIR --bootstrap "
                      << settings.bootstrap.front() << "\n";
        std::cout << "  Check discovery: curl -X POST '" << node->api_url()
                  << "/api/v1/diagnostics?wait=1'\n";
        std::cout << "Ctrl-C stops it." << std::endl;
    }
    node->join();
    std::vector<app::NodeRuntime*> all{node.get()};
    for (auto& b : local) all.push_back(b.get());
    run_until_signal(io, all);
    if (o.flags.json) emit({{"event", "stopped"}});
    return 0;
}

}  // namespace

void add_up_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<UpOptions>();
    auto* cmd = app.add_subcommand(
        "up",
        "Start a node with its web UI and API, joined to two local bootstraps (default) "
        "or to --bootstrap");
    add_node_flags(*cmd, o->flags, NodeRole::node, true);
    cmd->add_option("--local-port", o->local_port,
                    "Port of the first embedded bootstrap (the second uses the next; 0: any)")
        ->capture_default_str();
    cmd->callback([o, &exit_code]() { exit_code = run_up(*o); });
}

}  // namespace keel::cli
