#include "keel/relay/relay_service.hpp"

#include <keel/proto/relay.pb.h>

#include "keel/base/scope_exit.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/log.hpp"
#include "keel/net/stream_pipe.hpp"
#include "keel/relay/relay_messages.hpp"

namespace keel::relay {

namespace asio = net::asio;

namespace {

void set_limit(pb::RelayLimit& limit, const RelayConfig& config) {
    limit.set_duration(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(config.circuit_duration).count()));
    limit.set_data(config.circuit_bytes);
}

std::optional<asio::ip::address> remote_ip(const Connection& connection) {
    auto endpoint = tcp_endpoint(connection.remote_addr);
    if (!endpoint) return std::nullopt;
    return endpoint->address();
}

}  // namespace

RelayService::RelayService(Host& host, RelayConfig config)
    : host_(host), config_(config), table_(config_) {
    // A reservation rides on the peer's connection, however idle, until it expires or ends.
    host_.keep_from_trim([this, alive = alive_](const Connection& connection) {
        return *alive && table_.find(connection.peer, std::chrono::system_clock::now());
    });
}

RelayService::~RelayService() {
    *alive_ = false;
}

void RelayService::start() {
    if (serving_) return;
    serving_ = true;
    host_.set_handler(std::string(hop_protocol_id),
                      [this](std::shared_ptr<net::YamuxStream> stream,
                             std::shared_ptr<Connection> connection) -> net::awaitable<void> {
                          co_await serve_hop(std::move(stream), std::move(connection));
                      });
    // A reservation lives on its connection: once the peer has none left to us, nobody can be
    // relayed to it, and its slot goes to someone else (as rust-libp2p's relay does).
    host_.observe_connections(
        [this, alive = alive_](const std::shared_ptr<Connection>& connection, bool opened) {
            if (!*alive || opened) return;
            for (const auto& other : host_.connections_to(connection->peer))
                if (other != connection && other->is_open()) return;
            table_.remove(connection->peer);
        });
    log().info(
        "event=relay_serving protocol={} max_reservations={} circuit_bytes={} "
        "circuit_duration_s={}",
        hop_protocol_id, config_.max_reservations, config_.circuit_bytes,
        std::chrono::duration_cast<std::chrono::seconds>(config_.circuit_duration).count());
}

void RelayService::stop() {
    if (!serving_) return;
    serving_ = false;
    host_.remove_handler(hop_protocol_id);
}

net::awaitable<void> RelayService::refuse(net::YamuxStream& stream, Refusal why, int status,
                                          const Connection& connection) {
    stats_.refused_by_reason.add(why);
    log().debug("event=relay_refused peer={} reason={}", connection.peer, refusal_name(why));
    pb::HopMessage answer;
    answer.set_type(pb::HopMessage::STATUS);
    answer.set_status(static_cast<pb::RelayStatus>(status));
    co_await write_relay_message(stream, answer);
    co_await stream.close_write();
}

net::awaitable<void> RelayService::serve_hop(std::shared_ptr<net::YamuxStream> stream,
                                             std::shared_ptr<Connection> connection) {
    auto alive = alive_;
    pb::HopMessage request;
    if (auto ec = co_await read_relay_message(*stream, request, config_.message_timeout)) {
        if (!*alive) co_return;
        if (ec == net::net_errc::malformed_message) {
            co_await refuse(*stream, Refusal::malformed, pb::MALFORMED_MESSAGE, *connection);
        } else {
            stream->reset();
        }
        co_return;
    }
    if (!*alive) co_return;
    switch (request.type()) {
        case pb::HopMessage::RESERVE:
            co_await reserve(*stream, *connection);
            break;
        case pb::HopMessage::CONNECT:
            co_await connect(std::move(stream), std::move(connection), request);
            break;
        default:
            co_await refuse(*stream, Refusal::unexpected, pb::UNEXPECTED_MESSAGE, *connection);
    }
}

net::awaitable<void> RelayService::reserve(net::YamuxStream& stream, const Connection& connection) {
    auto ip = remote_ip(connection);
    if (!ip) {  // not a TCP connection: a relayed one (a relay does not relay over a relay)
        co_await refuse(stream, Refusal::unexpected, pb::PERMISSION_DENIED, connection);
        co_return;
    }
    auto granted =
        table_.reserve(connection.peer, *ip, net::Clock::now(), std::chrono::system_clock::now());
    if (auto* why = std::get_if<Refusal>(&granted)) {
        co_await refuse(stream, *why, pb::RESERVATION_REFUSED, connection);
        co_return;
    }
    const auto expires = std::get<std::chrono::system_clock::time_point>(granted);
    ++stats_.reservations_granted;

    pb::HopMessage answer;
    answer.set_type(pb::HopMessage::STATUS);
    answer.set_status(pb::OK);
    auto* reservation = answer.mutable_reservation();
    reservation->set_expire(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(expires.time_since_epoch()).count()));
    // Where the reserving peer is reachable through us: every address of ours (rust-libp2p
    // clients refuse a reservation without one).
    for (const auto& addr : host_.public_addrs()) {
        auto full = Multiaddr::parse(addr.to_string() + "/p2p/" + host_.peer_id().to_base58());
        if (full) reservation->add_addrs(std::string(as_chars(full->to_bytes())));
    }
    auto voucher =
        reservation_voucher(host_.config().identity, host_.peer_id(), connection.peer, expires);
    reservation->set_voucher(std::string(as_chars(voucher)));
    set_limit(*answer.mutable_limit(), config_);
    log().debug("event=relay_reserved peer={} expires_in_s={}", connection.peer,
                std::chrono::duration_cast<std::chrono::seconds>(config_.reservation_ttl).count());
    co_await write_relay_message(stream, answer);
    co_await stream.close_write();
}

net::awaitable<void> RelayService::connect(std::shared_ptr<net::YamuxStream> stream,
                                           std::shared_ptr<Connection> connection,
                                           const pb::HopMessage& request) {
    auto alive = alive_;
    auto target =
        request.has_peer()
            ? PeerId::from_bytes(as_bytes(request.peer().id()))
            : boost::system::result<PeerId>(make_error_code(net::net_errc::malformed_message));
    if (!target) {
        co_await refuse(*stream, Refusal::malformed, pb::MALFORMED_MESSAGE, *connection);
        co_return;
    }
    // No relay chains: a circuit is not asked for over another circuit (as go and rust).
    if (connection->limited) {
        co_await refuse(*stream, Refusal::unexpected, pb::PERMISSION_DENIED, *connection);
        co_return;
    }
    const PeerId source = connection->peer;
    if (!table_.find(*target, std::chrono::system_clock::now())) {
        co_await refuse(*stream, Refusal::no_reservation, pb::NO_RESERVATION, *connection);
        co_return;
    }
    std::shared_ptr<Connection> to_target;
    for (const auto& c : host_.connections_to(*target))
        if (c->is_open()) to_target = c;
    if (!to_target) {
        co_await refuse(*stream, Refusal::connection_failed, pb::CONNECTION_FAILED, *connection);
        co_return;
    }
    if (auto why = table_.open_circuit(source, *target)) {
        co_await refuse(*stream, *why, pb::RESOURCE_LIMIT_EXCEEDED, *connection);
        co_return;
    }
    // From here the circuit is counted: every path below closes it.
    ScopeExit slot([table = &table_, alive, source, target = *target] {
        if (*alive) table->close_circuit(source, target);
    });

    std::vector<std::string> stop_protocol{std::string(stop_protocol_id)};
    auto opened = co_await net::within_deadline(host_.new_stream(to_target, stop_protocol),
                                                config_.message_timeout);
    if (!*alive) co_return;
    if (!opened || !*opened) {
        co_await refuse(*stream, Refusal::connection_failed, pb::CONNECTION_FAILED, *connection);
        co_return;
    }
    auto stop_stream = **opened;
    pb::StopMessage stop;
    stop.set_type(pb::StopMessage::CONNECT);
    stop.mutable_peer()->set_id(std::string(as_chars(source.bytes())));
    set_limit(*stop.mutable_limit(), config_);
    pb::StopMessage stop_answer;
    auto ec = co_await write_relay_message(*stop_stream, stop);
    if (!ec) ec = co_await read_relay_message(*stop_stream, stop_answer, config_.message_timeout);
    if (!*alive) co_return;
    if (ec || stop_answer.type() != pb::StopMessage::STATUS || stop_answer.status() != pb::OK) {
        stop_stream->reset();
        co_await refuse(*stream, Refusal::connection_failed, pb::CONNECTION_FAILED, *connection);
        co_return;
    }

    pb::HopMessage answer;
    answer.set_type(pb::HopMessage::STATUS);
    answer.set_status(pb::OK);
    set_limit(*answer.mutable_limit(), config_);
    if (co_await write_relay_message(*stream, answer)) {
        stop_stream->reset();
        stream->reset();
        co_return;
    }
    if (!*alive) co_return;
    ++stats_.circuits_opened;
    log().debug("event=relay_circuit_opened from={} to={}", source, target->short_string());
    auto piped = co_await net::pipe_streams(
        *stream, *stop_stream,
        net::PipeLimits{config_.circuit_duration, config_.circuit_duration, config_.circuit_bytes});
    if (!*alive) co_return;
    stats_.bytes_relayed += piped.a_to_b + piped.b_to_a;
    stats_.circuits_ended_by.add(piped.end);
    log().debug("event=relay_circuit_closed from={} to={} bytes_there={} bytes_back={} end={}",
                source, target->short_string(), piped.a_to_b, piped.b_to_a,
                net::pipe_end_name(piped.end));
}

}  // namespace keel::relay
