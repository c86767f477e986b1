// All of Beast lives in this translation unit: it is heavy to compile.
#include "keel/api/http_server.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "keel/net/log.hpp"

namespace keel::api {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    std::size_t start = 1;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        if (end > start) out.emplace_back(path.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

std::string percent_decode(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size()) {
            auto hex = std::string(in.substr(i + 1, 2));
            char* end = nullptr;
            long v = std::strtol(hex.c_str(), &end, 16);
            if (end == hex.c_str() + 2) {
                out.push_back(static_cast<char>(v));
                i += 2;
                continue;
            }
        }
        out.push_back(in[i]);
    }
    return out;
}

std::string_view mime_type(const std::filesystem::path& file) {
    auto ext = file.extension().string();
    if (ext == ".html") return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    if (ext == ".json") return "application/json";
    if (ext == ".ico") return "image/x-icon";
    return "application/octet-stream";
}

}  // namespace

struct HttpServer::Impl {
    Impl(asio::any_io_executor ex, EventBus& bus, HttpServerConfig cfg)
        : executor(std::move(ex)), events(bus), config(cfg) {}

    asio::any_io_executor executor;
    EventBus& events;
    HttpServerConfig config;
    std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
    std::vector<std::weak_ptr<beast::tcp_stream>> live;  // closed on stop()
    std::vector<std::string> allowed_origins;
    std::size_t connections = 0;
    bool stopped = false;
};

HttpServer::HttpServer(asio::any_io_executor executor, EventBus& events, HttpServerConfig config)
    : impl_(std::make_unique<Impl>(std::move(executor), events, config)) {}

HttpServer::~HttpServer() = default;

HttpResponse HttpServer::json_error(unsigned status, std::string_view message) {
    return {status, "application/json", nlohmann::json{{"error", message}}.dump()};
}

void HttpServer::route(std::string method, std::string pattern, Handler handler) {
    routes_.push_back(Route{std::move(method), split_path(pattern), std::move(handler)});
}

void HttpServer::stop() {
    impl_->stopped = true;
    for (auto& a : impl_->acceptors) {
        net::error_code ignored;
        a->close(ignored);
    }
    for (auto& weak : impl_->live)
        if (auto s = weak.lock()) s->close();
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
    auto port = std::to_string(bound.port());
    for (const auto* host : {"127.0.0.1", "localhost", "[::1]"})
        impl_->allowed_origins.push_back(std::string("http://") + host + ":" + port);
    impl_->acceptors.push_back(acceptor);

    auto* impl = impl_.get();
    auto dispatch = [this](HttpRequest request) -> net::awaitable<HttpResponse> {
        bool changes_state = request.method != "GET" && request.method != "HEAD";
        if (changes_state && !request.origin.empty()) {
            const auto& allowed = impl_->allowed_origins;
            if (std::find(allowed.begin(), allowed.end(), request.origin) == allowed.end())
                co_return json_error(403, "origin not allowed: " + request.origin);
        }
        auto segments = split_path(request.path);
        bool path_matched = false;
        for (const auto& r : routes_) {
            if (r.segments.size() != segments.size()) continue;
            std::map<std::string, std::string> params;
            bool match = true;
            for (std::size_t i = 0; i < segments.size() && match; ++i) {
                const auto& want = r.segments[i];
                if (want.size() > 2 && want.front() == '{' && want.back() == '}')
                    params[want.substr(1, want.size() - 2)] = percent_decode(segments[i]);
                else
                    match = want == segments[i];
            }
            if (!match) continue;
            path_matched = true;
            if (r.method != request.method) continue;
            request.params = std::move(params);
            HttpResponse response;
            try {
                response = co_await r.handler(std::move(request));
            } catch (const std::exception& e) {
                response = json_error(500, e.what());
            }
            co_return response;
        }
        if (path_matched) co_return json_error(405, "method not allowed");
        if (request.method == "GET" && !static_root_.empty() &&
            request.path.rfind("/api/", 0) != 0) {
            std::filesystem::path rel = request.path == "/" ? "index.html" : request.path.substr(1);
            if (rel.string().find("..") == std::string::npos) {
                auto file = std::filesystem::path(static_root_) / rel;
                std::ifstream in(file, std::ios::binary);
                if (in) {
                    std::ostringstream body;
                    body << in.rdbuf();
                    co_return HttpResponse{200, std::string(mime_type(file)), body.str()};
                }
            }
        }
        co_return json_error(404, "not found: " + request.path);
    };

    auto session = [impl, dispatch, this](tcp::socket socket) -> net::awaitable<void> {
        auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
        impl->live.push_back(stream);
        std::erase_if(impl->live, [](const auto& w) { return w.expired(); });
        ++impl->connections;
        beast::flat_buffer buffer;
        while (!impl->stopped) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(impl->config.max_body);
            parser.header_limit(16 * 1024);
            stream->expires_after(impl->config.request_timeout);
            auto [ec, n] = co_await http::async_read(*stream, buffer, parser, net::use_result);
            (void)n;
            if (ec) {
                if (ec == http::error::body_limit) {
                    auto res = json_error(413, "request body too large");
                    http::response<http::string_body> out{http::status::payload_too_large, 11};
                    out.set(http::field::content_type, res.content_type);
                    out.body() = res.body;
                    out.prepare_payload();
                    co_await http::async_write(*stream, out, net::use_result);
                }
                break;
            }
            auto& req = parser.get();
            std::string target(req.target());
            auto q = target.find('?');
            HttpRequest request{std::string(req.method_string()),
                                q == std::string::npos ? target : target.substr(0, q),
                                q == std::string::npos ? "" : target.substr(q + 1),
                                req.body(),
                                std::string(req[http::field::origin]),
                                {}};
            if (request.method == "GET" && !events_path_.empty() && request.path == events_path_) {
                // Server-Sent Events: the body is an endless series of events until either side
                // goes away.
                static constexpr std::string_view head =
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: "
                    "no-store\r\nConnection: close\r\n\r\n: connected\n\n";
                stream->expires_after(impl->config.request_timeout);
                auto [wec, wn] =
                    co_await asio::async_write(*stream, asio::buffer(head), net::use_result);
                (void)wn;
                if (wec) break;
                auto sub = impl->events.subscribe();
                while (!impl->stopped) {
                    if (sub->queue.empty()) {
                        sub->signal.expires_after(impl->config.sse_keepalive);
                        co_await sub->signal.async_wait(net::use_result);
                    }
                    if (impl->stopped) break;
                    std::string text;
                    if (sub->dropped) {
                        text += "event: dropped\ndata: {\"count\":" + std::to_string(sub->dropped) +
                                "}\n\n";
                        sub->dropped = 0;
                    }
                    if (sub->queue.empty()) text += ": keepalive\n\n";
                    while (!sub->queue.empty()) {
                        auto& e = sub->queue.front();
                        text += "id: " + std::to_string(e.id) + "\nevent: " + e.type +
                                "\ndata: " + e.data + "\n\n";
                        sub->queue.pop_front();
                    }
                    stream->expires_after(impl->config.request_timeout);
                    auto [sec, sn] =
                        co_await asio::async_write(*stream, asio::buffer(text), net::use_result);
                    (void)sn;
                    if (sec) break;
                }
                impl->events.unsubscribe(sub);
                break;
            }
            bool keep_alive = req.keep_alive();
            unsigned version = req.version();
            auto response = co_await dispatch(std::move(request));
            http::response<http::string_body> out{static_cast<http::status>(response.status),
                                                  version};
            out.set(http::field::content_type, response.content_type);
            out.set(http::field::cache_control, "no-store");
            out.keep_alive(keep_alive);
            out.body() = std::move(response.body);
            out.prepare_payload();
            stream->expires_after(impl->config.request_timeout);
            auto [wec, wn] = co_await http::async_write(*stream, out, net::use_result);
            (void)wn;
            if (wec || !keep_alive) break;
        }
        net::error_code ignored;
        stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
        --impl->connections;
    };

    asio::co_spawn(
        impl_->executor,
        [impl, acceptor, session]() -> net::awaitable<void> {
            while (!impl->stopped) {
                auto [ec, socket] = co_await acceptor->async_accept(net::use_result);
                if (ec) {
                    if (impl->stopped || ec == asio::error::operation_aborted) break;
                    continue;
                }
                if (impl->connections >= impl->config.max_connections) {
                    log().warn("event=api_connection_refused reason=limit limit={}",
                               impl->config.max_connections);
                    continue;  // the socket closes as it goes out of scope
                }
                // Spawned through a callable that owns a copy of `session`: a coroutine lambda's
                // captures live in its closure, which must outlive the coroutine, and this
                // accept loop may end (stop()) while sessions are still running.
                asio::co_spawn(
                    impl->executor,
                    [session, s = std::move(socket)]() mutable { return session(std::move(s)); },
                    asio::detached);
            }
        },
        asio::detached);
    return bound;
}

}  // namespace keel::api
