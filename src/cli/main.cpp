// keel: a libp2p node that keeps its users connected. See README.md.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Keel: a libp2p node with bootstrap health, failover and discovery checks"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("keel ") + KEEL_VERSION);
    int exit_code = 0;
    keel::cli::add_id_command(app, exit_code);
    keel::cli::add_up_command(app, exit_code);
    keel::cli::add_node_command(app, exit_code);
    keel::cli::add_ping_command(app, exit_code);
    keel::cli::add_dht_command(app, exit_code);
    keel::cli::add_health_command(app, exit_code);
    keel::cli::add_verify_command(app, exit_code);
    keel::cli::add_load_command(app, exit_code);
    keel::cli::add_p2pd_command(app, exit_code);
    try {
        auto args = keel::cli::go_style_flags(argc, argv);
        std::vector<char*> pointers;
        for (auto& a : args) pointers.push_back(a.data());
        app.parse(static_cast<int>(pointers.size()), pointers.data());
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::exception& e) {
        std::cerr << "keel: " << e.what() << "\n";
        return 2;
    }
    return exit_code;
}
