// Host, outbound: dialing an address (TCP, /dns*, /dnsaddr), connecting to a known peer over its
// addresses, and sharing one dial between callers who want the same peer at the same moment.
#include <netinet/in.h>
#include <sys/socket.h>

#include "keel/host/dnsaddr.hpp"
#include "keel/host/host.hpp"

#include "keel/host/circuit_address.hpp"
#include "keel/host/staggered_dial.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/log.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/signal.hpp"
#include "keel/net/tcp_stream.hpp"

namespace keel {

namespace asio = net::asio;
using asio::ip::tcp;
using net::awaitable;
using net::error_code;

namespace detail {

// A dial to a known peer in progress. Connects to that peer that would dial the same thing wait
// for it instead (see Host::dial_shared and Host::connect_peer).
struct PendingDial {
    PendingDial(asio::any_io_executor ex, std::optional<Multiaddr> addr)
        : addr(std::move(addr)), ended(std::move(ex)) {}
    std::optional<Multiaddr> addr;  // nullopt: a connect_peer, over one address after another
    bool done = false;
    bool abandoned = false;  // its caller gave up before it ended: no answer for the others
    std::shared_ptr<Connection> connection;
    std::optional<Failure> failure;
    net::Signal ended;  // fired once done, which wakes every waiter
};

}  // namespace detail

namespace {

using ConnectionResult = HostResult<std::shared_ptr<Connection>>;

// Keeps a dial registered while it runs. However it ends (a result, or an exception once its
// caller is cancelled), it is unregistered and its waiters are woken. Holds the table itself, not
// the Host, so that a frame destroyed late (with its io_context) touches nothing freed.
class DialRegistration {
  public:
    DialRegistration(std::shared_ptr<detail::PendingDials> table, PeerId peer,
                     std::shared_ptr<detail::PendingDial> dial)
        : table_(std::move(table)), peer_(std::move(peer)), dial_(std::move(dial)) {
        table_->emplace(peer_, dial_);
    }
    ~DialRegistration() { finish(); }
    DialRegistration(const DialRegistration&) = delete;
    DialRegistration& operator=(const DialRegistration&) = delete;

    // `cancelled`: the dialing caller was cancelled, so a failure says nothing about the peer.
    void complete(const ConnectionResult& result, bool cancelled) {
        if (result)
            dial_->connection = *result;
        else if (!cancelled)
            dial_->failure = result.error();
        finish();
    }

  private:
    void finish() {
        if (dial_->done) return;
        dial_->done = true;
        dial_->abandoned = !dial_->connection && !dial_->failure;
        auto [first, last] = table_->equal_range(peer_);
        for (auto it = first; it != last; ++it) {
            if (it->second == dial_) {
                table_->erase(it);
                break;
            }
        }
        dial_->ended.fire();
    }

    std::shared_ptr<detail::PendingDials> table_;
    PeerId peer_;
    std::shared_ptr<detail::PendingDial> dial_;
};

awaitable<error_code> wait_until_done(std::shared_ptr<detail::PendingDial> dial) {
    co_await dial->ended.wait();
    co_return error_code{};
}

awaitable<error_code> connect_socket(tcp::socket& socket, tcp::endpoint endpoint) {
    auto [ec] = co_await socket.async_connect(endpoint, net::use_result);
    co_return ec;
}

// Binds a dial's socket to the configured source address, if any. IP_BIND_ADDRESS_NO_PORT leaves
// the port to connect(), which only needs the whole 4-tuple to be unique (best effort: without it,
// bind picks the port).
error_code bind_dial_source(tcp::socket& socket, const tcp::endpoint& remote,
                            const HostConfig& config) {
    if (!config.dial_source) return {};
    auto source = config.dial_source(remote);
    if (!source) return {};
    error_code ec;
    socket.open(remote.protocol(), ec);
    if (ec) return ec;
#ifdef IP_BIND_ADDRESS_NO_PORT
    int on = 1;
    ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
#endif
    socket.bind(tcp::endpoint(*source, 0), ec);
    return ec;
}

}  // namespace

awaitable<HostResult<std::shared_ptr<Connection>>> Host::connect(const Multiaddr& addr) {
    if (is_circuit(addr)) co_return co_await dial(addr);
    if (const auto* p2p = addr.find(proto_code::p2p)) {
        if (auto peer = PeerId::from_bytes(p2p->value))
            co_return co_await dial_shared(addr, std::move(*peer));
    }
    co_return co_await dial(addr);
}

// ---- concurrent dials of one peer share one connection -------------------------------------
//
// A second connect to a peer while a dial of it is in progress (a staggered bootstrap dial and a
// health probe at the same moment, two DHT requests to one peer) waits for that dial instead of
// opening a second connection. connect(addr) joins a dial of the same address only: a staggered
// race over several addresses of one peer dials them in parallel on purpose.

net::Clock::time_point Host::join_deadline() const {
    // The longest one dial of one address takes: resolving, connecting, the upgrade.
    return net::Clock::now() + 2 * config_.dial_timeout + config_.handshake_timeout;
}

std::shared_ptr<detail::PendingDial> Host::find_dial(const PeerId& peer,
                                                     const Multiaddr* addr) const {
    std::shared_ptr<detail::PendingDial> any;
    auto [first, last] = dialing_->equal_range(peer);
    for (auto it = first; it != last; ++it) {
        const auto& dial = it->second;
        if (addr) {
            if (dial->addr && *dial->addr == *addr) return dial;
        } else {
            if (!dial->addr) return dial;  // a connect_peer covers the most
            if (!any) any = dial;
        }
    }
    return any;
}

awaitable<std::optional<HostResult<std::shared_ptr<Connection>>>> Host::join_dial(
    std::shared_ptr<detail::PendingDial> dial, net::Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<net::Duration>(deadline - net::Clock::now());
    if (!dial->done && left > net::Duration::zero())
        co_await net::with_deadline(wait_until_done(dial), left);
    std::optional<ConnectionResult> out;
    if (!dial->done) {
        Failure timeout{Phase::dial, make_error_code(net::net_errc::timeout),
                        dial->addr ? dial->addr->to_string() : std::string()};
        out.emplace(std::move(timeout));
    } else if (dial->connection) {
        if (dial->connection->is_open()) out.emplace(dial->connection);
    } else if (dial->failure) {
        out.emplace(*dial->failure);
    }
    co_return out;
}

awaitable<HostResult<std::shared_ptr<Connection>>> Host::dial_shared(Multiaddr addr, PeerId peer) {
    auto deadline = join_deadline();
    // A few rounds at most: a joined dial that was abandoned, or whose connection closed at once,
    // sends us looking again.
    for (int round = 0; round < 4; ++round) {
        auto open = connections_to(peer);
        if (!open.empty()) co_return open.front();
        auto pending = find_dial(peer, &addr);
        if (!pending) break;
        log().debug("event=dial_joined peer={} addr={}", peer, addr.to_string());
        auto joined = co_await join_dial(pending, deadline);
        if (joined) co_return std::move(*joined);
    }
    auto open = connections_to(peer);
    if (!open.empty()) co_return open.front();
    DialRegistration registration(dialing_, peer,
                                  std::make_shared<detail::PendingDial>(executor_, addr));
    auto result = co_await dial(addr);
    auto cancellation = co_await asio::this_coro::cancellation_state;
    registration.complete(result, net::cancelled(cancellation));
    co_return result;
}

awaitable<HostResult<std::shared_ptr<Connection>>> Host::dial(const Multiaddr& addr) {
    std::optional<PeerId> expected;
    auto fail = [&](Phase phase, error_code ec) {
        // A dial its caller cancelled (a lookup that has its answer) says nothing of the peer.
        if (expected && ec != asio::error::operation_aborted) dial_backoff_.failed(*expected);
        ++stats_.dial_failures;
        stats_.dial_failures_by_phase.add(phase);
        log().info("event=dial_failed addr={} phase={} error=\"{}\"", addr.to_string(),
                   phase_name(phase), ec.message());
        return Failure{phase, ec, addr.to_string()};
    };
    if (stopped_) co_return fail(Phase::dial, make_error_code(net::net_errc::shutting_down));
    if (is_circuit(addr)) {
        if (!circuit_dialer_)
            co_return fail(Phase::dial, make_error_code(net::net_errc::unsupported_address));
        co_return co_await circuit_dialer_(addr);
    }
    if (const auto* p2p = addr.find(proto_code::p2p)) {
        auto peer = PeerId::from_bytes(p2p->value);
        if (!peer) co_return fail(Phase::dial, peer.error());
        expected = *peer;
    }
    if (is_dnsaddr(addr)) {
        // TXT lookups (off this thread), then the addresses found, dialed staggered: the first at
        // once, the next 250 ms later if the first has not connected yet, and so on.
        auto resolved = co_await resolve_dnsaddr(addr, config_.dial_timeout);
        if (!resolved) co_return fail(Phase::dial, resolved.error());
        std::vector<Multiaddr> targets;
        for (auto& a : *resolved)
            if (is_tcp_dialable(a)) targets.push_back(std::move(a));
        log().debug("event=dnsaddr_resolved addr={} found={} dialable={}", addr.to_string(),
                    resolved->size(), targets.size());
        if (targets.empty())
            co_return fail(Phase::dial, make_error_code(net::net_errc::unsupported_address));
        auto race = co_await dial_staggered(*this, std::move(targets), net::Duration{250});
        if (race.connection) co_return race.connection;
        for (auto& failure : race.failures)
            if (failure) co_return std::move(*failure);
        co_return fail(Phase::dial, make_error_code(net::net_errc::no_addresses));
    }
    auto endpoints = co_await resolve_tcp(addr, config_.dial_timeout);
    if (!endpoints) co_return fail(Phase::dial, endpoints.error());

    tcp::socket socket(executor_);
    error_code last = make_error_code(net::net_errc::no_addresses);
    for (const auto& endpoint : *endpoints) {
        socket = tcp::socket(executor_);
        last = bind_dial_source(socket, endpoint, config_);
        if (!last)
            last =
                co_await net::with_deadline(connect_socket(socket, endpoint), config_.dial_timeout);
        if (!last) break;
    }
    if (last) co_return fail(Phase::dial, last);
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto remote = remote_multiaddr(socket);
    auto local = local_multiaddr(socket);

    Phase phase = Phase::security;
    auto upgraded = co_await net::with_deadline(
        upgrade_connection(std::make_unique<net::TcpStream>(std::move(socket)), true,
                           upgrade_config_, expected, phase),
        config_.handshake_timeout);
    if (!upgraded) {
        ++stats_.upgrade_failures;
        co_return fail(phase, upgraded.error());
    }
    ++stats_.upgrades_ok;
    co_return add_connection(std::move(*upgraded), Direction::outbound, std::move(remote),
                             std::move(local));
}

awaitable<HostResult<std::shared_ptr<Connection>>> Host::adopt_connection(
    std::unique_ptr<net::ByteStream> raw, Direction direction, Multiaddr remote,
    std::optional<PeerId> expected_peer) {
    if (stopped_)
        co_return Failure{Phase::dial, make_error_code(net::net_errc::shutting_down),
                          remote.to_string()};
    Phase phase = Phase::security;
    auto upgraded = co_await net::with_deadline(
        upgrade_connection(std::move(raw), direction == Direction::outbound, upgrade_config_,
                           expected_peer, phase),
        config_.handshake_timeout);
    if (!upgraded) {
        ++stats_.upgrade_failures;
        log().info("event=relayed_upgrade_failed addr={} phase={} error=\"{}\"", remote.to_string(),
                   phase_name(phase), upgraded.error().message());
        co_return Failure{phase, upgraded.error(), remote.to_string()};
    }
    if (expected_peer && upgraded->peer != *expected_peer) {
        upgraded->session->close();
        co_return Failure{Phase::security, make_error_code(net::net_errc::peer_id_mismatch),
                          remote.to_string()};
    }
    ++stats_.upgrades_ok;
    auto local = remote;  // a circuit has no local address of its own
    co_return add_connection(std::move(*upgraded), direction, std::move(remote), std::move(local));
}

awaitable<HostResult<std::shared_ptr<Connection>>> Host::connect_peer(
    const PeerId& peer, std::vector<Multiaddr> addrs) {
    auto deadline = join_deadline();
    for (int round = 0; round < 8; ++round) {
        auto open = connections_to(peer);
        if (!open.empty()) co_return open.front();
        auto pending = find_dial(peer, nullptr);
        if (!pending) break;
        // Another connect_peer's answer is ours; a connect() of one address that failed says
        // nothing about the other addresses.
        bool whole = !pending->addr;
        log().debug("event=dial_joined peer={}", peer);
        auto joined = co_await join_dial(pending, deadline);
        if (joined && (*joined || whole)) co_return std::move(*joined);
    }
    auto open = connections_to(peer);
    if (!open.empty()) co_return open.front();
    if (addrs.empty()) addrs = peer_store_.addrs(peer);
    if (addrs.empty())
        co_return Failure{Phase::dial, make_error_code(net::net_errc::no_addresses),
                          peer.short_string()};
    DialRegistration registration(dialing_, peer,
                                  std::make_shared<detail::PendingDial>(executor_, std::nullopt));
    // Direct addresses first: a relayed connection is limited, and costs the relay.
    std::stable_partition(addrs.begin(), addrs.end(),
                          [](const Multiaddr& a) { return !is_circuit(a); });
    std::optional<ConnectionResult> outcome;
    for (const auto& addr : addrs) {
        auto circuit = parse_circuit(addr);
        if (is_circuit(addr) && !circuit) continue;
        auto full =
            circuit ? circuit_to(circuit->relay, peer)
                    : addr.without(proto_code::p2p).with_component(proto_code::p2p, peer.bytes());
        auto conn = co_await dial_shared(std::move(full), peer);
        // A dial or security failure says something about this address only (another peer
        // may answer at a LAN or loopback address: a peer-ID mismatch), so the next address is
        // tried; a failure after the peer proved who it is will not improve on the next one.
        const auto phase = conn ? Phase::dial : conn.error().phase;
        bool last = conn || (phase != Phase::dial && phase != Phase::security);
        outcome = std::move(conn);
        if (last) break;
    }
    if (!outcome)
        outcome = Failure{Phase::dial, make_error_code(net::net_errc::unsupported_address),
                          peer.short_string()};
    auto cancellation = co_await asio::this_coro::cancellation_state;
    registration.complete(*outcome, net::cancelled(cancellation));
    co_return std::move(*outcome);
}

}  // namespace keel
