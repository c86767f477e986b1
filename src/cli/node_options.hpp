#pragma once
// Flags shared by `keel node`, `keel bootstrap` and `keel up`, and how they combine with a TOML
// config file: defaults < --config FILE < flags given on the command line.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <string>
#include <vector>

#include "keel/app/node_runtime.hpp"

namespace keel::cli {

struct NodeFlags {
    app::NodeSettings values;  // what the flags parsed into
    std::string config_file;
    bool json = false;
    bool echo = false;
    // Copies a flag's value into settings, for each flag given on the command line.
    std::vector<std::pair<CLI::Option*, std::function<void(app::NodeSettings&)>>> given;

    // Defaults for `role`, then the config file, then the flags given. Throws app::ConfigError.
    app::NodeSettings resolve(app::NodeRole role) const;
};

void add_node_flags(CLI::App& cmd, NodeFlags& flags, app::NodeRole role, bool embedded_network);
// Runs the runtimes on one io_context until SIGINT/SIGTERM, then stops them gracefully (up to 3 s
// for connections to close) and flushes their state. `on_stop` runs when the signal arrives,
// `on_reload` on each SIGHUP (SIGHUP is ignored without one).
void run_until_signal(boost::asio::io_context& io, std::vector<app::NodeRuntime*> runtimes,
                      std::function<void()> on_stop = {}, std::function<void()> on_reload = {});

}  // namespace keel::cli
