#pragma once
// A small HTTP/1.1 server for the local API (Boost.Beast, kept in one translation unit): routes
// with {param} segments, JSON bodies, Server-Sent Events, an Origin check on state-changing
// requests, and a deadline and size limit on every request.
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "keel/api/event_bus.hpp"
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
    net::Duration request_timeout{10'000};  // to receive one request
    net::Duration sse_keepalive{15'000};
};

class HttpServer {
  public:
    using Handler = std::function<net::awaitable<HttpResponse>(HttpRequest)>;

    HttpServer(net::asio::any_io_executor executor, EventBus& events, HttpServerConfig config = {});
    ~HttpServer();

    // Binds and starts accepting; returns the bound endpoint.
    net::result<net::asio::ip::tcp::endpoint> listen(const net::asio::ip::tcp::endpoint& endpoint);
    void route(std::string method, std::string pattern, Handler handler);
    // GET on `path` streams the event bus as text/event-stream.
    void events_at(std::string path) { events_path_ = std::move(path); }
    // Files under `root` are served for GET requests no route matches ("/" is index.html).
    void static_files(std::string root) { static_root_ = std::move(root); }
    void stop();

    static HttpResponse json_error(unsigned status, std::string_view message);

  private:
    struct Route {
        std::string method;
        std::vector<std::string> segments;
        Handler handler;
    };
    struct Impl;

    std::unique_ptr<Impl> impl_;
    std::vector<Route> routes_;
    std::string events_path_;
    std::string static_root_;
};

}  // namespace keel::api
