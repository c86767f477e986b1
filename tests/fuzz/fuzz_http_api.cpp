// The HTTP API server (Boost.Beast parser, Keel's router with {param} segments, the Host and
// Origin guards, body limits, static files) fed raw request bytes over a loopback connection to a
// server in the same process (127.0.0.1 only; the server has no socket-free entry point). The
// server has the API's shape: GET and POST routes with parameters, static files. Properties: each
// connection gets back either nothing or well-formed HTTP/1.x responses with a 3-digit status, a
// route handler only ever sees a Host-checked request whose {param} values are non-empty, and a
// request body never exceeds max_body.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "fuzz_util.hpp"
#include "keel/http/event_bus.hpp"
#include "keel/http/http_server.hpp"
#include "keel/http/static_files.hpp"

using namespace keel;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_body = 4096;

struct Server {
    asio::io_context io;
    http::EventBus events{io.get_executor()};
    http::HttpServer server{io.get_executor(), events, config()};
    asio::ip::tcp::endpoint endpoint;

    static http::HttpServerConfig config() {
        http::HttpServerConfig c;
        c.max_body = max_body;
        c.request_timeout = net::Duration(2000);
        return c;
    }

    Server() {
        auto root = fs::temp_directory_path() / ("keel-fuzz-http-" + std::to_string(::getpid()));
        fs::remove_all(root);
        fs::create_directories(root / "assets");
        std::ofstream(root / "index.html") << "<html>";
        std::ofstream(root / "assets" / "app.js") << "js";
        std::string why;
        auto files = http::StaticFiles::load(root, &why);
        if (!files) std::abort();
        server.static_files(std::move(*files));
        auto handler = [](http::HttpRequest request) -> net::awaitable<http::HttpResponse> {
            KEEL_FUZZ_CHECK(request.body.size() <= max_body);
            for (const auto& [name, value] : request.params) KEEL_FUZZ_CHECK(!value.empty());
            co_return http::HttpResponse{200, "application/json", "{\"ok\":true}"};
        };
        server.route("GET", "/api/v1/node", handler);
        server.route("GET", "/api/v1/peers/{id}", handler);
        server.route("POST", "/api/v1/bootstraps/{id}/retry", handler);
        server.route("POST", "/api/v1/dht/provide", handler);
        server.route("DELETE", "/api/v1/bootstraps/{id}", handler);
        auto bound = server.listen({asio::ip::make_address("127.0.0.1"), 0});
        if (!bound) std::abort();
        endpoint = *bound;
    }
};

void check_responses(std::string_view out) {
    while (!out.empty()) {
        // Beast answers in the request's version: HTTP/1.0 or 1.1.
        KEEL_FUZZ_CHECK(out.starts_with("HTTP/1.1 ") || out.starts_with("HTTP/1.0 "));
        KEEL_FUZZ_CHECK(out.size() >= 12);
        for (std::size_t i = 9; i < 12; ++i) KEEL_FUZZ_CHECK(out[i] >= '0' && out[i] <= '9');
        // The next response, if pipelined requests got several, starts after this one's body.
        auto end = out.find("\r\n\r\n");
        if (end == std::string_view::npos) return;
        auto headers = out.substr(0, end);
        std::size_t length = 0;
        auto at = headers.find("Content-Length: ");
        if (at == std::string_view::npos) at = headers.find("content-length: ");
        if (at == std::string_view::npos) return;
        length = std::strtoul(std::string(headers.substr(at + 16, 12)).c_str(), nullptr, 10);
        if (end + 4 + length > out.size()) return;
        out = out.substr(end + 4 + length);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Server* server = new Server;  // lives for the process, as the daemon's does
    std::string response;
    bool finished = false;
    asio::co_spawn(
        server->io,
        [&]() -> net::awaitable<void> {
            asio::ip::tcp::socket socket(server->io);
            auto [ec] = co_await socket.async_connect(server->endpoint, net::use_result);
            if (ec) std::abort();
            co_await asio::async_write(socket, asio::buffer(data, size), net::use_result);
            socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
            std::array<char, 4096> buffer{};
            for (;;) {
                auto [read_ec, n] =
                    co_await socket.async_read_some(asio::buffer(buffer), net::use_result);
                response.append(buffer.data(), n);
                if (read_ec || response.size() > (1 << 20)) break;
            }
        },
        [&](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
            finished = true;
        });
    server->io.restart();
    while (!finished) {
        if (server->io.run_one_for(std::chrono::seconds(5)) == 0) break;
    }
    KEEL_FUZZ_CHECK(finished);  // the server answers or hangs up within its request timeout
    check_responses(response);
    return 0;
}
