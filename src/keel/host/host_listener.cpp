// Host, inbound: listening sockets, the accept loop with its admission check (a refusal costs an
// accept, nothing more), and the upgrade of an admitted connection.
#include <boost/asio/ip/v6_only.hpp>

#include "keel/host/host.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/net/log.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/tcp_stream.hpp"

namespace keel {

namespace asio = net::asio;
using asio::ip::tcp;
using net::awaitable;
using net::error_code;

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
    public_addrs_until_ = {};  // public_addrs() changes
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
        auto peer = socket.remote_endpoint(peer_ec);
        auto from = peer.address();
        error_code ignored;
        if (peer_ec) {  // reset by the peer before we got to it: nothing to admit
            log().debug("event=inbound_gone error=\"{}\"", peer_ec.message());
            socket.close(ignored);
            continue;
        }
        // Refused: closed at once, before any handshake byte, so a refusal costs an accept.
        auto refused = admission_.admit(
            from, net::Clock::now(), connections_.size(),
            [this](const auto& network) { return evict_oldest_handshake(network); });
        if (refused) {
            auto reason = refusal_name(*refused);
            ++stats_.inbound_refused;
            stats_.inbound_refused_by_reason.add(*refused);
            log().debug(
                "event=inbound_refused from={} reason={} pending={} from_ip={} connections={}",
                from.to_string(), reason, admission_.pending(), admission_.connections_from(from),
                connections_.size());
            socket.close(ignored);
            continue;
        }
        ++stats_.inbound_accepted;
        auto transport = std::make_unique<net::TcpStream>(std::move(socket));
        auto id = next_handshake_id_++;
        handshakes_.emplace(id, InboundHandshake{from, transport.get()});
        asio::co_spawn(executor_, handle_inbound(std::move(transport), peer, id), asio::detached);
    }
}

std::optional<asio::ip::address> Host::evict_oldest_handshake(const asio::ip::address& network) {
    for (auto& [id, handshake] : handshakes_) {
        if (handshake.evicted || network_of(handshake.from) != network) continue;
        handshake.evicted = true;
        // Its upgrade fails at its next wait, which every step of a handshake reaches.
        handshake.transport->reset();
        ++stats_.handshakes_evicted;
        log().debug("event=inbound_handshake_evicted from={} network={} pending={}",
                    handshake.from.to_string(), network.to_string(), admission_.pending());
        return handshake.from;
    }
    return std::nullopt;
}

awaitable<void> Host::handle_inbound(std::unique_ptr<net::TcpStream> stream, tcp::endpoint peer,
                                     std::uint64_t handshake) {
    auto from = peer.address();
    auto remote = tcp_multiaddr(peer);
    auto local = local_multiaddr(stream->socket());
    error_code ignored;
    stream->socket().set_option(tcp::no_delay(true), ignored);
    Phase phase = Phase::security;
    // The handshake's deadline rides on the socket (one timer) rather than with_deadline's
    // parallel group: this is the bootstrap's hot path, once per connection.
    auto* transport = stream.get();
    transport->set_deadline(net::Clock::now() + config_.handshake_timeout);
    auto upgraded =
        co_await upgrade_connection(std::move(stream), false, upgrade_config_, std::nullopt, phase);
    // No suspension since the upgrade returned: the entry goes before anyone could evict it.
    auto entry = handshakes_.extract(handshake);
    if (!entry.empty() && entry.mapped().evicted) {
        if (upgraded) upgraded->session->close();  // too late: its place went to another
        co_return;
    }
    if (!upgraded) {
        admission_.upgrade_failed(from);
        ++stats_.upgrade_failures;
        log().info("event=inbound_upgrade_failed addr={} phase={} error=\"{}\"", remote,
                   phase_name(phase), upgraded.error().message());
        co_return;
    }
    // Up: the transport now lives in the session, which keeps it as long as the connection,
    // whose streams carry deadlines of their own.
    transport->set_deadline(net::Clock::time_point::max());
    if (stopped_) {
        admission_.upgrade_failed(from);
        upgraded->session->close();
        co_return;
    }
    admission_.upgraded(from);
    ++stats_.upgrades_ok;
    add_connection(std::move(*upgraded), Direction::inbound, std::move(remote), std::move(local),
                   from);
}

}  // namespace keel
