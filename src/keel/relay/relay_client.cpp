#include "keel/relay/relay_client.hpp"

#include <keel/proto/relay.pb.h>

#include "keel/base/scope_exit.hpp"
#include "keel/host/circuit_address.hpp"
#include "keel/net/condition.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/log.hpp"
#include "keel/relay/circuit_stream.hpp"
#include "keel/relay/relay_errc.hpp"
#include "keel/relay/relay_messages.hpp"

namespace keel::relay {

namespace asio = net::asio;

namespace {

std::optional<PeerId> last_peer(const Multiaddr& addr) {
    std::optional<PeerId> out;
    for (const auto& c : addr.components())
        if (c.code == proto_code::p2p)
            if (auto p = PeerId::from_bytes(c.value)) out = *p;
    return out;
}

Failure relay_failure(net::error_code ec, const Multiaddr& addr) {
    return Failure{Phase::dial, ec, addr.to_string()};
}

// Opens a HOP stream on a connection to the relay, sends `request`, reads the STATUS answer.
net::awaitable<net::result<std::pair<std::shared_ptr<net::YamuxStream>, pb::HopMessage>>> hop(
    Host& host, std::shared_ptr<Connection> relay, const pb::HopMessage& request,
    net::Duration timeout) {
    std::vector<std::string> protocols{std::string(hop_protocol_id)};
    auto opened = co_await net::within_deadline(host.new_stream(relay, protocols), timeout);
    if (!opened) co_return make_error_code(net::net_errc::timeout);
    if (!*opened) co_return opened->error().error;
    auto stream = **opened;
    pb::HopMessage answer;
    auto ec = co_await write_relay_message(*stream, request);
    if (!ec) ec = co_await read_relay_message(*stream, answer, timeout);
    if (ec) {
        stream->reset();
        co_return ec;
    }
    if (answer.type() != pb::HopMessage::STATUS) {
        stream->reset();
        co_return make_error_code(relay_errc::unexpected_message);
    }
    if (answer.status() != pb::OK) {
        stream->reset();
        co_return status_error(answer.status());
    }
    co_return std::pair{stream, std::move(answer)};
}

}  // namespace

struct RelayClient::Kept {
    Kept(asio::any_io_executor ex, Multiaddr relay, PeerId peer, net::Duration backoff)
        : relay(std::move(relay)), peer(std::move(peer)), wake(ex), backoff(backoff) {}
    Multiaddr relay;
    PeerId peer;
    net::Condition wake;  // notified to reserve again now (a reconnect, a lost connection)
    net::Duration backoff;
};

RelayClient::RelayClient(Host& host, RelayClientConfig config) : host_(host), config_(config) {}

RelayClient::~RelayClient() {
    *alive_ = false;
}

void RelayClient::start() {
    if (started_) return;
    started_ = true;
    host_.set_handler(std::string(stop_protocol_id),
                      [this](std::shared_ptr<net::YamuxStream> stream,
                             std::shared_ptr<Connection> connection) -> net::awaitable<void> {
                          co_await accept_stop(std::move(stream), std::move(connection));
                      });
    host_.set_circuit_dialer([this](Multiaddr addr) { return dial_circuit(std::move(addr)); });
    host_.observe_connections(
        [this, alive = alive_](const std::shared_ptr<Connection>& connection, bool opened) {
            if (!*alive || connection->limited) return;
            for (auto& kept : kept_) {
                if (kept->peer != connection->peer) continue;
                if (!opened) {
                    for (const auto& other : host_.connections_to(connection->peer))
                        if (other != connection && other->is_open()) return;
                    // Without a connection the reservation is gone on the relay's side too.
                    if (held_.erase(connection->peer) > 0) publish_addrs();
                }
                kept->wake.notify();
            }
        });
}

void RelayClient::stop() {
    if (!started_) return;
    started_ = false;
    *alive_ = false;
    for (auto& kept : kept_) kept->wake.notify();
    host_.remove_handler(stop_protocol_id);
    host_.set_circuit_dialer({});
}

std::vector<HeldReservation> RelayClient::reservations() const {
    std::vector<HeldReservation> out;
    for (const auto& [peer, held] : held_) out.push_back(held);
    return out;
}

void RelayClient::publish_addrs() {
    std::vector<Multiaddr> addrs;
    for (const auto& [peer, held] : held_)
        addrs.insert(addrs.end(), held.circuit_addrs.begin(), held.circuit_addrs.end());
    host_.set_relayed_addrs(std::move(addrs));
    for (auto& observer : observers_) observer();
}

bool RelayClient::has_direct_connection(const PeerId& relay) const {
    for (const auto& c : host_.connections_to(relay))
        if (c->is_open() && !c->limited) return true;
    return false;
}

net::awaitable<net::result<HeldReservation>> RelayClient::reserve(Multiaddr relay) {
    auto alive = alive_;
    auto relay_peer = last_peer(relay);
    if (!relay_peer || is_circuit(relay))
        co_return make_error_code(relay_errc::not_a_circuit_address);
    if (config_.reconnect && !has_direct_connection(*relay_peer)) {
        config_.reconnect(*relay_peer);  // keep() retries when the connection opens
        co_return make_error_code(net::net_errc::connection_closed);
    }
    auto connection = co_await host_.connect(relay);
    if (!*alive) co_return make_error_code(net::net_errc::shutting_down);
    if (!connection) {
        ++stats_.reservation_failures;
        co_return connection.error().error;
    }
    pb::HopMessage request;
    request.set_type(pb::HopMessage::RESERVE);
    auto answer = co_await hop(host_, *connection, request, config_.message_timeout);
    if (!*alive) co_return make_error_code(net::net_errc::shutting_down);
    if (!answer) {
        ++stats_.reservation_failures;
        co_return answer.error();
    }
    auto& [stream, message] = *answer;
    co_await stream->close_write();
    if (!message.has_reservation()) {
        ++stats_.reservation_failures;
        co_return make_error_code(relay_errc::malformed_message);
    }
    HeldReservation held;
    held.relay = relay;
    held.relay_peer = *relay_peer;
    held.expires = std::chrono::system_clock::time_point(std::chrono::seconds(
        std::min<std::uint64_t>(message.reservation().expire(), std::uint64_t{1} << 40)));
    // The relay's addresses, each as <addr>/p2p/<relay>/p2p-circuit (at most 32 of them).
    for (const auto& bytes : message.reservation().addrs()) {
        if (held.circuit_addrs.size() >= 32) break;
        auto addr = Multiaddr::from_bytes(as_bytes(bytes));
        if (!addr || is_circuit(*addr)) continue;
        auto bare =
            addr->without(proto_code::p2p).with_component(proto_code::p2p, relay_peer->bytes());
        held.circuit_addrs.push_back(bare.with_component(p2p_circuit_code, {}));
    }
    // A relay that lists none (go's default on a private network lists only public ones): the
    // address we reached it at, which is at least what peers on our network can dial too.
    if (held.circuit_addrs.empty())
        held.circuit_addrs.push_back(without_own_peer_id(relay)
                                         .with_component(proto_code::p2p, relay_peer->bytes())
                                         .with_component(p2p_circuit_code, {}));
    if (message.has_limit()) {
        held.limit_duration_s = message.limit().duration();
        held.limit_bytes = message.limit().data();
    }
    ++stats_.reservations;
    held_[*relay_peer] = held;
    publish_addrs();
    log().info("event=relay_reserved relay={} expires_in_s={} addrs={}", relay_peer->short_string(),
               std::chrono::duration_cast<std::chrono::seconds>(held.expires -
                                                                std::chrono::system_clock::now())
                   .count(),
               held.circuit_addrs.size());
    co_return held;
}

void RelayClient::keep_reservations(std::vector<Multiaddr> relays) {
    for (auto& relay : relays) {
        auto peer = last_peer(relay);
        if (!peer) continue;
        bool known = false;
        for (const auto& kept : kept_) known |= kept->peer == *peer;
        if (known) continue;
        auto kept =
            std::make_shared<Kept>(host_.get_executor(), relay, *peer, config_.retry_initial);
        kept_.push_back(kept);
        asio::co_spawn(host_.get_executor(), keep(kept), asio::detached);
    }
}

net::awaitable<void> RelayClient::keep(std::shared_ptr<Kept> kept) {
    auto alive = alive_;
    while (*alive) {
        auto held = co_await reserve(kept->relay);
        if (!*alive) co_return;
        net::Duration wait = kept->backoff;
        if (held) {
            kept->backoff = config_.retry_initial;
            // Refresh halfway to expiry (at least a second from now).
            auto left = std::chrono::duration_cast<net::Duration>(held->expires -
                                                                  std::chrono::system_clock::now());
            wait = std::max<net::Duration>(left / 2, net::Duration{1000});
        } else {
            log().info("event=relay_reserve_failed relay={} error=\"{}\" retry_ms={}", kept->peer,
                       held.error().message(), wait.count());
            kept->backoff = std::min(kept->backoff * 2, config_.retry_max);
            if (held_.erase(kept->peer) > 0) publish_addrs();
        }
        co_await kept->wake.wait(net::Clock::now() + wait);  // notified: reserve again now
    }
}

net::awaitable<void> RelayClient::accept_stop(std::shared_ptr<net::YamuxStream> stream,
                                              std::shared_ptr<Connection> connection) {
    auto alive = alive_;
    pb::StopMessage request;
    auto ec = co_await read_relay_message(*stream, request, config_.message_timeout);
    if (!*alive) co_return;
    pb::StopMessage answer;
    answer.set_type(pb::StopMessage::STATUS);
    std::optional<PeerId> source;
    if (!ec && request.type() == pb::StopMessage::CONNECT && request.has_peer())
        if (auto p = PeerId::from_bytes(as_bytes(request.peer().id()))) source = *p;
    // A circuit through a relayed connection would be a relay chain: not allowed (as go and rust).
    if (ec || !source || connection->limited) {
        ++stats_.circuit_failures;
        answer.set_status(ec || !source ? pb::MALFORMED_MESSAGE : pb::PERMISSION_DENIED);
        co_await write_relay_message(*stream, answer);
        stream->reset();
        co_return;
    }
    // A relay connects only peers that hold a reservation with it, so STOP comes from our relays
    // alone; from anyone else it would be a way to open connections to us that no limit counts.
    // Refused with NO_RESERVATION, as rust-libp2p's client refuses it (docs/interop.md).
    const PeerId relay_peer = connection->peer;
    auto& through = circuits_through_[relay_peer];
    const bool ours = held_.contains(relay_peer);
    if (!ours || through >= config_.max_circuits_per_relay ||
        circuits_open_ >= config_.max_circuits) {
        if (through == 0) circuits_through_.erase(relay_peer);
        ++stats_.circuits_refused;
        log().debug("event=relay_stop_refused relay={} reason={}", relay_peer,
                    ours ? "circuit_limit" : "no_reservation");
        answer.set_status(ours ? pb::RESOURCE_LIMIT_EXCEEDED : pb::NO_RESERVATION);
        co_await write_relay_message(*stream, answer);
        stream->reset();
        co_return;
    }
    // Counted from here until the circuit ends, whichever way.
    ++through;
    ++circuits_open_;
    ScopeExit count([this, alive, relay_peer] {
        if (!*alive) return;
        --circuits_open_;
        auto it = circuits_through_.find(relay_peer);
        if (it != circuits_through_.end() && --it->second == 0) circuits_through_.erase(it);
    });
    answer.set_status(pb::OK);
    if (co_await write_relay_message(*stream, answer)) co_return;
    auto relay = connection->remote_addr.without(proto_code::p2p)
                     .with_component(proto_code::p2p, connection->peer.bytes());
    auto remote = circuit_to(relay, *source);
    auto circuit = std::make_unique<CircuitStream>(stream);
    auto ended = circuit->ended();
    auto adopted =
        co_await host_.adopt_connection(std::move(circuit), Direction::inbound, remote, *source);
    if (!*alive) co_return;
    if (!adopted) {
        ++stats_.circuit_failures;
        co_return;
    }
    ++stats_.circuits_accepted;
    log().debug("event=relay_circuit_accepted from={} relay={}", source->short_string(),
                connection->peer);
    // The Host closes a stream once its handler returns: hold it while the circuit carries the
    // relayed connection.
    co_await ended->wait();
}

net::awaitable<HostResult<std::shared_ptr<Connection>>> RelayClient::dial_circuit(Multiaddr addr) {
    auto alive = alive_;
    auto circuit = parse_circuit(addr);
    if (!circuit || !circuit->target || *circuit->target == host_.peer_id())
        co_return relay_failure(make_error_code(relay_errc::not_a_circuit_address), addr);
    auto relay = co_await host_.connect(circuit->relay);
    if (!*alive) co_return relay_failure(make_error_code(net::net_errc::shutting_down), addr);
    if (!relay) {
        ++stats_.circuit_failures;
        co_return relay.error();
    }
    if ((*relay)->limited)
        co_return relay_failure(make_error_code(relay_errc::permission_denied), addr);
    pb::HopMessage request;
    request.set_type(pb::HopMessage::CONNECT);
    request.mutable_peer()->set_id(std::string(as_chars(circuit->target->bytes())));
    auto answer = co_await hop(host_, *relay, request, config_.message_timeout);
    if (!*alive) co_return relay_failure(make_error_code(net::net_errc::shutting_down), addr);
    if (!answer) {
        ++stats_.circuit_failures;
        log().info("event=relay_dial_failed addr={} error=\"{}\"", addr.to_string(),
                   answer.error().message());
        co_return relay_failure(answer.error(), addr);
    }
    ++stats_.circuits_dialed;
    co_return co_await host_.adopt_connection(std::make_unique<CircuitStream>(answer->first),
                                              Direction::outbound, addr, *circuit->target);
}

}  // namespace keel::relay
