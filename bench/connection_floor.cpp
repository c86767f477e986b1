// The floor under a bootstrap's CPU per connection on this machine: what any implementation must
// spend on the exchange `keel load --find-node` has with `keel bootstrap`, and nothing else.
//
// A server process does, per connection, only the work the protocol requires of a responder: the
// same TCP segments as `keel bootstrap`, in the same order and of the same sizes (taken from
// strace of the two, 2026-12-05, and again after `e66170d`), and the responder's real
// cryptography: Noise XX with a static key made once, the libp2p handshake payload parsed and its
// Ed25519 signature verified, the peer ID derived, ChaCha20-Poly1305 on every transport message.
// It runs a plain epoll loop in one thread and parses none of multistream, Yamux, identify or
// Kademlia: the plaintexts are zeros of the right length. A client process (this one) makes the
// connections at a fixed rate with the initiator's real cryptography and a fresh identity per
// connection, as `keel load` does, holds them all, and reads the server's CPU time from /proc
// before the first connection and after the last one's final message.
//
// So the figure is the cryptography, the kernel's loopback TCP and the wake-ups of this exchange,
// with the least userland around them; `keel bootstrap`'s CPU per connection minus it is what
// Keel's own stack costs (docs/performance.md, "The floor of this machine").
//
//   connection_floor [--connections 5000] [--rate 500 --rate 1000 ...]
// Exits non-zero if any connection failed or did not finish (bench/run-short.sh runs it small).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <keel/proto/noise.pb.h>
#include <CLI/CLI.hpp>

#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/peer_id.hpp"
#include "keel/load/process_stats.hpp"
#include "keel/net/noise_identity.hpp"
#include "keel/net/process_limits.hpp"
#include "keel/net/yamux_session.hpp"
#include "keel/noise/handshake_state.hpp"

namespace {

using namespace keel;

// The multistream-select header and the /noise proposal (or answer) in front of Noise message 1
// (or 2), as a lazy dialer and Keel's listener send them.
constexpr std::string_view noise_proposal = "\x13/multistream/1.0.0\n\x07/noise\n";

// Transport plaintext sizes (ciphertext on the wire minus the 2-byte length and the 16-byte tag),
// and after how many received transport messages each side sends which (strace of `e66170d`,
// where a request's FIN goes with it and the Yamux writer merges what is ready). Client: its
// identify request right after the handshake; then its identify answer, the FIND_NODE request and
// the streams' FINs in one message. Server: its identify request, its identify answer and that
// stream's FIN in one message once the client's request is in; then the FIND_NODE answer with its
// FIN and the FIN of its own identify stream.
struct Step {
    int after_received;
    std::vector<std::size_t> sends;
};
const std::vector<Step> server_script = {{1, {329}}, {2, {116}}};
const std::vector<Step> client_script = {{0, {60}}, {1, {316}}};
constexpr int messages_per_side = 2;

const std::vector<std::string>& muxers() {
    static const std::vector<std::string> m{std::string(net::yamux_protocol_id)};
    return m;
}

// Where a connection is: the client's TCP connect, the first handshake message it waits for
// (message 1 for the server, 2 for the client), the server's wait for message 3, transport.
enum class Stage { dialing, handshake_first, handshake_last, transport };

// A connection of either side: its socket, what arrived and is not consumed yet, the handshake
// and then the transport ciphers.

struct Connection {
    int fd = -1;
    Stage stage = Stage::handshake_first;
    Bytes in;
    std::optional<noise::HandshakeState> handshake;
    std::optional<noise::CipherState> send;
    std::optional<noise::CipherState> receive;
    std::optional<net::NoiseIdentity> identity;  // the client's, fresh per connection
    int received = 0;
    std::size_t next_step = 0;
    bool done = false;
    bool failed = false;
};

bool send_all(int fd, BytesView bytes) {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
}

void append_length(Bytes& out, std::size_t n) {
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n & 0xff));
}

// One Noise transport message of `plaintext_size` zeros, encrypted and sent in a write of its own.
bool send_transport(Connection& c, std::size_t plaintext_size) {
    Bytes out;
    append_length(out, plaintext_size + 16);
    out.resize(2 + plaintext_size + 16);
    std::span<std::uint8_t> body(out.data() + 2, plaintext_size + 16);
    std::fill_n(body.begin(), plaintext_size, 0);
    auto n = c.send->encrypt(BytesView(body.data(), plaintext_size), body);
    return n && send_all(c.fd, out);
}

// The remote's handshake payload: parsed, its key unmarshalled, the signature over the remote's
// Noise static key verified, the peer ID derived, as noise_secure does.
bool check_payload(BytesView bytes, const noise::HandshakeState& hs) {
    pb::NoiseHandshakePayload payload;
    if (!hs.remote_static() ||
        !payload.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return false;
    auto key = PublicKey::unmarshal(as_bytes(payload.identity_key()));
    if (!key || !key->verify(net::noise_signed_static_key_message(*hs.remote_static()),
                             as_bytes(payload.identity_sig())))
        return false;
    [[maybe_unused]] auto peer = PeerId::from_public_key(*key);
    return true;
}

// Takes one framed message (2-byte length) off the front of c.in, after `skip` bytes; nullopt
// until it is all there.
std::optional<Bytes> take_message(Connection& c, std::size_t skip = 0) {
    if (c.in.size() < skip + 2) return std::nullopt;
    std::size_t length = std::size_t{c.in[skip]} << 8 | c.in[skip + 1];
    if (c.in.size() < skip + 2 + length) return std::nullopt;
    Bytes message(c.in.begin() + static_cast<std::ptrdiff_t>(skip + 2),
                  c.in.begin() + static_cast<std::ptrdiff_t>(skip + 2 + length));
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(skip + 2 + length));
    return message;
}

bool run_script(Connection& c, const std::vector<Step>& script) {
    while (c.next_step < script.size() && script[c.next_step].after_received <= c.received) {
        for (auto size : script[c.next_step].sends)
            if (!send_transport(c, size)) return false;
        ++c.next_step;
    }
    if (c.received == messages_per_side) c.done = true;
    return true;
}

bool start_transport(Connection& c) {
    auto split = c.handshake->split();
    if (!split) return false;
    c.send = split->send;
    c.receive = split->receive;
    c.handshake.reset();
    c.stage = Stage::transport;
    return true;
}

enum class Progress { waiting, advanced, failed };

// The server's handshake: Noise message 1 (behind the dialer's proposal), then message 3.
Progress server_handshake(Connection& c, const net::NoiseIdentity& ours) {
    if (c.stage == Stage::handshake_first) {
        auto m1 = take_message(c, noise_proposal.size());
        if (!m1) return Progress::waiting;
        if (!c.handshake->read_message(*m1)) return Progress::failed;
        auto m2 = c.handshake->write_message(ours.payload());
        if (!m2) return Progress::failed;
        Bytes out = to_bytes(noise_proposal);
        append_length(out, m2->size());
        out.insert(out.end(), m2->begin(), m2->end());
        c.stage = Stage::handshake_last;
        return send_all(c.fd, out) ? Progress::advanced : Progress::failed;
    }
    auto m3 = take_message(c);
    if (!m3) return Progress::waiting;
    auto payload = c.handshake->read_message(*m3);
    bool ok = payload && check_payload(*payload, *c.handshake) && start_transport(c) &&
              run_script(c, server_script);
    return ok ? Progress::advanced : Progress::failed;
}

// The client's handshake: Noise message 2 (behind the listener's answer), answered by message 3.
Progress client_handshake(Connection& c) {
    auto m2 = take_message(c, noise_proposal.size());
    if (!m2) return Progress::waiting;
    auto payload = c.handshake->read_message(*m2);
    if (!payload || !check_payload(*payload, *c.handshake)) return Progress::failed;
    auto m3 = c.handshake->write_message(c.identity->payload());
    if (!m3) return Progress::failed;
    Bytes out;
    append_length(out, m3->size());
    out.insert(out.end(), m3->begin(), m3->end());
    bool ok = send_all(c.fd, out) && start_transport(c) && run_script(c, client_script);
    return ok ? Progress::advanced : Progress::failed;
}

// Consumes what c.in holds, for either side (`ours` is the server's identity, null for the
// client); false on any protocol or cryptographic failure.
bool advance(Connection& c, const net::NoiseIdentity* ours) {
    const auto& script = ours ? server_script : client_script;
    while (!c.done) {
        if (c.stage != Stage::transport) {
            auto progress = ours ? server_handshake(c, *ours) : client_handshake(c);
            if (progress != Progress::advanced) return progress == Progress::waiting;
            continue;
        }
        auto message = take_message(c);
        if (!message) return true;
        if (!c.receive->decrypt(*message, *message)) return false;
        ++c.received;
        if (!run_script(c, script)) return false;
    }
    return true;
}

// Reads what the socket has (edge-triggered: until EAGAIN); false at EOF or an error.
bool read_available(Connection& c) {
    std::array<std::uint8_t, 4096> buffer{};
    for (;;) {
        ssize_t n = ::recv(c.fd, buffer.data(), buffer.size(), 0);
        if (n > 0) {
            c.in.insert(c.in.end(), buffer.begin(), buffer.begin() + n);
            continue;
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

[[noreturn]] void serve(int listener, int ready_pipe) {
    const auto identity = Ed25519KeyPair::generate();
    const net::NoiseIdentity ours(identity, muxers());
    int ep = epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    std::vector<std::unique_ptr<Connection>> connections;
    (void)!::write(ready_pipe, "r", 1);
    std::array<epoll_event, 128> events{};
    for (;;) {
        int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
        for (int i = 0; i < n; ++i) {
            auto* c = static_cast<Connection*>(events[static_cast<std::size_t>(i)].data.ptr);
            if (!c) {
                int fd;
                while ((fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    auto conn = std::make_unique<Connection>();
                    conn->fd = fd;
                    conn->handshake.emplace(noise::Role::responder, BytesView{},
                                            ours.static_keys());
                    epoll_event cev{};
                    cev.events = EPOLLIN | EPOLLET;
                    cev.data.ptr = conn.get();
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                    connections.push_back(std::move(conn));
                }
                continue;
            }
            if (c->failed) continue;
            if (!read_available(*c) || !advance(*c, &ours)) {
                c->failed = true;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
                ::close(c->fd);
            }
        }
    }
}

struct ProcessCounters {
    double cpu_s = 0;
    std::uint64_t voluntary = 0;
    std::uint64_t involuntary = 0;
    std::uint64_t rss_kb = 0;
};

ProcessCounters read_counters(pid_t pid) {
    ProcessCounters out;
    if (auto s = load::sample_process(pid)) {
        out.cpu_s = s->cpu_s;
        out.rss_kb = s->rss_kb;
    }
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    std::uint64_t value = 0;
    while (status >> key) {
        if (key == "voluntary_ctxt_switches:" && status >> value) out.voluntary = value;
        if (key == "nonvoluntary_ctxt_switches:" && status >> value) out.involuntary = value;
    }
    return out;
}

struct RunResult {
    std::size_t ok = 0;
    std::size_t failed = 0;
    double seconds = 0;
    ProcessCounters before, after;
};

RunResult run(int rate, std::size_t count) {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 4096) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        throw std::runtime_error("cannot listen on 127.0.0.1");
    ::fcntl(listener, F_SETFL, O_NONBLOCK);
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe");
    pid_t server = ::fork();
    if (server == 0) {
        ::close(pipe_fds[0]);
        serve(listener, pipe_fds[1]);
    }
    ::close(listener);
    ::close(pipe_fds[1]);
    char ready;
    if (::read(pipe_fds[0], &ready, 1) != 1) throw std::runtime_error("server did not start");
    ::close(pipe_fds[0]);

    RunResult result;
    result.before = read_counters(server);
    int ep = epoll_create1(0);
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    itimerspec every{};
    every.it_interval.tv_nsec = 1'000'000'000L / rate;
    every.it_value = every.it_interval;
    timerfd_settime(timer, 0, &every, nullptr);
    epoll_event tev{};
    tev.events = EPOLLIN;
    tev.data.ptr = nullptr;
    epoll_ctl(ep, EPOLL_CTL_ADD, timer, &tev);

    std::vector<std::unique_ptr<Connection>> connections;
    connections.reserve(count);
    auto started = std::chrono::steady_clock::now();
    auto open_one = [&] {
        auto c = std::make_unique<Connection>();
        c->stage = Stage::dialing;
        c->identity.emplace(Ed25519KeyPair::generate(), muxers());
        c->handshake.emplace(noise::Role::initiator, BytesView{}, c->identity->static_keys());
        c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        epoll_event cev{};
        cev.events = EPOLLIN | EPOLLOUT | EPOLLET;
        cev.data.ptr = c.get();
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &cev);
        connections.push_back(std::move(c));
    };
    std::array<epoll_event, 128> events{};
    while (result.ok + result.failed < count) {
        // Nothing for a minute (far beyond a VM's pause for a snapshot): the server is stuck;
        // report what completed.
        int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 60'000);
        if (n == 0) break;
        for (int i = 0; i < n; ++i) {
            const auto& e = events[static_cast<std::size_t>(i)];
            auto* c = static_cast<Connection*>(e.data.ptr);
            if (!c) {
                std::uint64_t expirations = 0;
                (void)!::read(timer, &expirations, sizeof expirations);
                for (std::uint64_t k = 0; k < expirations && connections.size() < count; ++k)
                    open_one();
                continue;
            }
            if (c->done || c->failed) continue;
            bool ok = true;
            if ((e.events & EPOLLOUT) && c->stage == Stage::dialing) {
                // Connected: the proposal and Noise message 1 in one write.
                auto m1 = c->handshake->write_message({});
                Bytes out = to_bytes(noise_proposal);
                append_length(out, m1 ? m1->size() : 0);
                if (m1) out.insert(out.end(), m1->begin(), m1->end());
                ok = m1 && send_all(c->fd, out);
                c->stage = Stage::handshake_first;
            }
            if (ok && (e.events & EPOLLIN) && c->stage != Stage::dialing)
                ok = read_available(*c) && advance(*c, nullptr);
            if (!ok) {
                c->failed = true;
                ++result.failed;
            } else if (c->done) {
                ++result.ok;
            }
        }
    }
    result.after = read_counters(server);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ::kill(server, SIGKILL);
    ::waitpid(server, nullptr, 0);
    for (auto& c : connections) ::close(c->fd);
    ::close(timer);
    ::close(ep);
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"The floor under a bootstrap's CPU per connection (see the file's comment)"};
    std::size_t count = 5000;
    std::vector<int> rates{500, 1000, 2000};
    app.add_option("--connections", count, "connections per run, all held until its end");
    app.add_option("--rate", rates, "new connections per second (one run each)");
    CLI11_PARSE(app, argc, argv);
    net::raise_fd_limit();
    std::printf(
        "| rate /s | connections ok | failed | s | server CPU ms / connection | "
        "voluntary / involuntary switches per connection | RSS KiB / connection |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|---:|\n");
    bool all_ok = true;
    for (int rate : rates) {
        auto r = run(rate, count);
        all_ok = all_ok && r.ok == count;
        double n = static_cast<double>(count);
        std::printf(
            "| %d | %zu | %zu | %.1f | %.3f | %.2f / %.2f | %.1f |\n", rate, r.ok, r.failed,
            r.seconds, 1000.0 * (r.after.cpu_s - r.before.cpu_s) / n,
            static_cast<double>(r.after.voluntary - r.before.voluntary) / n,
            static_cast<double>(r.after.involuntary - r.before.involuntary) / n,
            static_cast<double>(r.after.rss_kb) / n - static_cast<double>(r.before.rss_kb) / n);
        std::fflush(stdout);
    }
    return all_ok ? 0 : 1;  // a connection that failed or never finished: the exchange broke
}
