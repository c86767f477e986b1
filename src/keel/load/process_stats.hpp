#pragma once
// What `keel load` reads about processes on this machine (Linux /proc): which process listens on
// a TCP port, and a process's memory, CPU time and open descriptors (net/process_limits.hpp
// raises our own descriptor limit).
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/ip/address.hpp>

namespace keel::load {

struct ProcessSample {
    std::uint64_t rss_kb = 0;  // VmRSS
    std::uint64_t hwm_kb = 0;  // VmHWM: the peak RSS so far
    double cpu_s = 0;          // user + system time so far
    std::size_t open_fds = 0;  // entries of /proc/PID/fd
    std::size_t threads = 0;   // Threads
};

// The process with a listening TCP socket on `port` bound to `address` or to the wildcard
// address (when `address` is one of this machine's: loopback or an interface address). Found by
// the socket's inode in /proc/net/tcp{,6} and a scan of /proc/*/fd; nullopt if none is visible
// (another user's process needs root to be seen).
std::optional<pid_t> find_listening_pid(const boost::asio::ip::address& address,
                                        std::uint16_t port);
// True when `address` is loopback or belongs to one of this machine's interfaces.
bool is_local_address(const boost::asio::ip::address& address);

std::optional<ProcessSample> sample_process(pid_t pid);
// The process's soft "Max open files" (/proc/PID/limits); nullopt if unreadable or unlimited.
std::optional<std::uint64_t> process_fd_limit(pid_t pid);
// The 1-minute load average (/proc/loadavg): how busy the machine was during a run.
std::optional<double> load_average();
// How many local ports connect() may choose from (/proc/sys/net/ipv4/ip_local_port_range).
std::optional<std::uint64_t> ephemeral_port_count();
// The process's own figures (RUSAGE_SELF and /proc/self).
ProcessSample sample_self();

}  // namespace keel::load
