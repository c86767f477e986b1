// keel ping: dial a peer with a deadline on every phase, identify it, and measure ping RTTs.
// On failure the message and the exit code name the phase that failed.
#include <boost/asio/io_context.hpp>
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"
#include "keel/client/client_node.hpp"
#include "keel/host/host.hpp"
#include "keel/net/deadline.hpp"
#include "keel/protocols/ping.hpp"

namespace keel::cli {

namespace asio = boost::asio;

namespace {

struct PingOptions {
    std::string addr;
    int count = 3;
    std::string timeout = "10s";
    std::string interval = "1s";
    bool no_inline_muxer = false;
    bool json = false;
    std::string log_level = "warn";
};

struct PingReport {
    std::optional<Failure> failure;
    std::string agent_version;
    bool muxer_inlined = false;
    double connect_ms = 0;
    std::vector<double> rtts_ms;
};

double to_ms(net::Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

net::awaitable<void> ping_peer(Host& host, Multiaddr addr, const PingOptions& opts,
                               net::Duration timeout, net::Duration interval, PingReport& report) {
    auto start = net::Clock::now();
    auto conn = co_await host.dial(addr);
    if (!conn) {
        report.failure = conn.error();
        co_return;
    }
    report.connect_ms = to_ms(net::Clock::now() - start);
    report.muxer_inlined = (*conn)->muxer_inlined;
    if (auto identified = co_await host.wait_identified(*conn); !identified) {
        report.failure = identified.error();
        co_return;
    }
    if (auto info = host.peer_store().get((*conn)->peer))
        report.agent_version = info->agent_version;
    std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
    auto stream = co_await host.new_stream(*conn, std::move(wanted));
    if (!stream) {
        report.failure = stream.error();
        co_return;
    }
    for (int i = 0; i < opts.count; ++i) {
        if (i > 0) {
            asio::steady_timer pause(host.get_executor(), interval);
            co_await pause.async_wait(net::use_result);
        }
        auto rtt = co_await net::with_deadline(protocols::ping_once(**stream), timeout);
        if (!rtt) {
            report.failure = Failure{Phase::protocol, rtt.error(), "ping"};
            co_return;
        }
        report.rtts_ms.push_back(std::chrono::duration<double, std::milli>(*rtt).count());
        if (!opts.json)
            std::cout << "pong from " << (*conn)->peer.short_string()
                      << ": rtt=" << report.rtts_ms.back() << " ms" << std::endl;
    }
    co_await (*stream)->close_write();
}

int run_ping(const PingOptions& opts) {
    setup_logging(opts.log_level);
    auto fail_usage = [&](const std::string& why) {
        if (opts.json)
            emit({{"ok", false}, {"phase", "usage"}, {"error", why}});
        else
            std::cerr << "keel ping: " << why << "\n";
        return 2;
    };
    std::string why;
    auto addr = Multiaddr::parse(opts.addr, &why);
    if (!addr) return fail_usage("bad address: " + why);
    auto timeout = parse_duration(opts.timeout);
    auto interval = parse_duration(opts.interval);
    if (!timeout || !interval) return fail_usage("bad duration");

    asio::io_context io;
    client::ClientOptions options;
    options.inline_muxer = !opts.no_inline_muxer;
    options.phase_timeout = *timeout;
    options.dht = client::ClientOptions::DhtMode::none;
    client::ClientNode node(io.get_executor(), options);
    PingReport report;
    asio::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            co_await ping_peer(node.host(), *addr, opts, *timeout, *interval, report);
            node.stop();
        },
        asio::detached);
    io.run();

    std::string peer;
    if (const auto* p2p = addr->find(proto_code::p2p))
        if (auto id = PeerId::from_bytes(p2p->value)) peer = id->to_base58();
    if (report.failure) {
        if (opts.json) {
            emit({{"ok", false},
                  {"phase", phase_name(report.failure->phase)},
                  {"error", report.failure->error.message()},
                  {"addr", opts.addr}});
        } else {
            std::cerr << "keel ping: " << report.failure->message() << "\n";
        }
        return 1;
    }
    if (opts.json) {
        emit({{"ok", true},
              {"peer_id", peer},
              {"addr", opts.addr},
              {"agent_version", report.agent_version},
              {"muxer_inlined", report.muxer_inlined},
              {"connect_ms", report.connect_ms},
              {"rtts_ms", report.rtts_ms}});
    }
    return 0;
}

}  // namespace

void add_ping_command(CLI::App& app, int& exit_code) {
    auto opts = std::make_shared<PingOptions>();
    auto* cmd = app.add_subcommand("ping", "Dial a peer and measure ping round trips");
    cmd->add_option("addr", opts->addr, "Multiaddr of the peer, ideally ending in /p2p/ID")
        ->required();
    cmd->add_option("--count,-c", opts->count, "Number of pings")->capture_default_str();
    cmd->add_option("--timeout", opts->timeout, "Deadline for each phase (dial, handshake, ...)")
        ->capture_default_str();
    cmd->add_option("--interval", opts->interval, "Pause between pings")->capture_default_str();
    cmd->add_flag("--no-inline-muxer", opts->no_inline_muxer,
                  "Do not offer Yamux inside the Noise handshake");
    cmd->add_flag("--json", opts->json, "Print one JSON object");
    cmd->add_option("--log-level", opts->log_level, "trace|debug|info|warn|error|off")
        ->capture_default_str();
    cmd->callback([opts, &exit_code]() { exit_code = run_ping(*opts); });
}

}  // namespace keel::cli
