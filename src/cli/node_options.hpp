#pragma once
// Options shared by `keel node` and `keel bootstrap`, and how they become a running Host + DHT.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace keel::cli {

struct NodeOptions {
    std::vector<std::string> listen{"/ip4/127.0.0.1/tcp/4001"};
    std::vector<std::string> bootstrap;
    std::string data_dir;
    std::string identity;
    std::string profile = "ipfs";
    std::string kad_protocol;  // overrides the profile's
    bool dht_server = false;
    bool no_inline_muxer = false;
    bool echo = false;
    bool json = false;
    std::string log_level = "info";
    std::string api = "127.0.0.1:5080";  // host:port of the local HTTP API; "off" disables it
    std::string ui_dir;                  // static files of the web UI, served at /
};

void add_node_options(CLI::App& cmd, NodeOptions& opts, bool is_bootstrap);
// Runs until SIGINT/SIGTERM; returns the exit code.
int run_node(const NodeOptions& opts, bool is_bootstrap);

}  // namespace keel::cli
