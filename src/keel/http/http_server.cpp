// Beast's message parsing and writing live in this translation unit (and event_stream.cpp): they
// are heavy to compile.
#include "keel/http/http_server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "keel/http/connection_slots.hpp"
#include "keel/http/event_stream.hpp"
#include "keel/http/request_guard.hpp"
#include "keel/net/log.hpp"

namespace keel::http {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace wire = beast::http;
using asio::ip::tcp;

namespace {

// After an accept error that is not the listener closing (out of descriptors, most likely),
// wait before the next accept instead of spinning on the same error.
constexpr net::Duration accept_error_backoff{100};
constexpr std::size_t max_header_bytes = 16 * 1024;

HttpRequest to_request(const wire::request<wire::string_body>& req) {
    std::string target(req.target());
    auto q = target.find('?');
    return HttpRequest{std::string(req.method_string()),
                       q == std::string::npos ? target : target.substr(0, q),
                       q == std::string::npos ? "" : target.substr(q + 1),
                       req.body(),
                       std::string(req[wire::field::origin]),
                       {}};
}

}  // namespace

struct HttpServer::Impl {
    Impl(asio::any_io_executor ex, EventBus& bus, HttpServerConfig cfg)
        : executor(std::move(ex)), events(bus), config(cfg), slots(cfg.max_connections) {}

    asio::any_io_executor executor;
    EventBus& events;
    HttpServerConfig config;
    Router router;
    OriginPolicy origins;
    std::string events_path;
    std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
    ConnectionSlots slots;
    std::size_t event_streams = 0;
    bool stopped = false;

    net::awaitable<void> do_listen(std::shared_ptr<tcp::acceptor> acceptor);
    net::awaitable<void> do_session(std::shared_ptr<beast::tcp_stream> stream,
                                    std::shared_ptr<ConnectionSlots::Slot> slot);
    // False when the session ends after this request.
    net::awaitable<bool> handle_request(std::shared_ptr<beast::tcp_stream> stream,
                                        ConnectionSlots::Slot& slot,
                                        const wire::request<wire::string_body>& req);
    net::awaitable<bool> write(beast::tcp_stream& stream, const HttpResponse& response,
                               unsigned version, bool keep_alive);
};

HttpServer::HttpServer(asio::any_io_executor executor, EventBus& events, HttpServerConfig config)
    : impl_(std::make_unique<Impl>(std::move(executor), events, config)) {}

HttpServer::~HttpServer() = default;

void HttpServer::route(std::string method, std::string_view pattern, Handler handler) {
    impl_->router.add(std::move(method), pattern, std::move(handler));
}

void HttpServer::events_at(std::string path) {
    impl_->events_path = std::move(path);
}

void HttpServer::static_files(StaticFiles files) {
    impl_->router.static_files(std::move(files));
}

void HttpServer::stop() {
    impl_->stopped = true;
    for (auto& a : impl_->acceptors) {
        net::error_code ignored;
        a->close(ignored);
    }
    impl_->slots.close_all();
}

net::result<tcp::endpoint> HttpServer::listen(const tcp::endpoint& endpoint) {
    auto acceptor = std::make_shared<tcp::acceptor>(impl_->executor);
    net::error_code ec;
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return ec;
    auto bound = acceptor->local_endpoint();
    impl_->origins.allow_server_at(bound);
    impl_->acceptors.push_back(acceptor);
    auto* impl = impl_.get();
    asio::co_spawn(
        impl->executor, [impl, acceptor] { return impl->do_listen(acceptor); }, asio::detached);
    return bound;
}

net::awaitable<void> HttpServer::Impl::do_listen(std::shared_ptr<tcp::acceptor> acceptor) {
    asio::steady_timer backoff(executor);
    while (!stopped) {
        auto [ec, socket] = co_await acceptor->async_accept(net::use_result);
        if (ec) {
            if (stopped || ec == asio::error::operation_aborted) break;
            log().warn("event=api_accept_failed error=\"{}\"", ec.message());
            backoff.expires_after(accept_error_backoff);
            co_await backoff.async_wait(net::use_result);
            continue;
        }
        auto slot = slots.take();
        if (!slot) {
            log().warn("event=api_connection_refused reason=limit limit={}",
                       config.max_connections);
            continue;  // the socket closes as it goes out of scope
        }
        // The slot can close its connection from now on, even before the session starts: a
        // connection evicted in between is closed, not forgotten while it stays open.
        auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
        slot->close = [weak = std::weak_ptr<beast::tcp_stream>(stream)] {
            if (auto s = weak.lock()) s->close();
        };
        asio::co_spawn(
            executor, [this, stream, slot] { return do_session(stream, slot); }, asio::detached);
    }
}

net::awaitable<void> HttpServer::Impl::do_session(std::shared_ptr<beast::tcp_stream> stream,
                                                  std::shared_ptr<ConnectionSlots::Slot> slot) {
    beast::flat_buffer buffer;
    while (!stopped) {
        slot->waiting();
        wire::request_parser<wire::string_body> parser;
        parser.body_limit(config.max_body);
        parser.header_limit(max_header_bytes);
        stream->expires_after(config.request_timeout);
        auto [ec, n] = co_await wire::async_read(*stream, buffer, parser, net::use_result);
        (void)n;
        if (ec) {
            if (ec == wire::error::body_limit)
                co_await write(*stream, json_error(413, "request body too large"), 11, false);
            break;
        }
        slot->state = ConnectionSlots::Slot::State::busy;
        bool more = co_await handle_request(stream, *slot, parser.get());
        if (!more) break;
    }
    net::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
    slots.release(slot);
}

net::awaitable<bool> HttpServer::Impl::handle_request(std::shared_ptr<beast::tcp_stream> stream,
                                                      ConnectionSlots::Slot& slot,
                                                      const wire::request<wire::string_body>& req) {
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    auto host = req[wire::field::host];
    if (!host_header_allowed(host)) {
        log().info("event=api_request_refused reason=host host=\"{}\"",
                   std::string_view(host).substr(0, 64));
        co_await write(*stream,
                       json_error(403, "host not allowed (use 127.0.0.1, [::1] or localhost)"),
                       version, false);
        co_return false;
    }
    auto request = to_request(req);
    if (request.method == "GET" && !events_path.empty() && request.path == events_path) {
        if (event_streams >= config.max_event_streams) {
            co_await write(*stream, json_error(503, "too many event streams"), version, false);
            co_return false;
        }
        slot.state = ConnectionSlots::Slot::State::events;
        ++event_streams;
        co_await serve_event_stream(stream, events, {config.request_timeout, config.sse_keepalive});
        --event_streams;
        co_return false;
    }
    HttpResponse response;
    if (!origins.allows(request.method, request.origin))
        response = json_error(403, "origin not allowed: " + request.origin);
    else
        response = co_await router.dispatch(std::move(request));
    bool written = co_await write(*stream, response, version, keep_alive);
    co_return written&& keep_alive;
}

net::awaitable<bool> HttpServer::Impl::write(beast::tcp_stream& stream,
                                             const HttpResponse& response, unsigned version,
                                             bool keep_alive) {
    wire::response<wire::string_body> out{static_cast<wire::status>(response.status), version};
    out.set(wire::field::content_type, response.content_type);
    out.set(wire::field::cache_control, "no-store");
    out.set("X-Content-Type-Options", "nosniff");
    out.keep_alive(keep_alive);
    out.body() = response.body;
    out.prepare_payload();
    stream.expires_after(config.request_timeout);
    auto [ec, n] = co_await wire::async_write(stream, out, net::use_result);
    (void)n;
    co_return !ec;
}

}  // namespace keel::http
