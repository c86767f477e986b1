#pragma once
// The keel subcommands. Each registers its options on the CLI11 app and runs when chosen.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace keel::cli {

// Each returns the process exit code through `exit_code` once the command has run.
void add_id_command(CLI::App& app, int& exit_code);
void add_node_command(CLI::App& app, int& exit_code);
void add_up_command(CLI::App& app, int& exit_code);
void add_ping_command(CLI::App& app, int& exit_code);
void add_dht_command(CLI::App& app, int& exit_code);
void add_health_command(CLI::App& app, int& exit_code);
void add_verify_command(CLI::App& app, int& exit_code);
void add_load_command(CLI::App& app, int& exit_code);
void add_p2pd_command(CLI::App& app, int& exit_code);

// keel p2pd accepts go-libp2p-daemon's single-dash flags: returns argv with those rewritten.
std::vector<std::string> go_style_flags(int argc, char** argv);

}  // namespace keel::cli
