// keel health [ADDR...]: probe bootstraps functionally (connect, ping, FIND_NODE, Keel stats) and
// print one BootstrapHealth each; without ADDR, the bootstrap list of --config. Exit code: 0 all
// healthy, 1 some degraded, 2 some down, 3 bad arguments.
#include <boost/asio/io_context.hpp>
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"
#include "keel/app/health_json.hpp"
#include "keel/app/node_settings.hpp"
#include "keel/client/client_node.hpp"
#include "keel/health/bootstrap_probe.hpp"

namespace keel::cli {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

struct HealthOptions {
    std::vector<std::string> addrs;
    std::string config_file;
    std::string timeout = "10s";
    std::string profile = "ipfs";
    bool json = false;
    std::string log_level = "warn";
};

int run_health(const HealthOptions& o) {
    setup_logging(o.log_level);
    auto timeout = parse_duration(o.timeout);
    auto profile = kad::network_profile(o.profile);
    if (!timeout || !profile) {
        std::cerr << "keel health: bad --timeout or --profile\n";
        return 3;
    }
    auto texts = o.addrs;
    if (texts.empty() && !o.config_file.empty()) {
        auto settings = app::NodeSettings::defaults(app::NodeRole::node);
        try {
            app::apply_config_file(o.config_file, settings);
        } catch (const app::ConfigError& e) {
            std::cerr << "keel health: " << e.what() << "\n";
            return 3;
        }
        texts = settings.bootstrap;
    }
    if (texts.empty()) {
        std::cerr
            << "keel health: give bootstrap addresses, or --config FILE with node.bootstrap\n";
        return 3;
    }
    std::vector<Multiaddr> addrs;
    for (const auto& text : texts) {
        std::string why;
        auto addr = Multiaddr::parse(text, &why);
        if (!addr) {
            std::cerr << "keel health: " << text << ": " << why << "\n";
            return 3;
        }
        addrs.push_back(*addr);
    }
    asio::io_context io;
    client::ClientOptions options;
    options.network = *profile;
    options.phase_timeout = *timeout;
    client::ClientNode node(io.get_executor(), options);
    std::vector<health::BootstrapHealth> results(addrs.size());
    std::size_t pending = addrs.size();
    health::ProbeConfig probe;
    probe.timeout = *timeout;
    for (std::size_t i = 0; i < addrs.size(); ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> net::awaitable<void> {
                results[i] =
                    co_await health::probe_bootstrap(node.host(), node.dht(), addrs[i], probe);
                if (--pending == 0) node.stop();
            },
            asio::detached);
    }
    io.run();

    int code = 0;
    json out = json::array();
    for (const auto& h : results) {
        out.push_back(app::health_to_json(h));
        if (h.state == health::HealthState::down)
            code = 2;
        else if (h.state != health::HealthState::healthy)
            code = std::max(code, 1);
        if (!o.json) {
            std::cout << health::state_name(h.state) << "  " << h.addr.to_string();
            if (h.latency_ms) std::cout << "  ping " << *h.latency_ms << " ms";
            if (h.find_node_ms) std::cout << "  find_node " << *h.find_node_ms << " ms";
            if (h.routing_table_size)
                std::cout << "  table " << *h.routing_table_size << (h.stats_estimated ? "~" : "");
            if (!h.last_error.empty()) std::cout << "  (" << h.last_error << ")";
            std::cout << "\n";
        }
    }
    if (o.json) emit(out);
    return code;
}

}  // namespace

void add_health_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<HealthOptions>();
    auto* cmd = app.add_subcommand(
        "health",
        "Probe bootstraps: connect, ping, FIND_NODE (exit 0 healthy, 1 degraded, 2 down)");
    cmd->add_option("addrs", o->addrs, "Bootstrap multiaddrs ending in /p2p/ID");
    cmd->add_option("--config", o->config_file, "Probe the node.bootstrap list of this TOML file")
        ->check(CLI::ExistingFile);
    cmd->add_option("--timeout", o->timeout, "Deadline for each phase")->capture_default_str();
    cmd->add_option("--profile", o->profile, std::string(kad::profile_names))
        ->capture_default_str();
    cmd->add_flag("--json", o->json, "Print a JSON array");
    cmd->add_option("--log-level", o->log_level, "trace|debug|info|warn|error|off")
        ->capture_default_str();
    cmd->callback([o, &exit_code]() { exit_code = run_health(*o); });
}

}  // namespace keel::cli
