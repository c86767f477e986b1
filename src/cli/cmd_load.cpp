// keel load: open N real libp2p connections to one target (TCP, Noise XX, Yamux, identify, and
// optionally one FIND_NODE each) at R per second, hold them, close them, and report latencies,
// failures by phase and the target's memory (when it runs on this machine). docs/performance.md.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <thread>

#include "cli_support.hpp"
#include "commands.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/kad/network_profile.hpp"
#include "keel/load/load_runner.hpp"

namespace keel::cli {

using nlohmann::json;

namespace {

struct LoadOptions {
    std::string target;
    std::size_t connections = 100;
    double rate = 100;
    std::string duration = "10s";
    std::string timeout = "10s";
    bool find_node = false;
    bool find_node_loop = false;
    unsigned threads = 1;
    std::string source_addrs = "auto";
    pid_t target_pid = 0;
    std::string profile = "ipfs";
    bool one_identity = false;
    bool quiet = false;
    bool json = false;
    std::string log_level = "error";
};

// Connections per source address when --source-addrs is auto (and the target is on loopback).
constexpr std::size_t connections_per_source = 100;

std::string mib(std::uint64_t kb) {
    return fmt::format("{:.1f} MiB", static_cast<double>(kb) / 1024.0);
}

json latency_json(const load::LatencySummary& l) {
    return {{"count", l.count}, {"p50", l.p50}, {"p90", l.p90},
            {"p99", l.p99},     {"max", l.max}, {"mean", l.mean}};
}

json report_json(const LoadOptions& o, const load::LoadConfig& c, const load::LoadReport& r) {
    json errors = json::object();
    for (const auto& [phase, e] : r.errors)
        errors[phase] = {{"count", e.count}, {"messages", e.messages}};
    json target = nullptr;
    if (r.target) {
        const auto& t = *r.target;
        target = {{"pid", t.pid},
                  {"rss_before_kb", t.before.rss_kb},
                  {"rss_loaded_kb", t.loaded.rss_kb},
                  {"rss_after_kb", t.after ? json(t.after->rss_kb) : json(nullptr)},
                  {"rss_peak_kb", t.peak_rss_kb},
                  {"rss_per_connection_kb",
                   t.rss_per_connection_kb ? json(*t.rss_per_connection_kb) : json(nullptr)},
                  {"cpu_setup_s", t.cpu_setup_s},
                  {"cpu_hold_s", t.cpu_hold_s},
                  {"fds_before", t.before.open_fds},
                  {"fds_loaded", t.loaded.open_fds},
                  {"fds_after", t.after ? json(t.after->open_fds) : json(nullptr)},
                  {"threads", t.loaded.threads},
                  {"exited", t.exited}};
    }
    json loop = nullptr;
    if (r.find_node_loop) {
        const auto& l = *r.find_node_loop;
        loop = {{"ok", l.ok},
                {"failed", l.failed},
                {"per_s", l.per_s},
                {"latency_ms", latency_json(l.latency)},
                {"errors", l.errors}};
    }
    return {{"ok", r.held == r.attempted},
            {"target", o.target},
            {"connections", c.connections},
            {"rate", c.rate},
            {"hold_s", r.hold_s},
            {"find_node", c.find_node},
            {"threads", r.threads},
            {"source_addresses", r.source_addresses},
            {"shared_identity", r.shared_identity},
            {"attempted", r.attempted},
            {"handshaked", r.handshaked},
            {"identified", r.identified},
            {"find_node_ok", r.find_node_ok},
            {"held", r.held},
            {"success_rate", r.success_rate},
            {"latency_ms",
             {{"handshake", latency_json(r.handshake)},
              {"identify", latency_json(r.identify)},
              {"find_node", latency_json(r.find_node)},
              {"start_lag", latency_json(r.start_lag)}}},
            {"errors", errors},
            {"find_node_loop", loop},
            {"target_process", target},
            {"target_note", r.target_note},
            {"client",
             {{"ramp_s", r.ramp_s},
              {"setup_s", r.setup_s},
              {"achieved_rate", r.achieved_rate},
              {"cpu_s", r.client_cpu_s},
              {"peak_rss_kb", r.client_peak_rss_kb},
              {"fd_limit", {{"soft", r.fd_limit.soft}, {"hard", r.fd_limit.hard}}}}},
            {"machine_load_1m",
             {{"before", r.load_before ? json(*r.load_before) : json(nullptr)},
              {"loaded", r.load_loaded ? json(*r.load_loaded) : json(nullptr)}}}};
}

void print_text(const LoadOptions& o, const load::LoadConfig& c, const load::LoadReport& r) {
    std::cout << fmt::format(
        "keel load: {} connections to {}\n  {:g}/s, held {:.1f} s, {} thread{}, {}, {} source "
        "address{}{}\n\n",
        c.connections, o.target, c.rate, r.hold_s, r.threads, r.threads == 1 ? "" : "s",
        r.shared_identity ? "one peer ID per thread" : "one peer ID per connection",
        r.source_addresses ? std::to_string(r.source_addresses) : std::string("kernel-chosen"),
        r.source_addresses == 1 ? "" : "es", c.find_node ? ", one FIND_NODE each" : "");
    std::cout << fmt::format("succeeded   {} / {}  ({:.2f} %)\n\n", r.held, r.attempted,
                             100.0 * r.success_rate);
    std::cout << fmt::format("{:<12}{:>7}{:>10}{:>10}{:>10}{:>10}   (ms)\n", "", "count", "p50",
                             "p90", "p99", "max");
    auto row = [](const char* name, const load::LatencySummary& l) {
        std::cout << fmt::format("{:<12}{:>7}{:>10.2f}{:>10.2f}{:>10.2f}{:>10.2f}\n", name, l.count,
                                 l.p50, l.p90, l.p99, l.max);
    };
    row("handshake", r.handshake);
    row("identify", r.identify);
    if (c.find_node) row("find_node", r.find_node);
    row("start lag", r.start_lag);
    if (r.find_node_loop) {
        const auto& l = *r.find_node_loop;
        row("loop", l.latency);
        std::cout << fmt::format(
            "FIND_NODE loop during the hold: {} answered ({:.0f}/s), {} failed\n", l.ok, l.per_s,
            l.failed);
        for (const auto& [message, count] : l.errors)
            std::cout << fmt::format("  {} x{}\n", message, count);
    }
    if (r.errors.empty()) {
        std::cout << "\nerrors      none\n";
    } else {
        std::cout << "\nerrors by phase\n";
        for (const auto& [phase, e] : r.errors) {
            std::string messages;
            for (const auto& [message, count] : e.messages) {
                if (!messages.empty()) messages += "; ";
                messages += fmt::format("{} x{}", message, count);
            }
            std::cout << fmt::format("  {:<10}{:>7}  {}\n", phase, e.count, messages);
        }
    }
    std::cout << "\n";
    if (r.target) {
        const auto& t = *r.target;
        std::cout << fmt::format("target      pid {}, RSS {} before, {} loaded", t.pid,
                                 mib(t.before.rss_kb), mib(t.loaded.rss_kb));
        if (t.rss_per_connection_kb)
            std::cout << fmt::format(" ({:.1f} KiB per connection)", *t.rss_per_connection_kb);
        if (t.exited)
            std::cout << "; the target EXITED during the run";
        else if (t.after)
            std::cout << fmt::format(", {} after close", mib(t.after->rss_kb));
        std::cout << fmt::format("; peak {}\n", mib(t.peak_rss_kb));
        auto per_connection_ms =
            1000.0 * t.cpu_setup_s / static_cast<double>(std::max<std::size_t>(1, r.attempted));
        std::cout << fmt::format(
            "            CPU {:.2f} s setting up ({:.2f} ms per connection), {:.2f} s holding; "
            "fds {} -> {} -> {}\n",
            t.cpu_setup_s, per_connection_ms, t.cpu_hold_s, t.before.open_fds, t.loaded.open_fds,
            t.after ? std::to_string(t.after->open_fds) : std::string("-"));
    } else {
        std::cout << "target      no memory figures: " << r.target_note << "\n";
    }
    std::cout << fmt::format(
        "client      ramp {:.2f} s ({:.0f}/s), all set up after {:.2f} s, CPU {:.2f} s, peak "
        "RSS {}, fd limit {}\n",
        r.ramp_s, r.achieved_rate, r.setup_s, r.client_cpu_s, mib(r.client_peak_rss_kb),
        r.fd_limit.soft);
    if (r.load_before && r.load_loaded)
        std::cout << fmt::format(
            "machine     load average {:.2f} before, {:.2f} loaded ({} CPUs)\n", *r.load_before,
            *r.load_loaded, std::thread::hardware_concurrency());
}

int run_load_command(const LoadOptions& o) {
    setup_logging(o.log_level);
    auto usage = [&](const std::string& why) {
        if (o.json)
            emit({{"ok", false}, {"phase", "usage"}, {"error", why}});
        else
            std::cerr << "keel load: " << why << "\n";
        return 2;
    };
    load::LoadConfig c;
    std::string why;
    auto target = Multiaddr::parse(o.target, &why);
    if (!target) return usage("bad --target: " + why);
    if (!is_tcp_dialable(*target) && !o.target.starts_with("/dnsaddr/"))
        return usage("--target must be /ip4|ip6|dns*/HOST/tcp/PORT[/p2p/ID]");
    c.target = *target;
    auto hold = parse_duration(o.duration);
    auto timeout = parse_duration(o.timeout);
    if (!hold || !timeout || timeout->count() == 0) return usage("bad --duration or --timeout");
    auto profile = kad::network_profile(o.profile);
    if (!profile) return usage("unknown --profile (ipfs | chiral)");
    if (o.connections == 0) return usage("--connections must be at least 1");
    if (!(o.rate > 0) || !std::isfinite(o.rate)) return usage("--rate must be above 0");
    if (o.threads == 0 || o.threads > 64) return usage("--threads must be 1 to 64");
    c.connections = o.connections;
    c.rate = o.rate;
    c.hold = *hold;
    c.timeout = *timeout;
    c.find_node = o.find_node || o.find_node_loop;
    c.find_node_loop = o.find_node_loop;
    c.kad_protocol = profile->kad_protocol;
    c.identify_protocol_version = profile->identify_protocol_version;
    c.agent_version = profile->agent_version;
    c.threads = o.threads;
    c.shared_identity = o.one_identity;
    if (o.target_pid > 0) c.target_pid = o.target_pid;

    auto endpoint = tcp_endpoint(c.target);
    bool loopback = endpoint && endpoint->address().is_loopback();
    if (o.source_addrs == "auto") {
        if (loopback && c.connections > connections_per_source)
            c.source_addresses =
                (c.connections + connections_per_source - 1) / connections_per_source;
    } else if (o.source_addrs != "off") {
        try {
            std::size_t used = 0;
            c.source_addresses = std::stoul(o.source_addrs, &used);
            if (used != o.source_addrs.size() || c.source_addresses > 65'000) throw 0;
        } catch (...) {
            return usage("--source-addrs must be auto, off or a count up to 65000");
        }
        if (c.source_addresses > 0 && !(endpoint && endpoint->address().is_v4() && loopback))
            return usage("--source-addrs needs a target on 127.0.0.0/8");
    }

    // Every connection is a descriptor here (and one at the target).
    auto limit = net::raise_fd_limit();
    if (limit.soft < load::fds_needed(c.connections)) {
        std::cerr << fmt::format(
            "keel load: warning: {} connections need about {} file descriptors, but the limit "
            "is {} (hard {}): raise it (ulimit -Hn, LimitNOFILE=) or expect \"Too many open "
            "files\" failures\n",
            c.connections, load::fds_needed(c.connections), limit.soft, limit.hard);
    }
    if (c.source_addresses == 0) {
        if (auto ports = load::ephemeral_port_count(); ports && c.connections + 1000 > *ports)
            std::cerr << fmt::format(
                "keel load: warning: {} connections from one address to one target can exhaust "
                "the {} ephemeral ports; on loopback use --source-addrs\n",
                c.connections, *ports);
    }

    std::function<void(const load::Progress&)> progress;
    if (!o.quiet) {
        progress = [](const load::Progress& p) {
            std::string rss;
            if (p.target_rss_kb) rss = "  target RSS " + mib(*p.target_rss_kb);
            std::cerr << fmt::format(
                "keel load: {:6.1f} s {:<5} started {}/{}  open {}  failed {}{}\n", p.elapsed_s,
                p.stage, p.started, p.total, p.open, p.failed, rss);
        };
    }
    auto report = load::run_load(c, progress);
    if (report.target) {
        if (auto target_limit = load::process_fd_limit(report.target->pid);
            target_limit && *target_limit < load::fds_needed(c.connections))
            std::cerr << fmt::format(
                "keel load: note: the target's descriptor limit is {}, below the {} its "
                "connections need\n",
                *target_limit, load::fds_needed(c.connections));
    }
    if (o.json)
        emit(report_json(o, c, report));
    else
        print_text(o, c, report);
    return report.held == report.attempted ? 0 : 1;
}

}  // namespace

void add_load_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<LoadOptions>();
    auto* cmd = app.add_subcommand(
        "load",
        "Open many real connections to one peer (Noise, Yamux, identify, optionally FIND_NODE), "
        "hold them, and report latencies, failures by phase and the target's memory");
    cmd->add_option("--target", o->target, "Multiaddr of the peer, ideally ending in /p2p/ID")
        ->required();
    // Digits only: CLI11 would read "-5" into an unsigned count as 18446744073709551611.
    auto whole_number = [](const std::string& v) {
        bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
        return digits && v.size() <= 9 ? std::string() : "expected a whole number from 1";
    };
    cmd->add_option("--connections,-n", o->connections, "How many connections")
        ->check(whole_number)
        ->capture_default_str();
    cmd->add_option("--rate,-r", o->rate, "New connections per second")->capture_default_str();
    cmd->add_option("--duration,-d", o->duration,
                    "How long to hold them all open once set up (e.g. 30s)")
        ->capture_default_str();
    cmd->add_flag("--find-node", o->find_node, "Send one Kademlia FIND_NODE on each connection");
    cmd->add_flag("--find-node-loop", o->find_node_loop,
                  "During the hold, send FIND_NODE back to back on every connection (a new stream "
                  "each; implies --find-node): the target's request throughput");
    cmd->add_option("--timeout", o->timeout, "Deadline of each phase (dial, handshake, ...)")
        ->capture_default_str();
    cmd->add_option("--threads", o->threads, "Worker threads, each with its own event loop")
        ->check(whole_number)
        ->capture_default_str();
    cmd->add_option("--source-addrs", o->source_addrs,
                    "auto | off | K: spread the connections over K addresses 127.1.0.1... (a "
                    "target on loopback; auto: one per 100 connections above 100)")
        ->capture_default_str();
    cmd->add_option("--target-pid", o->target_pid,
                    "The target's process, for its memory (default: found by the listening port)");
    cmd->add_option("--profile", o->profile,
                    std::string(kad::profile_names) + ": the Kademlia and identify protocols")
        ->capture_default_str();
    cmd->add_flag("--one-identity", o->one_identity,
                  "Dial every connection of a thread from one peer ID (default: one per "
                  "connection, like real clients)");
    cmd->add_flag("--quiet,-q", o->quiet, "No progress lines on stderr");
    cmd->add_flag("--json", o->json, "Print one JSON object");
    cmd->add_option("--log-level", o->log_level, "trace|debug|info|warn|error|off")
        ->capture_default_str();
    cmd->callback([o, &exit_code]() { exit_code = run_load_command(*o); });
}

}  // namespace keel::cli
