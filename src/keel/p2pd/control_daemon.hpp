#pragma once
// `keel p2pd`: the libp2p daemon control protocol (go-libp2p-daemon specs/CONTROL.md, DHT.md,
// PEERSTORE.md), so that programs in any language, and the libp2p project's interop suite, drive
// a Keel host through a local socket. Every message is a uvarint-length-prefixed protobuf
// (proto/p2pd.proto). A control connection carries requests one after another until it closes or
// becomes a stream: after STREAM_OPEN's answer, and on the connections the daemon makes to a
// STREAM_HANDLER client, the socket carries the libp2p stream's bytes both ways.
//
// Bad input on a control connection (a length over max_control_message, a truncated or
// unparsable message, a request without the fields its type needs) costs that connection only;
// an unsupported request (PUBSUB, CONNMANAGER, FIND_PEERS_CONNECTED_TO_PEER) gets an ERROR
// response naming it. Every wait has a deadline.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "keel/host/host.hpp"
#include "keel/p2pd/control_endpoint.hpp"

namespace keel::kad {
class Dht;
}
namespace keel::pb::p2pd {
class Request;
}

namespace keel::p2pd {

// No control request comes near this (the largest is a PUT_VALUE with a DHT record, which
// libp2p bounds well below it); a larger length prefix closes the connection unread.
inline constexpr std::size_t max_control_message = 1 << 20;

struct DaemonConfig {
    // A control connection that sends no (further) request for this long is closed.
    net::Duration request_timeout{60'000};
    // CONNECT, STREAM_OPEN and DHT requests without a timeout of their own get this; a client's
    // timeout (in seconds) is capped at max_operation_timeout.
    net::Duration operation_timeout{60'000};
    net::Duration max_operation_timeout{600'000};
    // Dialing a STREAM_HANDLER client for an inbound stream.
    net::Duration handler_dial_timeout{10'000};
    // A piped stream (STREAM_OPEN, or a handler's) that moves no byte either way for this long
    // is reset.
    net::Duration stream_idle_timeout{600'000};
    std::size_t max_control_connections = 1024;  // past this, new ones are closed at once
    // Inbound streams handed to STREAM_HANDLER clients at once: each holds a socket to the client
    // for up to stream_idle_timeout, and a remote opens them at will. Past this, new ones are
    // reset.
    std::size_t max_handler_streams = 1024;
};

struct DaemonStats {
    std::map<std::string, std::uint64_t> requests;  // "IDENTIFY", "DHT FIND_PROVIDERS", …
    std::uint64_t errors = 0;                       // ERROR responses
    std::uint64_t bad_input = 0;                    // control connections closed for bad input
    std::uint64_t refused = 0;                      // over max_control_connections
    std::uint64_t streams_opened = 0;               // STREAM_OPEN pipes
    std::uint64_t streams_handled = 0;              // inbound streams handed to a client
    std::uint64_t handler_streams_refused = 0;      // reset: max_handler_streams were open
};

class ControlDaemon {
  public:
    // `dht` may be null (no -dht flag): DHT requests then answer an error.
    ControlDaemon(Host& host, kad::Dht* dht, DaemonConfig config = {});
    ~ControlDaemon();
    ControlDaemon(const ControlDaemon&) = delete;
    ControlDaemon& operator=(const ControlDaemon&) = delete;

    // Binds the control endpoint (/ip4|ip6/ADDR/tcp/PORT or /unix/PATH; a leftover socket file
    // at PATH is replaced) and starts accepting. Returns the bound address (port 0 resolved).
    net::result<Multiaddr> listen(const Multiaddr& addr);
    // Stops accepting, removes the unix socket file and the STREAM_HANDLER protocols from the
    // host; open control connections end on their own deadlines or when the io_context stops.
    // Like the Host, destroy the daemon after stop() or once its io_context no longer runs: a
    // request being answered captures it.
    void stop();
    const DaemonStats& stats() const { return stats_; }
    // Inbound streams being handed to or piped to STREAM_HANDLER clients now.
    std::size_t handler_streams_open() const { return lifetime_->handler_streams; }

  private:
    template <typename Protocol>
    net::awaitable<void> accept_loop(std::shared_ptr<typename Protocol::acceptor> acceptor);
    net::awaitable<void> serve(std::unique_ptr<net::ByteStream> control);
    // Answers one request. Returns false when the connection is done with requests (it became a
    // stream, or the request was bad).
    net::awaitable<bool> answer(net::ByteStream& control, std::unique_ptr<net::ByteStream>& owner,
                                const pb::p2pd::Request& request);
    net::awaitable<bool> open_stream(std::unique_ptr<net::ByteStream>& control,
                                     const pb::p2pd::Request& request);
    net::awaitable<void> forward_inbound(std::shared_ptr<net::YamuxStream> stream,
                                         std::shared_ptr<Connection> connection,
                                         ControlEndpoint client);
    net::Duration operation_timeout(std::int64_t requested_seconds) const;

    Host& host_;
    kad::Dht* dht_;
    DaemonConfig config_;
    DaemonStats stats_;
    std::vector<std::shared_ptr<net::asio::ip::tcp::acceptor>> tcp_acceptors_;
    std::vector<std::shared_ptr<net::asio::local::stream_protocol::acceptor>> unix_acceptors_;
    std::vector<std::string> socket_files_;
    std::vector<std::string> handled_protocols_;  // registered on the host by STREAM_HANDLER
    // Shared with the coroutines, which may resume (to find it false) after the daemon is gone.
    struct Lifetime {
        bool alive = true;
        std::size_t open_connections = 0;
        std::size_t handler_streams = 0;  // inbound streams being handed to or piped to a client
    };
    std::shared_ptr<Lifetime> lifetime_ = std::make_shared<Lifetime>();
};

}  // namespace keel::p2pd
