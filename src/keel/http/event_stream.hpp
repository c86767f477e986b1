#pragma once
// GET of the server's events path: the event bus as Server-Sent Events, until either side goes
// away. A keepalive comment every `keepalive` when nothing happens; events a slow reader lost
// (EventBus's bounded queue) are announced as an "event: dropped" with their count.
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>

#include "keel/http/event_bus.hpp"
#include "keel/net/asio.hpp"

namespace keel::http {

struct EventStreamLimits {
    net::Duration write_timeout;  // for each write; a client that reads nothing is dropped
    net::Duration keepalive;
};

net::awaitable<void> serve_event_stream(std::shared_ptr<boost::beast::tcp_stream> stream,
                                        EventBus& events, EventStreamLimits limits);

}  // namespace keel::http
