#pragma once
// A small HTTP/1.1 server for the local API (Boost.Beast, kept in one translation unit): routes
// with {param} segments, JSON bodies, Server-Sent Events, the web UI's files, and a deadline and
// size limit on every request.
//
// What a web page in the user's browser may do to it (docs/security.md):
// - Every request must name the server by an IP literal or "localhost" in its Host header: a page
//   that reaches the port through DNS rebinding names its own domain and is refused (403).
// - State-changing requests must carry no Origin or one of the server's own.
// - Only the files indexed from the UI root at startup are served (StaticFiles).
// And what a local client may hold: at most max_connections connections, of which at most
// max_event_streams are event streams; when all are taken, a new connection takes the slot of the
// one that has waited longest for its request, so slow or idle clients cannot lock others out.
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keel/api/event_bus.hpp"
#include "keel/api/static_files.hpp"
#include "keel/net/asio.hpp"

namespace keel::api {

struct HttpRequest {
    std::string method;
    std::string path;
    std::string query;
    std::string body;
    std::string origin;
    std::map<std::string, std::string> params;  // from {name} segments of the route
};

struct HttpResponse {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
};

struct HttpServerConfig {
    std::size_t max_body = 64 * 1024;
    std::size_t max_connections = 64;
    std::size_t max_event_streams = 16;     // SSE subscribers at once; more get 503
    net::Duration request_timeout{10'000};  // to receive one request, and to write one answer
    net::Duration sse_keepalive{15'000};
};

// True when a Host header value names the server by an IP literal or "localhost" (with or
// without a port): what a DNS-rebinding page cannot send.
bool host_header_allowed(std::string_view host);

class HttpServer {
  public:
    using Handler = std::function<net::awaitable<HttpResponse>(HttpRequest)>;

    HttpServer(net::asio::any_io_executor executor, EventBus& events, HttpServerConfig config = {});
    // Sessions still running hold the server: destroy it only after its io_context has stopped.
    ~HttpServer();

    // Binds and starts accepting; returns the bound endpoint.
    net::result<net::asio::ip::tcp::endpoint> listen(const net::asio::ip::tcp::endpoint& endpoint);
    void route(std::string method, std::string pattern, Handler handler);
    // GET on `path` streams the event bus as text/event-stream.
    void events_at(std::string path);
    // Serves these files for GET requests no route matches.
    void static_files(StaticFiles files);
    void stop();

    // JSON bodies with any text in them: bytes that are not UTF-8 (from a request) are replaced,
    // never an exception.
    static HttpResponse json_error(unsigned status, std::string_view message);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace keel::api
