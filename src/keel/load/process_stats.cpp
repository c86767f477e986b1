#include "keel/load/process_stats.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

namespace keel::load {

namespace fs = std::filesystem;
namespace ip = boost::asio::ip;

namespace {

// A /proc/net/tcp address: the IPv4 or IPv6 bytes in host-order 32-bit words, as hex.
std::optional<ip::address> parse_proc_address(std::string_view hex) {
    auto word = [&](std::size_t i) -> std::optional<std::uint32_t> {
        std::uint32_t v = 0;
        auto [p, ec] = std::from_chars(hex.data() + 8 * i, hex.data() + 8 * i + 8, v, 16);
        if (ec != std::errc{}) return std::nullopt;
        return v;
    };
    if (hex.size() == 8) {
        auto w = word(0);
        if (!w) return std::nullopt;
        // The kernel prints the in-memory (network order) word as a little-endian integer.
        auto bytes = std::array<unsigned char, 4>{
            static_cast<unsigned char>(*w), static_cast<unsigned char>(*w >> 8),
            static_cast<unsigned char>(*w >> 16), static_cast<unsigned char>(*w >> 24)};
        return ip::address(ip::make_address_v4(bytes));
    }
    if (hex.size() == 32) {
        ip::address_v6::bytes_type bytes{};
        for (std::size_t i = 0; i < 4; ++i) {
            auto w = word(i);
            if (!w) return std::nullopt;
            for (std::size_t b = 0; b < 4; ++b)
                bytes[4 * i + b] = static_cast<unsigned char>(*w >> (8 * b));
        }
        auto v6 = ip::make_address_v6(bytes);
        if (v6.is_v4_mapped()) return ip::address(ip::make_address_v4(ip::v4_mapped, v6));
        return ip::address(v6);
    }
    return std::nullopt;
}

// Inodes of the listening sockets on `port` that `address` reaches.
std::set<std::string> listening_inodes(const ip::address& address, std::uint16_t port) {
    std::set<std::string> inodes;
    bool local = is_local_address(address);
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // the header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local_addr, remote_addr, state, queues, timer, retransmits, uid,
                timeout, inode;
            fields >> slot >> local_addr >> remote_addr >> state >> queues >> timer >>
                retransmits >> uid >> timeout >> inode;
            if (state != "0A") continue;  // TCP_LISTEN
            auto colon = local_addr.find(':');
            if (colon == std::string::npos) continue;
            unsigned listen_port = 0;
            auto port_hex = std::string_view(local_addr).substr(colon + 1);
            std::from_chars(port_hex.data(), port_hex.data() + port_hex.size(), listen_port, 16);
            if (listen_port != port) continue;
            auto bound = parse_proc_address(std::string_view(local_addr).substr(0, colon));
            if (!bound) continue;
            if (*bound == address || (bound->is_unspecified() && local)) inodes.insert(inode);
        }
    }
    return inodes;
}

std::uint64_t status_kb(const std::string& status, std::string_view key) {
    auto at = status.find(key);
    if (at == std::string::npos) return 0;
    std::istringstream in(status.substr(at + key.size()));
    std::uint64_t kb = 0;
    in >> kb;
    return kb;
}

std::optional<ProcessSample> sample_proc_dir(const fs::path& dir) {
    std::ifstream status_file(dir / "status");
    if (!status_file) return std::nullopt;
    std::stringstream buffer;
    buffer << status_file.rdbuf();
    auto status = buffer.str();
    ProcessSample s;
    s.rss_kb = status_kb(status, "VmRSS:");
    s.hwm_kb = status_kb(status, "VmHWM:");
    s.threads = status_kb(status, "Threads:");
    // /proc/PID/stat: utime and stime are fields 14 and 15, counted after the ")" that ends the
    // command name (which may itself contain spaces).
    std::ifstream stat_file(dir / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    if (auto close = stat.rfind(')'); close != std::string::npos) {
        std::istringstream fields(stat.substr(close + 2));
        std::string field;
        std::uint64_t utime = 0, stime = 0;
        for (int i = 3; i <= 15 && fields >> field; ++i) {
            if (i == 14) utime = std::stoull(field);
            if (i == 15) stime = std::stoull(field);
        }
        s.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir / "fd", ec); !ec && it != fs::directory_iterator();
         it.increment(ec))
        ++s.open_fds;
    return s;
}

}  // namespace

bool is_local_address(const ip::address& address) {
    if (address.is_loopback()) return true;
    if (address.is_v4() && (address.to_v4().to_uint() >> 24) == 127) return true;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return false;
    bool found = false;
    for (auto* a = list; a && !found; a = a->ifa_next) {
        if (!a->ifa_addr) continue;
        if (a->ifa_addr->sa_family == AF_INET && address.is_v4()) {
            const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
            found = ntohl(sin->sin_addr.s_addr) == address.to_v4().to_uint();
        } else if (a->ifa_addr->sa_family == AF_INET6 && address.is_v6()) {
            const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
            ip::address_v6::bytes_type bytes;
            std::copy(sin6->sin6_addr.s6_addr, sin6->sin6_addr.s6_addr + 16, bytes.begin());
            found = ip::address_v6(bytes) == address.to_v6();
        }
    }
    freeifaddrs(list);
    return found;
}

std::optional<pid_t> find_listening_pid(const ip::address& address, std::uint16_t port) {
    auto inodes = listening_inodes(address, port);
    if (inodes.empty()) return std::nullopt;
    const pid_t self = getpid();
    std::error_code ec;
    for (auto proc = fs::directory_iterator("/proc", ec); !ec && proc != fs::directory_iterator();
         proc.increment(ec)) {
        const auto name = proc->path().filename().string();
        pid_t pid = 0;
        auto [p, parse_ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (parse_ec != std::errc{} || p != name.data() + name.size() || pid == self) continue;
        std::error_code fd_ec;
        for (auto fd = fs::directory_iterator(proc->path() / "fd", fd_ec);
             !fd_ec && fd != fs::directory_iterator(); fd.increment(fd_ec)) {
            std::error_code link_ec;
            auto target = fs::read_symlink(fd->path(), link_ec).string();
            if (link_ec || !target.starts_with("socket:[")) continue;
            if (inodes.contains(target.substr(8, target.size() - 9))) return pid;
        }
    }
    return std::nullopt;
}

std::optional<ProcessSample> sample_process(pid_t pid) {
    return sample_proc_dir(fs::path("/proc") / std::to_string(pid));
}

std::optional<std::uint64_t> process_fd_limit(pid_t pid) {
    std::ifstream in(fs::path("/proc") / std::to_string(pid) / "limits");
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("Max open files")) continue;
        std::istringstream fields(line.substr(std::string_view("Max open files").size()));
        std::string soft;
        fields >> soft;
        std::uint64_t value = 0;
        auto [p, ec] = std::from_chars(soft.data(), soft.data() + soft.size(), value);
        if (ec != std::errc{}) return std::nullopt;  // "unlimited"
        return value;
    }
    return std::nullopt;
}

std::optional<double> load_average() {
    std::ifstream in("/proc/loadavg");
    double one = 0;
    if (!(in >> one)) return std::nullopt;
    return one;
}

std::optional<std::uint64_t> ephemeral_port_count() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    std::uint64_t low = 0, high = 0;
    if (!(in >> low >> high) || high < low) return std::nullopt;
    return high - low + 1;
}

ProcessSample sample_self() {
    auto s = sample_proc_dir("/proc/self").value_or(ProcessSample{});
    rusage usage{};
    if (getrusage(RUSAGE_SELF, &usage) == 0) {
        auto seconds = [](const timeval& t) {
            return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
        };
        s.cpu_s = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    }
    return s;
}

}  // namespace keel::load
