#include "keel/host/host.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/v6_only.hpp>

#include "keel/host/dnsaddr.hpp"
#include "keel/host/staggered_dial.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/log.hpp"
#include "keel/net/multistream.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/tcp_stream.hpp"
#include "keel/protocols/identify.hpp"
#include "keel/protocols/ping.hpp"

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
        : addr(std::move(addr)), signal(ex, net::Clock::time_point::max()) {}
    std::optional<Multiaddr> addr;  // nullopt: a connect_peer, over one address after another
    bool done = false;
    bool abandoned = false;  // its caller gave up before it ended: no answer for the others
    std::shared_ptr<Connection> connection;
    std::optional<Failure> failure;
    asio::steady_timer signal;  // never expires; cancelled once done, which wakes every waiter
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
        dial_->signal.cancel();
    }

    std::shared_ptr<detail::PendingDials> table_;
    PeerId peer_;
    std::shared_ptr<detail::PendingDial> dial_;
};

awaitable<error_code> wait_until_done(std::shared_ptr<detail::PendingDial> dial) {
    if (!dial->done) co_await dial->signal.async_wait(net::use_result);
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

std::string_view direction_name(Direction d) {
    return d == Direction::inbound ? "inbound" : "outbound";
}

Multiaddr endpoint_addr(const tcp::socket& socket, bool remote) {
    error_code ec;
    auto ep = remote ? socket.remote_endpoint(ec) : socket.local_endpoint(ec);
    return ec ? Multiaddr{} : tcp_multiaddr(ep);
}

AdmissionLimits admission_limits(const HostConfig& config) {
    AdmissionLimits limits;
    limits.max_connections = config.max_connections;
    limits.max_pending = config.max_pending_inbound;
    limits.max_pending_per_ip = config.max_pending_inbound_per_ip;
    limits.max_connections_per_ip = config.max_connections_per_ip;
    limits.max_connections_per_subnet = config.max_connections_per_subnet;
    limits.rate_per_ip = config.inbound_rate_per_ip;
    limits.burst_per_ip = config.inbound_burst_per_ip;
    limits.exempt_loopback = config.limits_exempt_loopback;
    return limits;
}

}  // namespace

Host::Host(asio::any_io_executor executor, HostConfig config)
    : executor_(std::move(executor)),
      config_(std::move(config)),
      peer_id_(PeerId::from_public_key(config_.identity.public_key())),
      admission_(admission_limits(config_)),
      peer_store_(config_.max_known_peers) {
    // A peer we are connected to is never forgotten.
    peer_store_.add_pin([this](const PeerId& peer) { return !connections_to(peer).empty(); });
    upgrade_config_.identity = &config_.identity;
    upgrade_config_.inline_muxer = config_.inline_muxer;
    upgrade_config_.yamux = config_.yamux;
    if (!upgrade_config_.yamux.process_budget)
        upgrade_config_.yamux.process_budget =
            std::make_shared<net::ReceiveBudget>(config_.max_buffered_bytes);
    register_builtin_handlers();
}

Host::~Host() = default;

void Host::register_builtin_handlers() {
    handlers_[std::string(protocols::identify_protocol_id)] =
        [this](std::shared_ptr<net::YamuxStream> stream,
               std::shared_ptr<Connection> conn) -> awaitable<void> {
        co_await net::with_deadline(protocols::send_identify(*stream, identify_info(*conn)),
                                    config_.identify_timeout);
    };
    handlers_[std::string(protocols::identify_push_protocol_id)] =
        [this](std::shared_ptr<net::YamuxStream> stream,
               std::shared_ptr<Connection> conn) -> awaitable<void> {
        auto info = co_await net::with_deadline(protocols::receive_identify(*stream),
                                                config_.identify_timeout);
        if (info) {
            peer_store_.apply_identify(conn->peer, *info);
            // A push says what changed (e.g. a DHT client turned server): observers re-read it.
            if (conn->identified)
                for (auto& observer : identified_observers_) observer(conn);
        }
        co_await stream->close_write();
    };
    handlers_[std::string(protocols::ping_protocol_id)] =
        [this](std::shared_ptr<net::YamuxStream> stream,
               std::shared_ptr<Connection>) -> awaitable<void> {
        co_await protocols::serve_ping(*stream, config_.stream_idle_timeout);
    };
}

void Host::set_handler(std::string protocol, StreamHandler handler) {
    handlers_[std::move(protocol)] = std::move(handler);
    push_identify();
}

void Host::remove_handler(std::string_view protocol) {
    auto it = handlers_.find(protocol);
    if (it == handlers_.end()) return;
    handlers_.erase(it);
    push_identify();
}

std::vector<std::string> Host::protocols() const {
    std::vector<std::string> out;
    for (const auto& [name, handler] : handlers_) out.push_back(name);
    return out;
}

void Host::observe_connections(ConnectionObserver observer) {
    observers_.push_back(std::move(observer));
}

void Host::observe_identified(std::function<void(const std::shared_ptr<Connection>&)> observer) {
    identified_observers_.push_back(std::move(observer));
}

net::result<Multiaddr> Host::listen(const Multiaddr& addr) {
    auto endpoint = tcp_endpoint(addr);
    if (!endpoint) return make_error_code(net::net_errc::unsupported_address);
    auto acceptor = std::make_shared<tcp::acceptor>(executor_);
    error_code ec;
    acceptor->open(endpoint->protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && endpoint->address().is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(*endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return ec;
    auto bound = tcp_multiaddr(acceptor->local_endpoint());
    acceptors_.push_back(acceptor);
    listen_addrs_.push_back(bound);
    asio::co_spawn(executor_, accept_loop(acceptor), asio::detached);
    log().info("event=listening addr={}/p2p/{}", bound.to_string(), peer_id_.to_base58());
    push_identify();
    return bound;
}

awaitable<void> Host::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
    while (!stopped_ && acceptor->is_open()) {
        auto [ec, socket] = co_await acceptor->async_accept(net::use_result);
        if (ec) {
            if (stopped_ || ec == asio::error::operation_aborted) break;
            // Out of file descriptors or a transient error: back off briefly instead of spinning.
            log().warn("event=accept_failed error=\"{}\"", ec.message());
            asio::steady_timer pause(executor_, std::chrono::milliseconds(50));
            co_await pause.async_wait(net::use_result);
            continue;
        }
        error_code peer_ec;
        auto from = socket.remote_endpoint(peer_ec).address();
        error_code ignored;
        if (peer_ec) {  // reset by the peer before we got to it: nothing to admit
            log().debug("event=inbound_gone error=\"{}\"", peer_ec.message());
            socket.close(ignored);
            continue;
        }
        // Refused: closed at once, before any handshake byte, so a refusal costs an accept.
        auto refused = admission_.admit(from, net::Clock::now(), connections_.size());
        if (refused) {
            auto reason = refusal_name(*refused);
            ++stats_.inbound_refused;
            ++stats_.inbound_refused_by_reason[std::string(reason)];
            log().debug(
                "event=inbound_refused from={} reason={} pending={} from_ip={} connections={}",
                from.to_string(), reason, admission_.pending(), admission_.connections_from(from),
                connections_.size());
            socket.close(ignored);
            continue;
        }
        ++stats_.inbound_accepted;
        asio::co_spawn(executor_, handle_inbound(std::move(socket), from), asio::detached);
    }
}

awaitable<void> Host::handle_inbound(tcp::socket socket, asio::ip::address from) {
    auto remote = endpoint_addr(socket, true);
    auto local = endpoint_addr(socket, false);
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    Phase phase = Phase::security;
    auto upgraded = co_await net::with_deadline(
        upgrade_connection(std::make_unique<net::TcpStream>(std::move(socket)), false,
                           upgrade_config_, std::nullopt, phase),
        config_.handshake_timeout);
    if (!upgraded) {
        admission_.upgrade_failed(from);
        ++stats_.upgrade_failures;
        log().info("event=inbound_upgrade_failed addr={} phase={} error=\"{}\"", remote.to_string(),
                   phase_name(phase), upgraded.error().message());
        co_return;
    }
    if (stopped_) {
        admission_.upgrade_failed(from);
        upgraded->session->close();
        co_return;
    }
    admission_.upgraded(from);
    ++stats_.upgrades_ok;
    add_connection(std::move(*upgraded), Direction::inbound, remote, local, from);
}

awaitable<HostResult<std::shared_ptr<Connection>>> Host::connect(const Multiaddr& addr) {
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
        log().debug("event=dial_joined peer={} addr={}", peer.short_string(), addr.to_string());
        auto joined = co_await join_dial(pending, deadline);
        if (joined) co_return std::move(*joined);
    }
    auto open = connections_to(peer);
    if (!open.empty()) co_return open.front();
    DialRegistration registration(dialing_, peer,
                                  std::make_shared<detail::PendingDial>(executor_, addr));
    auto result = co_await dial(addr);
    // Read directly: awaiting another coroutine here would throw once we are cancelled.
    auto cancellation = co_await asio::this_coro::cancellation_state;
    registration.complete(result, cancellation.cancelled() != asio::cancellation_type::none);
    co_return result;
}

awaitable<HostResult<std::shared_ptr<Connection>>> Host::dial(const Multiaddr& addr) {
    std::optional<PeerId> expected;
    auto fail = [&](Phase phase, error_code ec) {
        if (expected) note_dial_failure(*expected);
        ++stats_.dial_failures;
        ++stats_.dial_failures_by_phase[std::string(phase_name(phase))];
        log().info("event=dial_failed addr={} phase={} error=\"{}\"", addr.to_string(),
                   phase_name(phase), ec.message());
        return Failure{phase, ec, addr.to_string()};
    };
    if (stopped_) co_return fail(Phase::dial, make_error_code(net::net_errc::shutting_down));
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
    auto endpoints = co_await net::with_deadline(resolve_tcp(addr), config_.dial_timeout);
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
    auto remote = endpoint_addr(socket, true);
    auto local = endpoint_addr(socket, false);

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
    co_return add_connection(std::move(*upgraded), Direction::outbound, remote, local);
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
        log().debug("event=dial_joined peer={}", peer.short_string());
        auto joined = co_await join_dial(pending, deadline);
        if (joined && (*joined || whole)) co_return std::move(*joined);
    }
    auto open = connections_to(peer);
    if (!open.empty()) co_return open.front();
    if (addrs.empty())
        if (auto info = peer_store_.get(peer)) addrs = info->addrs;
    if (addrs.empty())
        co_return Failure{Phase::dial, make_error_code(net::net_errc::no_addresses),
                          peer.short_string()};
    DialRegistration registration(dialing_, peer,
                                  std::make_shared<detail::PendingDial>(executor_, std::nullopt));
    std::optional<ConnectionResult> outcome;
    for (const auto& addr : addrs) {
        auto full = addr.without(proto_code::p2p).with_component(proto_code::p2p, peer.bytes());
        auto conn = co_await dial_shared(std::move(full), peer);
        // A peer-ID mismatch or a protocol failure will not improve on the next address; a dial
        // failure might.
        bool last = conn || conn.error().phase != Phase::dial;
        outcome = std::move(conn);
        if (last) break;
    }
    auto cancellation = co_await asio::this_coro::cancellation_state;
    registration.complete(*outcome, cancellation.cancelled() != asio::cancellation_type::none);
    co_return std::move(*outcome);
}

void Host::note_dial_failure(const PeerId& peer) {
    auto now = net::Clock::now();
    // Bounded: past this many peers, failures older than a minute are forgotten.
    if (dial_failures_.size() >= 10'000)
        std::erase_if(dial_failures_, [now](const auto& entry) {
            return now - entry.second > std::chrono::minutes(1);
        });
    dial_failures_[peer] = now;
}

std::optional<net::Clock::time_point> Host::last_dial_failure(const PeerId& peer) const {
    auto it = dial_failures_.find(peer);
    if (it == dial_failures_.end()) return std::nullopt;
    return it->second;
}

std::shared_ptr<Connection> Host::add_connection(Upgraded up, Direction direction, Multiaddr remote,
                                                 Multiaddr local,
                                                 std::optional<asio::ip::address> admitted_from) {
    auto conn = std::make_shared<Connection>(next_connection_id_++, up.peer, up.key, direction,
                                             remote, local, up.muxer, up.muxer_inlined, up.session);
    connections_.emplace(conn->id, conn);
    if (direction == Direction::outbound) peer_store_.add_address(conn->peer, remote);
    dial_failures_.erase(conn->peer);
    log().info("event=connection_opened peer={} dir={} addr={} muxer={} inlined={}",
               conn->peer.short_string(), direction_name(direction), remote.to_string(),
               conn->muxer, conn->muxer_inlined);
    std::weak_ptr<Connection> weak = conn;
    conn->session->start(
        [this, weak](std::shared_ptr<net::YamuxStream> stream) {
            asio::co_spawn(executor_, handle_stream(std::move(stream), weak), asio::detached);
        },
        [this, weak, admitted_from](error_code reason) {
            if (admitted_from) admission_.closed(*admitted_from);
            auto c = weak.lock();
            if (!c) return;
            connections_.erase(c->id);
            if (!c->identified && !c->identify_error) {
                c->identify_error = make_error_code(net::net_errc::connection_closed);
                c->identify_signal.cancel();
            }
            log().info("event=connection_closed peer={} dir={} reason=\"{}\"",
                       c->peer.short_string(), direction_name(c->direction), reason.message());
            for (auto& observer : observers_) observer(c, false);
        });
    for (auto& observer : observers_) observer(conn, true);
    asio::co_spawn(executor_, identify_remote(conn), asio::detached);
    if (direction == Direction::inbound) trim_idle_connections();
    return conn;
}

void Host::trim_idle_connections() {
    std::size_t high = config_.trim_high_water
                           ? config_.trim_high_water
                           : std::max<std::size_t>(config_.max_connections / 10 * 9, 1);
    if (connections_.size() <= high) return;
    std::size_t low = high / 10 * 8;
    auto now = net::Clock::now();
    std::vector<std::shared_ptr<Connection>> idle;
    for (const auto& [id, c] : connections_)
        if (c->direction == Direction::inbound && c->session->stream_count() == 0 &&
            !c->session->is_closed() && now - c->session->last_received() >= config_.trim_idle)
            idle.push_back(c);
    std::sort(idle.begin(), idle.end(), [](const auto& a, const auto& b) {
        return a->session->last_received() < b->session->last_received();
    });
    std::size_t open = connections_.size();
    for (const auto& c : idle) {
        if (open <= low) break;
        log().debug(
            "event=connection_trimmed peer={} idle_s={}", c->peer.short_string(),
            std::chrono::duration_cast<std::chrono::seconds>(now - c->session->last_received())
                .count());
        c->session->close();
        ++stats_.trimmed;
        --open;
    }
}

awaitable<void> Host::identify_remote(std::shared_ptr<Connection> conn) {
    auto finish = [&](error_code ec) {
        if (ec) {
            conn->identify_error = ec;
            log().info("event=identify_failed peer={} error=\"{}\"", conn->peer.short_string(),
                       ec.message());
            // A peer that connects but will not say who it is holds a slot for nothing: an
            // inbound one is closed (an outbound one is the dialer's to judge).
            if (conn->direction == Direction::inbound && conn->is_open()) {
                ++stats_.unidentified_closed;
                conn->session->close();
            }
        } else {
            conn->identified = true;
            for (auto& observer : identified_observers_) observer(conn);
        }
        conn->identify_signal.cancel();
    };
    // Named, not braced inside co_await: GCC 12 miscompiles initializer lists in await expressions.
    std::vector<std::string> wanted{std::string(protocols::identify_protocol_id)};
    auto stream = co_await new_stream(conn, std::move(wanted));
    if (!stream) {
        finish(stream.error().error);
        co_return;
    }
    auto info = co_await net::with_deadline(protocols::receive_identify(**stream),
                                            config_.identify_timeout);
    co_await (*stream)->close_write();
    if (!info) {
        finish(info.error());
        co_return;
    }
    if (info->public_key && !conn->peer.matches(*info->public_key)) {
        finish(make_error_code(net::net_errc::peer_id_mismatch));
        co_return;
    }
    peer_store_.apply_identify(conn->peer, *info);
    log().debug("event=identified peer={} agent=\"{}\" protocols={}", conn->peer.short_string(),
                info->agent_version, info->protocols.size());
    finish({});
}

awaitable<HostResult<void>> Host::wait_identified(std::shared_ptr<Connection> conn) {
    auto deadline = net::Clock::now() + config_.identify_timeout;
    while (!conn->identified) {
        if (conn->identify_error) co_return Failure{Phase::identify, conn->identify_error, {}};
        if (net::Clock::now() >= deadline)
            co_return Failure{Phase::identify, make_error_code(net::net_errc::timeout), {}};
        conn->identify_signal.expires_at(deadline);
        co_await conn->identify_signal.async_wait(net::use_result);
    }
    co_return boost::system::result<void, Failure>{};
}

awaitable<HostResult<std::shared_ptr<net::YamuxStream>>> Host::new_stream(
    std::shared_ptr<Connection> conn, std::vector<std::string> protocols) {
    // The spec's ACK backlog: at most 256 of our streams unacknowledged (go-yamux resets those
    // past its accept backlog). Checked and taken with no suspension in between.
    auto deadline = net::Clock::now() + config_.negotiate_timeout;
    while (conn->session->backlog_full()) {
        auto left = std::chrono::duration_cast<net::Duration>(deadline - net::Clock::now());
        auto ec = left > net::Duration::zero()
                      ? co_await net::with_deadline(conn->session->wait_to_open(), left)
                      : make_error_code(net::net_errc::timeout);
        if (ec) co_return Failure{Phase::protocol, ec, protocols.empty() ? "" : protocols[0]};
    }
    auto stream = conn->session->open_stream();
    if (!stream) co_return Failure{Phase::protocol, stream.error(), {}};
    auto chosen = co_await net::with_deadline(net::multistream_select(**stream, protocols),
                                              config_.negotiate_timeout);
    if (!chosen) {
        (*stream)->reset();
        co_return Failure{Phase::protocol, chosen.error(), protocols.empty() ? "" : protocols[0]};
    }
    (*stream)->set_protocol(*chosen);
    co_return *stream;
}

awaitable<void> Host::handle_stream(std::shared_ptr<net::YamuxStream> stream,
                                    std::weak_ptr<Connection> weak) {
    auto chosen = co_await net::with_deadline(
        net::multistream_handle(*stream,
                                [this](std::string_view p) { return handlers_.contains(p); }),
        config_.negotiate_timeout);
    auto conn = weak.lock();
    if (!chosen || !conn) {
        ++stats_.streams_refused;
        if (conn) {
            log().debug("event=stream_refused peer={} error=\"{}\"", conn->peer.short_string(),
                        chosen ? "connection gone" : chosen.error().message());
        }
        stream->reset();
        co_return;
    }
    stream->set_protocol(*chosen);
    if (*chosen != protocols::identify_protocol_id &&
        *chosen != protocols::identify_push_protocol_id) {
        conn->last_remote_protocol = *chosen;
        conn->last_remote_stream_at = net::Clock::now();
    }
    auto handler = handlers_.find(*chosen);
    if (handler == handlers_.end()) {
        stream->reset();
        co_return;
    }
    auto run = handler->second;  // the map may change while the handler runs
    co_await run(stream, conn);
    // The handler is done: nothing more will be read, so nothing more is held for the peer
    // (a peer that keeps sending on a finished stream stalls on its own window).
    co_await stream->close_write();
    stream->close_read();
}

protocols::IdentifyInfo Host::identify_info(const Connection& conn) const {
    protocols::IdentifyInfo info;
    info.protocol_version = config_.protocol_version;
    info.agent_version = config_.agent_version;
    info.public_key = config_.identity.public_key();
    info.listen_addrs = listen_addrs_;
    info.observed_addr = conn.remote_addr;
    info.protocols = protocols();
    return info;
}

void Host::push_identify() {
    for (const auto& [id, conn] : connections_) {
        asio::co_spawn(
            executor_,
            [this, conn = conn]() -> awaitable<void> {
                std::vector<std::string> wanted{std::string(protocols::identify_push_protocol_id)};
                auto stream = co_await new_stream(conn, std::move(wanted));
                if (!stream) co_return;
                co_await net::with_deadline(
                    protocols::send_identify(**stream, identify_info(*conn)),
                    config_.identify_timeout);
            },
            asio::detached);
    }
}

std::vector<std::shared_ptr<Connection>> Host::connections() const {
    std::vector<std::shared_ptr<Connection>> out;
    for (const auto& [id, conn] : connections_) out.push_back(conn);
    return out;
}

std::vector<std::shared_ptr<Connection>> Host::connections_to(const PeerId& peer) const {
    std::vector<std::shared_ptr<Connection>> out;
    for (const auto& [id, conn] : connections_) {
        if (conn->peer == peer && conn->is_open()) out.push_back(conn);
    }
    return out;
}

void Host::stop() {
    if (stopped_) return;
    stopped_ = true;
    for (auto& acceptor : acceptors_) {
        error_code ignored;
        acceptor->close(ignored);
    }
    for (const auto& conn : connections()) conn->session->close();
}

}  // namespace keel
