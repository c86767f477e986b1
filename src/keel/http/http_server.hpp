#pragma once
// The local HTTP/1.1 server (Boost.Beast): do_listen accepts, do_session reads one request at a
// time with a deadline and a size limit, handle_request guards it (request_guard.hpp) and hands
// it to the Router or the event stream. What a local client may hold is bounded:
// max_connections connections (ConnectionSlots decides who gives way), of which at most
// max_event_streams are event streams.
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "keel/http/event_bus.hpp"
#include "keel/http/message.hpp"
#include "keel/http/router.hpp"
#include "keel/http/static_files.hpp"
#include "keel/net/asio.hpp"

namespace keel::http {

struct HttpServerConfig {
    std::size_t max_body = 64 * 1024;
    std::size_t max_connections = 64;
    std::size_t max_event_streams = 16;     // SSE subscribers at once; more get 503
    net::Duration request_timeout{10'000};  // to receive one request, and to write one answer
    net::Duration sse_keepalive{15'000};
};

class HttpServer {
  public:
    using Handler = Router::Handler;

    HttpServer(net::asio::any_io_executor executor, EventBus& events, HttpServerConfig config = {});
    // Sessions still running hold the server: destroy it only after its io_context has stopped.
    ~HttpServer();

    // Binds and starts accepting; returns the bound endpoint.
    net::result<net::asio::ip::tcp::endpoint> listen(const net::asio::ip::tcp::endpoint& endpoint);
    void route(std::string method, std::string_view pattern, Handler handler);
    // GET on `path` streams the event bus as text/event-stream.
    void events_at(std::string path);
    // Serves these files for GET requests no route matches.
    void static_files(StaticFiles files);
    void stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace keel::http
