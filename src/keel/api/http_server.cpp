// All of Beast lives in this translation unit: it is heavy to compile.
#include "keel/api/http_server.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <nlohmann/json.hpp>

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

// After an accept error that is not the listener closing (out of descriptors, most likely),
// wait before the next accept instead of spinning on the same error.
constexpr net::Duration accept_error_backoff{100};

}  // namespace

bool host_header_allowed(std::string_view host) {
    if (host.empty()) return false;
    std::string_view name;
    if (host.front() == '[') {
        auto close = host.find(']');
        if (close == std::string_view::npos) return false;
        name = host.substr(1, close - 1);
        auto rest = host.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') return false;
        net::error_code ec;
        asio::ip::make_address_v6(std::string(name), ec);
        return !ec;
    }
    name = host.substr(0, host.find(':'));
    std::string lower(name);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "localhost") return true;
    net::error_code ec;
    asio::ip::make_address_v4(lower, ec);
    return !ec;
}

struct HttpServer::Impl {
    Impl(asio::any_io_executor ex, EventBus& bus, HttpServerConfig cfg)
        : executor(std::move(ex)), events(bus), config(cfg) {}

    struct Route {
        std::string method;
        std::vector<std::string> segments;
        Handler handler;
    };
    // One connection's place: evictable only while it waits for a request.
    struct Slot {
        enum class State { waiting, busy, events };
        std::weak_ptr<beast::tcp_stream> stream;
        State state = State::waiting;
        net::Clock::time_point since = net::Clock::now();
    };

    asio::any_io_executor executor;
    EventBus& events;
    HttpServerConfig config;
    std::vector<Route> routes;
    std::string events_path;
    std::optional<StaticFiles> files;
    std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
    std::list<std::shared_ptr<Slot>> slots;
    std::vector<std::string> allowed_origins;
    std::size_t event_streams = 0;
    std::uint64_t evicted = 0;
    bool stopped = false;

    net::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor);
    bool make_room();
    net::awaitable<void> session(tcp::socket socket);
    net::awaitable<void> serve_events(std::shared_ptr<beast::tcp_stream> stream);
    net::awaitable<HttpResponse> dispatch(HttpRequest request);
    net::awaitable<bool> write(beast::tcp_stream& stream, const HttpResponse& response,
                               unsigned version, bool keep_alive);
};

HttpServer::HttpServer(asio::any_io_executor executor, EventBus& events, HttpServerConfig config)
    : impl_(std::make_unique<Impl>(std::move(executor), events, config)) {}

HttpServer::~HttpServer() = default;

HttpResponse HttpServer::json_error(unsigned status, std::string_view message) {
    return {status, "application/json",
            nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                    nlohmann::json::error_handler_t::replace)};
}

void HttpServer::route(std::string method, std::string pattern, Handler handler) {
    impl_->routes.push_back(
        Impl::Route{std::move(method), split_path(pattern), std::move(handler)});
}

void HttpServer::events_at(std::string path) {
    impl_->events_path = std::move(path);
}

void HttpServer::static_files(StaticFiles files) {
    impl_->files = std::move(files);
}

void HttpServer::stop() {
    impl_->stopped = true;
    for (auto& a : impl_->acceptors) {
        net::error_code ignored;
        a->close(ignored);
    }
    for (auto& slot : impl_->slots)
        if (auto s = slot->stream.lock()) s->close();
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
    if (!bound.address().is_unspecified() && !bound.address().is_loopback()) {
        auto a = bound.address();
        impl_->allowed_origins.push_back(
            "http://" + (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + port);
    }
    impl_->acceptors.push_back(acceptor);
    auto* impl = impl_.get();
    asio::co_spawn(
        impl->executor, [impl, acceptor]() { return impl->accept_loop(acceptor); }, asio::detached);
    return bound;
}

net::awaitable<void> HttpServer::Impl::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
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
        std::erase_if(slots, [](const auto& s) { return s->stream.expired(); });
        if (slots.size() >= config.max_connections && !make_room()) {
            log().warn("event=api_connection_refused reason=limit limit={}",
                       config.max_connections);
            continue;  // the socket closes as it goes out of scope
        }
        asio::co_spawn(
            executor, [this, s = std::move(socket)]() mutable { return session(std::move(s)); },
            asio::detached);
    }
}

// Closes the connection that has waited longest for its next request (a slow or idle client);
// false when every connection is busy with a request or an event stream.
bool HttpServer::Impl::make_room() {
    std::shared_ptr<Slot> oldest;
    for (const auto& s : slots)
        if (s->state == Slot::State::waiting && (!oldest || s->since < oldest->since)) oldest = s;
    if (!oldest) return false;
    if (auto stream = oldest->stream.lock()) stream->close();
    slots.remove(oldest);
    ++evicted;
    log().debug("event=api_connection_evicted reason=waiting_longest evicted_total={}", evicted);
    return true;
}

net::awaitable<HttpResponse> HttpServer::Impl::dispatch(HttpRequest request) {
    bool changes_state = request.method != "GET" && request.method != "HEAD";
    if (changes_state && !request.origin.empty() &&
        std::find(allowed_origins.begin(), allowed_origins.end(), request.origin) ==
            allowed_origins.end())
        co_return json_error(403, "origin not allowed: " + request.origin);
    auto segments = split_path(request.path);
    bool path_matched = false;
    for (const auto& r : routes) {
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
        try {
            co_return co_await r.handler(std::move(request));
        } catch (const std::exception& e) {
            // A handler's bug, not the client's: say so without echoing internals.
            log().error("event=api_handler_failed method={} error=\"{}\"", r.method, e.what());
            co_return json_error(500, "internal error");
        }
    }
    if (path_matched) co_return json_error(405, "method not allowed");
    if (request.method == "GET" && files && request.path.rfind("/api/", 0) != 0)
        if (const auto* file = files->find(request.path))
            co_return HttpResponse{200, file->content_type, file->body};
    co_return json_error(404, "not found: " + request.path);
}

net::awaitable<bool> HttpServer::Impl::write(beast::tcp_stream& stream,
                                             const HttpResponse& response, unsigned version,
                                             bool keep_alive) {
    http::response<http::string_body> out{static_cast<http::status>(response.status), version};
    out.set(http::field::content_type, response.content_type);
    out.set(http::field::cache_control, "no-store");
    out.set("X-Content-Type-Options", "nosniff");
    out.keep_alive(keep_alive);
    out.body() = response.body;
    out.prepare_payload();
    stream.expires_after(config.request_timeout);
    auto [ec, n] = co_await http::async_write(stream, out, net::use_result);
    (void)n;
    co_return !ec;
}

net::awaitable<void> HttpServer::Impl::session(tcp::socket socket) {
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    auto slot = std::make_shared<Slot>();
    slot->stream = stream;
    slots.push_back(slot);
    beast::flat_buffer buffer;
    while (!stopped) {
        slot->state = Slot::State::waiting;
        slot->since = net::Clock::now();
        http::request_parser<http::string_body> parser;
        parser.body_limit(config.max_body);
        parser.header_limit(16 * 1024);
        stream->expires_after(config.request_timeout);
        auto [ec, n] = co_await http::async_read(*stream, buffer, parser, net::use_result);
        (void)n;
        if (ec) {
            if (ec == http::error::body_limit)
                co_await write(*stream, json_error(413, "request body too large"), 11, false);
            break;
        }
        slot->state = Slot::State::busy;
        auto& req = parser.get();
        bool keep_alive = req.keep_alive();
        unsigned version = req.version();
        auto host = req[http::field::host];
        if (!host_header_allowed(host)) {
            log().info("event=api_request_refused reason=host host=\"{}\"",
                       std::string_view(host).substr(0, 64));
            co_await write(*stream,
                           json_error(403, "host not allowed (use 127.0.0.1, [::1] or localhost)"),
                           version, false);
            break;
        }
        std::string target(req.target());
        auto q = target.find('?');
        HttpRequest request{std::string(req.method_string()),
                            q == std::string::npos ? target : target.substr(0, q),
                            q == std::string::npos ? "" : target.substr(q + 1),
                            req.body(),
                            std::string(req[http::field::origin]),
                            {}};
        if (request.method == "GET" && !events_path.empty() && request.path == events_path) {
            if (event_streams >= config.max_event_streams) {
                co_await write(*stream, json_error(503, "too many event streams"), version, false);
                break;
            }
            slot->state = Slot::State::events;
            ++event_streams;
            co_await serve_events(stream);
            --event_streams;
            break;
        }
        auto response = co_await dispatch(std::move(request));
        if (!co_await write(*stream, response, version, keep_alive) || !keep_alive) break;
    }
    net::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
    slots.remove(slot);
}

// Server-Sent Events: the body is an endless series of events until either side goes away.
net::awaitable<void> HttpServer::Impl::serve_events(std::shared_ptr<beast::tcp_stream> stream) {
    static constexpr std::string_view head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: "
        "no-store\r\nConnection: close\r\n\r\n: connected\n\n";
    stream->expires_after(config.request_timeout);
    auto [wec, wn] = co_await asio::async_write(*stream, asio::buffer(head), net::use_result);
    (void)wn;
    if (wec) co_return;
    auto sub = events.subscribe();
    auto gone = std::make_shared<bool>(false);
    // A client sends nothing on an event stream, so a read that completes means it hung up: it
    // is noticed at once rather than at the next keepalive write. (The raw socket is read, not
    // the beast stream, whose write deadline would also end this read.)
    asio::co_spawn(
        executor,
        [stream, sub, gone]() -> net::awaitable<void> {
            std::array<char, 512> sink{};
            for (;;) {
                auto [ec, n] =
                    co_await stream->socket().async_read_some(asio::buffer(sink), net::use_result);
                (void)n;
                if (ec) break;
            }
            *gone = true;
            sub->arrived.notify();
        },
        asio::detached);
    while (!stopped && !*gone) {
        auto has_work = [&] { return !sub->queue.empty() || stopped || *gone; };
        co_await sub->arrived.until(has_work, net::Clock::now() + config.sse_keepalive);
        if (stopped || *gone) break;
        std::string text;
        if (sub->dropped) {
            text += "event: dropped\ndata: {\"count\":" + std::to_string(sub->dropped) + "}\n\n";
            sub->dropped = 0;
        }
        if (sub->queue.empty()) text += ": keepalive\n\n";
        while (!sub->queue.empty()) {
            auto& e = sub->queue.front();
            text +=
                "id: " + std::to_string(e.id) + "\nevent: " + e.type + "\ndata: " + e.data + "\n\n";
            sub->queue.pop_front();
        }
        stream->expires_after(config.request_timeout);
        auto [sec, sn] = co_await asio::async_write(*stream, asio::buffer(text), net::use_result);
        (void)sn;
        if (sec) break;
    }
    events.unsubscribe(sub);
    net::error_code ignored;
    stream->socket().close(ignored);  // ends the reader above
}

}  // namespace keel::api
