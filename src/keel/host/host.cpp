// Host: the facade. Protocol handlers, the registry of open connections (and trimming idle ones),
// opening and routing streams, and stopping. Dialing, listening and identify live in
// host_dial.cpp, host_listener.cpp and host_identify.cpp.
#include "keel/host/host.hpp"

#include "keel/host/circuit_address.hpp"
#include "keel/host/tcp_address.hpp"

#include <algorithm>

#include "keel/net/deadline.hpp"
#include "keel/net/log.hpp"
#include "keel/net/multistream.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/protocols/identify.hpp"
#include "keel/protocols/ping.hpp"

namespace keel {

namespace asio = net::asio;
using asio::ip::tcp;
using net::awaitable;
using net::error_code;

namespace {

std::string_view direction_name(Direction d) {
    return d == Direction::inbound ? "inbound" : "outbound";
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
      peer_store_(config_.max_known_peers),
      dial_backoff_(config_.dial_backoff) {
    // A peer we are connected to is never forgotten.
    peer_store_.add_pin([this](const PeerId& peer) { return is_connected(peer); });
    upgrade_config_.noise = make_noise_identity(config_.identity, config_.inline_muxer);
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
        stream->set_deadline(net::Clock::now() + config_.identify_timeout);
        auto record = identify_record(*conn);
        co_await protocols::send_identify_record(*stream, std::move(record));
    };
    handlers_[std::string(protocols::identify_push_protocol_id)] =
        [this](std::shared_ptr<net::YamuxStream> stream,
               std::shared_ptr<Connection> conn) -> awaitable<void> {
        stream->set_deadline(net::Clock::now() + config_.identify_timeout);
        auto info = co_await protocols::receive_identify(*stream);
        if (info) {
            info->listen_addrs =
                addresses_worth_keeping(std::move(info->listen_addrs), conn->remote_addr);
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

std::shared_ptr<Connection> Host::add_connection(Upgraded up, Direction direction, Multiaddr remote,
                                                 Multiaddr local,
                                                 std::optional<asio::ip::address> admitted_from) {
    // Moved, not copied: the peer ID, key and addresses are a connection's largest records.
    auto conn = std::make_shared<Connection>(
        next_connection_id_++, std::move(up.peer), std::move(up.key), direction, std::move(remote),
        std::move(local), std::move(up.muxer), up.muxer_inlined, std::move(up.session));
    conn->limited = is_circuit(conn->remote_addr);
    connections_.emplace(conn->id, conn);
    connections_by_peer_[conn->peer].push_back(conn);
    if (direction == Direction::outbound) peer_store_.add_address(conn->peer, conn->remote_addr);
    dial_backoff_.connected(conn->peer);
    log().debug("event=connection_opened peer={} dir={} addr={} muxer={} inlined={}", conn->peer,
                direction_name(direction), conn->remote_addr, conn->muxer, conn->muxer_inlined);
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
            forget_connection_of_peer(*c);
            peer_store_.touch(c->peer);  // the time-to-live of a disconnected peer starts now
            if (!c->identified && !c->identify_error) {
                c->identify_error = make_error_code(net::net_errc::connection_closed);
                c->identify_done.notify();
            }
            log().debug("event=connection_closed peer={} dir={} reason=\"{}\"", c->peer,
                        direction_name(c->direction), reason.message());
            for (auto& observer : observers_) observer(c, false);
        });
    for (auto& observer : observers_) observer(conn, true);
    asio::co_spawn(executor_, identify_remote(conn), asio::detached);
    if (direction == Direction::inbound) trim_idle_connections();
    return conn;
}

void Host::keep_from_trim(std::function<bool(const Connection&)> keep) {
    trim_keepers_.push_back(std::move(keep));
}

void Host::trim_idle_connections() {
    std::size_t high = config_.trim_high_water
                           ? config_.trim_high_water
                           : std::max<std::size_t>(config_.max_connections / 10 * 9, 1);
    if (connections_.size() <= high) return;
    std::size_t low = high / 10 * 8;
    auto now = net::Clock::now();
    std::vector<std::shared_ptr<Connection>> idle;
    for (const auto& entry : connections_) {
        const auto& c = entry.second;  // a name the lambda below can capture (clang 14)
        if (c->direction == Direction::inbound && c->session->stream_count() == 0 &&
            !c->session->is_closed() && now - c->session->last_received() >= config_.trim_idle &&
            std::none_of(trim_keepers_.begin(), trim_keepers_.end(),
                         [&](const auto& keep) { return keep(*c); }))
            idle.push_back(c);
    }
    std::sort(idle.begin(), idle.end(), [](const auto& a, const auto& b) {
        return a->session->last_received() < b->session->last_received();
    });
    std::size_t open = connections_.size();
    for (const auto& c : idle) {
        if (open <= low) break;
        log().debug(
            "event=connection_trimmed peer={} idle_s={}", c->peer,
            std::chrono::duration_cast<std::chrono::seconds>(now - c->session->last_received())
                .count());
        c->session->close();
        ++stats_.trimmed;
        --open;
    }
}

awaitable<HostResult<std::shared_ptr<net::YamuxStream>>> Host::new_stream(
    std::shared_ptr<Connection> conn, std::vector<std::string> protocols) {
    // The spec's ACK backlog: at most 256 of our streams unacknowledged (go-yamux resets those
    // past its accept backlog). Checked and taken with no suspension in between.
    auto deadline = net::Clock::now() + config_.negotiate_timeout;
    while (conn->session->backlog_full()) {
        auto left = std::chrono::duration_cast<net::Duration>(deadline - net::Clock::now());
        // A statement, not a co_await inside ?: (GCC 12, see net/condition.hpp).
        auto ec = make_error_code(net::net_errc::timeout);
        if (left > net::Duration::zero())
            ec = co_await net::with_deadline(conn->session->wait_to_open(), left);
        if (ec) co_return Failure{Phase::protocol, ec, protocols.empty() ? "" : protocols[0]};
    }
    auto stream = conn->session->open_stream();
    if (!stream) co_return Failure{Phase::protocol, stream.error(), {}};
    if (protocols.size() == 1 && peer_store_.supports(conn->peer, protocols[0])) {
        // The peer announced it: settle on it at once, as go-libp2p does. The proposal goes with
        // the first request and the answer comes back with the response, a round trip less; a
        // refusal fails the first read.
        (*stream)->set_preamble(net::multistream_lazy(protocols[0]));
        (*stream)->set_protocol(protocols[0]);
        co_return *stream;
    }
    (*stream)->set_deadline(net::Clock::now() + config_.negotiate_timeout);
    auto chosen = co_await net::multistream_select(**stream, protocols);
    (*stream)->set_deadline(net::Clock::time_point::max());  // the caller bounds its own waits
    if (!chosen) {
        (*stream)->reset();
        co_return Failure{Phase::protocol, chosen.error(), protocols.empty() ? "" : protocols[0]};
    }
    (*stream)->set_protocol(*chosen);
    co_return *stream;
}

awaitable<void> Host::handle_stream(std::shared_ptr<net::YamuxStream> stream,
                                    std::weak_ptr<Connection> weak) {
    // The answer waits for the handler's first write (identify's record, a DHT response) and
    // goes in its frame; a handler that reads first sends it before it waits (YamuxStream).
    net::Preamble held;
    std::function<bool(std::string_view)> known = [this](std::string_view p) {
        return handlers_.contains(p);
    };
    stream->set_deadline(net::Clock::now() + config_.negotiate_timeout);
    auto chosen =
        co_await net::multistream_handle(*stream, known, &held.send, net::HoldAnswer::always);
    stream->set_deadline(net::Clock::time_point::max());  // each handler bounds its own waits
    auto conn = weak.lock();
    if (!chosen || !conn) {
        ++stats_.streams_refused;
        if (conn) {
            log().debug("event=stream_refused peer={} error=\"{}\"", conn->peer,
                        chosen ? "connection gone" : chosen.error().message());
        }
        stream->reset();
        co_return;
    }
    stream->set_protocol(*chosen);
    stream->set_preamble(std::move(held));
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

std::vector<std::shared_ptr<Connection>> Host::connections() const {
    std::vector<std::shared_ptr<Connection>> out;
    for (const auto& [id, conn] : connections_) out.push_back(conn);
    return out;
}

std::vector<std::shared_ptr<Connection>> Host::connections_to(const PeerId& peer) const {
    std::vector<std::shared_ptr<Connection>> out;
    auto it = connections_by_peer_.find(peer);
    if (it == connections_by_peer_.end()) return out;
    for (const auto& conn : it->second)
        if (conn->is_open()) out.push_back(conn);
    return out;
}

bool Host::is_connected(const PeerId& peer) const {
    auto it = connections_by_peer_.find(peer);
    if (it == connections_by_peer_.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(),
                       [](const auto& conn) { return conn->is_open(); });
}

void Host::forget_connection_of_peer(const Connection& closed) {
    auto it = connections_by_peer_.find(closed.peer);
    if (it == connections_by_peer_.end()) return;
    std::erase_if(it->second, [&](const auto& conn) { return conn->id == closed.id; });
    if (it->second.empty()) connections_by_peer_.erase(it);
}

std::size_t Host::forget_stale_peers() {
    return peer_store_.forget_unseen_since(net::Clock::now() - config_.forget_peers_after);
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
