#pragma once
// A connection load generator: opens N real libp2p connections to one target (TCP, Noise XX,
// Yamux, identify; optionally one Kademlia FIND_NODE each) at R new connections per second, holds
// them all open for a while, then closes them, and reports latencies, failures by phase and the
// target's memory when it is a process on this machine. The engine of `keel load`.
//
// Threading: `threads` workers, each with its own io_context and its own Hosts (each Host
// single-threaded). By default each connection is its own peer (a Host with a fresh identity),
// as real clients are; `shared_identity` makes each worker dial all of its connections from one
// Host. run_load() blocks until the run is over; `on_progress` is called from the calling thread.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "keel/load/process_stats.hpp"
#include "keel/multiaddr/multiaddr.hpp"
#include "keel/net/asio.hpp"
#include "keel/net/process_limits.hpp"

namespace keel::load {

struct LoadConfig {
    Multiaddr target;  // /ip4|ip6|dns*/…/tcp/P, ideally ending in /p2p/ID (then checked)
    std::size_t connections = 100;
    double rate = 100;              // new connections per second, over all workers
    net::Duration hold{10'000};     // once every connection is set up (or failed)
    net::Duration timeout{10'000};  // each phase: dial, handshake, identify, FIND_NODE
    bool find_node = false;         // one FIND_NODE per connection, on its own stream
    // During the hold, every held connection sends FIND_NODE back to back (a new stream each):
    // the target's request throughput with `connections` peers connected.
    bool find_node_loop = false;
    std::string kad_protocol = "/ipfs/kad/1.0.0";
    std::string identify_protocol_version = "ipfs/0.1.0";
    std::string agent_version;  // empty: Keel's own
    unsigned threads = 1;
    bool shared_identity = false;
    // Local addresses the dials are spread over, round robin: 127.1.0.1, 127.1.0.2, … (target on
    // loopback only). 0: the kernel's choice.
    std::size_t source_addresses = 0;
    std::optional<pid_t> target_pid;  // else found by the listening port, if the target is local
    net::Duration settle{1'000};      // after closing, before the target's memory is read again
    net::Duration progress_interval{1'000};
};

// The first source address of a spread (127.1.0.1) and the i-th one.
boost::asio::ip::address source_address(std::size_t index);

struct Progress {
    double elapsed_s = 0;
    std::string stage;  // "ramp", "hold", "close"
    std::size_t total = 0;
    std::size_t started = 0;
    std::size_t open = 0;  // set up and still held
    std::size_t failed = 0;
    std::optional<std::uint64_t> target_rss_kb;
};

struct LatencySummary {
    std::size_t count = 0;
    double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;  // milliseconds
};
// Nearest-rank percentiles of `samples_ms` (sorted in place).
LatencySummary summarize(std::vector<double>& samples_ms);

struct PhaseErrors {
    std::uint64_t count = 0;
    std::map<std::string, std::uint64_t> messages;  // error message -> how many
};

// The hold's FIND_NODE loop (LoadConfig::find_node_loop): requests that completed within the hold.
struct LoopReport {
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;  // a connection stops looping at its first failure
    double per_s = 0;          // ok / hold_s
    LatencySummary latency;
    std::map<std::string, std::uint64_t> errors;  // error message -> how many
};

struct TargetReport {
    pid_t pid = 0;
    ProcessSample before;  // before the first connection
    ProcessSample set_up;  // when every connection was set up (or failed): hold starts
    ProcessSample loaded;  // at the end of the hold, every connection open
    // `settle` after every connection was closed; nullopt if the target is gone by then.
    std::optional<ProcessSample> after;
    bool exited = false;  // the process was gone at the end of the hold (its figures stop there)
    std::uint64_t peak_rss_kb = 0;  // the most RSS seen during the run (sampled each second)
    double cpu_setup_s = 0;         // CPU time the target spent from before to set_up
    double cpu_hold_s = 0;          // and from set_up to loaded: what idle connections cost
    // (loaded.rss - before.rss) / connections held; nullopt when none was held.
    std::optional<double> rss_per_connection_kb;
};

struct LoadReport {
    std::size_t attempted = 0;
    std::size_t handshaked = 0;  // TCP + Noise + Yamux done
    std::size_t identified = 0;
    std::size_t find_node_ok = 0;
    std::size_t held = 0;      // set up completely and still open at the end of the hold
    double success_rate = 0;   // held / attempted
    LatencySummary handshake;  // connect start to upgraded (TCP connect + Noise XX + Yamux)
    LatencySummary identify;   // upgraded to identified (the target's identify answer)
    LatencySummary find_node;  // stream open + request + response
    LatencySummary start_lag;  // how late connections started against the schedule
    // By Failure phase: dial, security, muxer, identify, protocol (the FIND_NODE), and "hold" for
    // connections that were set up but closed before the hold ended.
    std::map<std::string, PhaseErrors> errors;
    double ramp_s = 0;   // first connection start to last connection start
    double setup_s = 0;  // first start until every connection was set up or failed
    double hold_s = 0;
    double achieved_rate = 0;  // attempted / ramp_s
    unsigned threads = 1;
    std::size_t source_addresses = 0;
    bool shared_identity = false;
    net::FdLimit fd_limit;
    double client_cpu_s = 0;  // our own CPU time from the first connection to the hold's end
    std::uint64_t client_peak_rss_kb = 0;
    // The machine's 1-minute load average before the run and at the end of the hold.
    std::optional<double> load_before, load_loaded;
    std::optional<LoopReport> find_node_loop;
    std::optional<TargetReport> target;
    std::string target_note;  // why there are no target figures, when there are none
};

// Descriptors a run of `connections` needs in this process.
inline std::uint64_t fds_needed(std::size_t connections) {
    return connections + 64;
}

LoadReport run_load(const LoadConfig& config,
                    const std::function<void(const Progress&)>& on_progress = {});

}  // namespace keel::load
