#include "keel/p2pd/control_daemon.hpp"

#include <sys/stat.h>

#include <algorithm>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "keel/base/scope_exit.hpp"
#include "keel/kad/dht.hpp"
#include "keel/net/deadline.hpp"
#include "keel/net/log.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/net/stream_pipe.hpp"
#include "keel/net/tcp_stream.hpp"
#include "keel/p2pd/control_messages.hpp"
#include "keel/p2pd/dht_requests.hpp"

namespace keel::p2pd {

namespace asio = net::asio;
using local = asio::local::stream_protocol;
using pb::p2pd::Request;
using pb::p2pd::Response;

namespace {

std::string request_name(const Request& request) {
    std::string name = Request::Type_Name(request.type());
    if (request.type() == Request::DHT && request.has_dht())
        name += " " + pb::p2pd::DHTRequest::Type_Name(request.dht().type());
    if (request.type() == Request::PEERSTORE && request.has_peerstore())
        name += " " + pb::p2pd::PeerstoreRequest::Type_Name(request.peerstore().type());
    return name;
}

// A leftover socket file from an earlier run would make bind fail; only a socket is removed,
// never a regular file someone pointed -listen at by mistake.
void remove_stale_socket(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
}

}  // namespace

ControlDaemon::ControlDaemon(Host& host, kad::Dht* dht, DaemonConfig config)
    : host_(host), dht_(dht), config_(config) {}

ControlDaemon::~ControlDaemon() {
    stop();
}

net::result<Multiaddr> ControlDaemon::listen(const Multiaddr& addr) {
    auto endpoint = control_endpoint(addr);
    if (!endpoint) return endpoint.error();
    net::error_code ec;
    if (auto* tcp = std::get_if<asio::ip::tcp::endpoint>(&*endpoint)) {
        auto acceptor = std::make_shared<asio::ip::tcp::acceptor>(host_.get_executor());
        acceptor->open(tcp->protocol(), ec);
        if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor->bind(*tcp, ec);
        if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return ec;
        auto bound = control_multiaddr(acceptor->local_endpoint());
        tcp_acceptors_.push_back(acceptor);
        asio::co_spawn(host_.get_executor(), accept_loop<asio::ip::tcp>(acceptor), asio::detached);
        return bound;
    }
    auto unix_endpoint = std::get<local::endpoint>(*endpoint);
    remove_stale_socket(unix_endpoint.path());
    auto acceptor = std::make_shared<local::acceptor>(host_.get_executor());
    acceptor->open(unix_endpoint.protocol(), ec);
    if (!ec) acceptor->bind(unix_endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return ec;
    socket_files_.push_back(unix_endpoint.path());
    unix_acceptors_.push_back(acceptor);
    asio::co_spawn(host_.get_executor(), accept_loop<local>(acceptor), asio::detached);
    return control_multiaddr(unix_endpoint);
}

void ControlDaemon::stop() {
    lifetime_->alive = false;
    for (const auto& protocol : handled_protocols_) host_.remove_handler(protocol);
    handled_protocols_.clear();
    net::error_code ignored;
    for (auto& a : tcp_acceptors_) a->close(ignored);
    for (auto& a : unix_acceptors_) a->close(ignored);
    for (const auto& path : socket_files_) ::unlink(path.c_str());
    tcp_acceptors_.clear();
    unix_acceptors_.clear();
    socket_files_.clear();
}

template <typename Protocol>
net::awaitable<void> ControlDaemon::accept_loop(
    std::shared_ptr<typename Protocol::acceptor> acceptor) {
    auto lifetime = lifetime_;
    while (lifetime->alive && acceptor->is_open()) {
        auto [ec, socket] = co_await acceptor->async_accept(net::use_result);
        if (!lifetime->alive) co_return;
        if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            log().warn("event=p2pd_accept_failed error=\"{}\"", ec.message());
            asio::steady_timer pause(host_.get_executor(), std::chrono::milliseconds(50));
            co_await pause.async_wait(net::use_result);
            continue;
        }
        if (lifetime->open_connections >= config_.max_control_connections) {
            ++stats_.refused;
            net::error_code ignored;
            socket.close(ignored);
            continue;
        }
        asio::co_spawn(host_.get_executor(),
                       serve(std::make_unique<net::SocketStream<Protocol>>(std::move(socket))),
                       asio::detached);
    }
}

net::awaitable<void> ControlDaemon::serve(std::unique_ptr<net::ByteStream> control) {
    auto lifetime = lifetime_;
    ++lifetime->open_connections;
    ScopeExit release([lifetime] { --lifetime->open_connections; });
    for (;;) {
        auto request = co_await net::with_deadline(read_request(*control, max_control_message),
                                                   config_.request_timeout);
        if (!lifetime->alive) co_return;
        if (!request) {
            // The client hung up between requests: the normal end of a control connection.
            if (request.error() == asio::error::eof) co_return;
            ++stats_.bad_input;
            log().info("event=p2pd_bad_request error=\"{}\"", request.error().message());
            control->reset();
            co_return;
        }
        ++stats_.requests[request_name(*request)];
        if (!co_await answer(*control, control, *request) || !lifetime->alive) co_return;
    }
}

net::Duration ControlDaemon::operation_timeout(std::int64_t requested_seconds) const {
    if (requested_seconds <= 0) return config_.operation_timeout;
    auto max_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(config_.max_operation_timeout);
    if (requested_seconds >= max_seconds.count()) return config_.max_operation_timeout;
    return std::chrono::seconds(requested_seconds);
}

net::awaitable<bool> ControlDaemon::answer(net::ByteStream& control,
                                           std::unique_ptr<net::ByteStream>& owner,
                                           const Request& request) {
    auto reply = [&](const Response& response) -> net::awaitable<bool> {
        if (response.type() == Response::ERROR) ++stats_.errors;
        co_return !co_await write_message(control, response);
    };
    auto bad_request = [&](std::string_view message) -> net::awaitable<bool> {
        // The request parsed but lacks what its type needs: answered, then the connection ends.
        ++stats_.bad_input;
        co_await reply(error_response(message));
        co_return false;
    };

    switch (request.type()) {
        case Request::IDENTIFY: {
            auto response = ok_response();
            auto* identify = response.mutable_identify();
            identify->set_id(host_.peer_id().bytes().data(), host_.peer_id().bytes().size());
            for (const auto& addr : host_.listen_addrs()) {
                auto bytes = addr.to_bytes();
                identify->add_addrs(bytes.data(), bytes.size());
            }
            co_return co_await reply(response);
        }
        case Request::CONNECT: {
            if (!request.has_connect()) co_return co_await bad_request("CONNECT without connect");
            auto peer = peer_id_field(request.connect().peer());
            if (!peer) co_return co_await bad_request("CONNECT: invalid peer ID");
            std::vector<Multiaddr> addrs;
            for (const auto& bytes : request.connect().addrs()) {
                // An address we cannot use (another transport) is skipped, as a libp2p dialer
                // would.
                if (auto addr = Multiaddr::from_bytes(as_bytes(bytes))) addrs.push_back(*addr);
            }
            auto timeout = operation_timeout(request.connect().timeout());
            auto connected =
                co_await net::within_deadline(host_.connect_peer(*peer, addrs), timeout);
            if (!connected) co_return co_await reply(error_response("CONNECT: timed out"));
            if (!*connected)
                co_return co_await reply(
                    error_response("CONNECT: " + connected->error().message()));
            co_return co_await reply(ok_response());
        }
        case Request::DISCONNECT: {
            if (!request.has_disconnect())
                co_return co_await bad_request("DISCONNECT without disconnect");
            auto peer = peer_id_field(request.disconnect().peer());
            if (!peer) co_return co_await bad_request("DISCONNECT: invalid peer ID");
            for (const auto& connection : host_.connections_to(*peer)) connection->session->close();
            co_return co_await reply(ok_response());
        }
        case Request::LIST_PEERS: {
            auto response = ok_response();
            std::map<PeerId, std::vector<Multiaddr>> peers;
            for (const auto& connection : host_.connections())
                if (connection->is_open())
                    peers[connection->peer].push_back(connection->remote_addr);
            for (const auto& [peer, addrs] : peers) *response.add_peers() = peer_info(peer, addrs);
            co_return co_await reply(response);
        }
        case Request::STREAM_OPEN:
            co_return co_await open_stream(owner, request);
        case Request::STREAM_HANDLER: {
            if (!request.has_streamhandler())
                co_return co_await bad_request("STREAM_HANDLER without streamHandler");
            const auto& handler = request.streamhandler();
            auto addr = Multiaddr::from_bytes(as_bytes(handler.addr()));
            if (!addr) co_return co_await bad_request("STREAM_HANDLER: invalid address");
            auto client = control_endpoint(*addr);
            if (!client)
                co_return co_await bad_request("STREAM_HANDLER: " + addr->to_string() +
                                               " is neither a TCP address nor a unix socket");
            if (handler.proto().empty())
                co_return co_await bad_request("STREAM_HANDLER: no protocol");
            for (const auto& protocol : handler.proto()) {
                // A newer registration of a protocol replaces the older one (CONTROL.md).
                if (std::find(handled_protocols_.begin(), handled_protocols_.end(), protocol) ==
                    handled_protocols_.end())
                    handled_protocols_.push_back(protocol);
                host_.set_handler(protocol, [this, client = *client](auto stream, auto connection) {
                    return forward_inbound(std::move(stream), std::move(connection), client);
                });
            }
            co_return co_await reply(ok_response());
        }
        case Request::DHT: {
            if (!request.has_dht()) co_return co_await bad_request("DHT without dht");
            if (!dht_)
                co_return co_await reply(
                    error_response("DHT is not enabled (start keel p2pd with -dht or -dhtServer)"));
            auto answer = co_await answer_dht_request(*dht_, request.dht(), control,
                                                      operation_timeout(request.dht().timeout()));
            if (answer.answered_error) ++stats_.errors;
            co_return !answer.write_error;
        }
        case Request::PEERSTORE: {
            if (!request.has_peerstore())
                co_return co_await bad_request("PEERSTORE without peerStore");
            const auto& store_request = request.peerstore();
            auto peer = peer_id_field(store_request.id());
            if (!peer) co_return co_await bad_request("PEERSTORE: invalid peer ID");
            auto info = host_.peer_store().get(*peer);
            auto response = ok_response();
            auto* answer = response.mutable_peerstore();
            if (store_request.type() == pb::p2pd::PeerstoreRequest::GET_PROTOCOLS) {
                if (info)
                    for (const auto& p : info->protocols) answer->add_protos(p);
            } else if (store_request.type() == pb::p2pd::PeerstoreRequest::GET_PEER_INFO) {
                if (!info)
                    co_return co_await reply(
                        error_response("PEERSTORE: unknown peer " + peer->to_base58()));
                *answer->mutable_peer() = peer_info(*peer, info->addrs);
            }
            co_return co_await reply(response);
        }
        case Request::CONNMANAGER:
        case Request::PUBSUB:
        default:
            co_return co_await reply(error_response(Request::Type_Name(request.type()) +
                                                    " requests are not supported by keel p2pd"));
    }
}

net::awaitable<bool> ControlDaemon::open_stream(std::unique_ptr<net::ByteStream>& control,
                                                const Request& request) {
    if (!request.has_streamopen() || request.streamopen().proto().empty()) {
        ++stats_.bad_input;
        co_await write_message(*control, error_response("STREAM_OPEN needs a peer and protocols"));
        co_return false;
    }
    const auto& open = request.streamopen();
    auto fail = [&](std::string message) -> net::awaitable<bool> {
        ++stats_.errors;
        co_return !co_await write_message(*control, error_response(message));
    };
    auto peer = peer_id_field(open.peer());
    if (!peer) co_return co_await fail("STREAM_OPEN: invalid peer ID");
    std::vector<std::string> protocols(open.proto().begin(), open.proto().end());
    auto timeout = operation_timeout(open.timeout());

    std::shared_ptr<Connection> used;
    auto attempt = [&]() -> net::awaitable<HostResult<std::shared_ptr<net::YamuxStream>>> {
        auto connection = co_await host_.connect_peer(*peer);
        if (!connection) co_return connection.error();
        used = *connection;
        co_return co_await host_.new_stream(*connection, protocols);
    };
    auto stream = co_await net::within_deadline(attempt(), timeout);
    if (!stream) co_return co_await fail("STREAM_OPEN: timed out");
    if (!*stream) co_return co_await fail("STREAM_OPEN: " + stream->error().message());
    auto yamux = std::move(**stream);

    auto response = ok_response();
    auto* info = response.mutable_streaminfo();
    info->set_peer(peer->bytes().data(), peer->bytes().size());
    auto remote_bytes = used->remote_addr.to_bytes();
    info->set_addr(remote_bytes.data(), remote_bytes.size());
    info->set_proto(yamux->protocol());
    if (co_await write_message(*control, response)) {
        yamux->reset();
        co_return false;
    }
    ++stats_.streams_opened;
    // From here the control connection is the stream.
    auto stream_owner = std::move(control);
    co_await net::pipe_streams(*stream_owner, *yamux, config_.stream_idle_timeout);
    co_return false;
}

net::awaitable<void> ControlDaemon::forward_inbound(std::shared_ptr<net::YamuxStream> stream,
                                                    std::shared_ptr<Connection> connection,
                                                    ControlEndpoint client) {
    auto lifetime = lifetime_;
    if (lifetime->handler_streams >= config_.max_handler_streams) {
        ++stats_.handler_streams_refused;
        log().debug("event=p2pd_handler_stream_refused protocol={} peer={} open={}",
                    stream->protocol(), connection->peer, lifetime->handler_streams);
        stream->reset();
        co_return;
    }
    ++lifetime->handler_streams;
    ScopeExit release([lifetime] { --lifetime->handler_streams; });
    auto idle_timeout = config_.stream_idle_timeout;
    auto socket =
        co_await connect_control(host_.get_executor(), client, config_.handler_dial_timeout);
    if (!lifetime->alive) {
        stream->reset();
        co_return;
    }
    if (!socket) {
        log().info("event=p2pd_handler_unreachable protocol={} client={} error=\"{}\"",
                   stream->protocol(), control_multiaddr(client).to_string(),
                   socket.error().message());
        stream->reset();
        co_return;
    }
    pb::p2pd::StreamInfo info;
    info.set_peer(connection->peer.bytes().data(), connection->peer.bytes().size());
    auto remote = connection->remote_addr.to_bytes();
    info.set_addr(remote.data(), remote.size());
    info.set_proto(stream->protocol());
    // Not wrapped in a Response (CONTROL.md): the client reads a bare StreamInfo.
    if (co_await write_message(**socket, info)) {
        stream->reset();
        co_return;
    }
    if (!lifetime->alive) {
        stream->reset();
        co_return;
    }
    ++stats_.streams_handled;
    co_await net::pipe_streams(**socket, *stream, idle_timeout);
}

}  // namespace keel::p2pd
