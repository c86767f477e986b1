#pragma once
// Shared helpers of the integration tests: drive an io_context until a condition holds or a
// deadline passes (never a blind sleep), run one coroutine to completion with a deadline, and
// build hosts, addresses and deterministic pseudo-random data.
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "keel/crypto/ed25519.hpp"
#include "keel/host/host.hpp"
#include "keel/host/tcp_address.hpp"
#include "keel/kad/network_profile.hpp"
#include "keel/net/asio.hpp"
#include "keel/net/tcp_stream.hpp"

namespace keel::test {

namespace asio = net::asio;
using namespace std::chrono_literals;
using asio::ip::tcp;

// Runs `io` one handler at a time until `done()` holds; false once `timeout` has passed. Each step
// blocks at most a few milliseconds waiting for the next handler, so nothing sleeps blindly.
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      net::Duration timeout) {
    auto deadline = net::Clock::now() + timeout;
    while (!done()) {
        if (net::Clock::now() >= deadline) return false;
        if (io.stopped()) io.restart();
        io.run_one_for(5ms);
    }
    return true;
}

// Polls `done()` (no io_context involved) every `step` until it holds or `timeout` passes.
inline bool poll_until(const std::function<bool()>& done, net::Duration timeout,
                       net::Duration step = 5ms) {
    auto deadline = net::Clock::now() + timeout;
    while (!done()) {
        if (net::Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(step);  // the polling interval, not a wait for the condition
    }
    return true;
}

namespace detail {
template <class T>
net::awaitable<void> store_into(net::awaitable<T> task, std::shared_ptr<std::optional<T>> out) {
    auto value = co_await std::move(task);
    out->emplace(std::move(value));
}
}  // namespace detail

// Runs `task` on `io` until it finishes; nullopt if it did not within `timeout` (then it is
// cancelled, so it cannot touch the caller's state later).
template <class T>
std::optional<T> run_task(asio::io_context& io, net::awaitable<T> task, net::Duration timeout) {
    auto out = std::make_shared<std::optional<T>>();
    auto finished = std::make_shared<bool>(false);
    auto cancel = std::make_shared<asio::cancellation_signal>();
    asio::co_spawn(
        io, detail::store_into(std::move(task), out),
        asio::bind_cancellation_slot(cancel->slot(),
                                     [finished, cancel](std::exception_ptr) { *finished = true; }));
    if (run_until(
            io, [&] { return *finished; }, timeout))
        return std::move(*out);
    cancel->emit(asio::cancellation_type::all);
    run_until(
        io, [&] { return *finished; }, 2s);
    return std::nullopt;
}

// Stops the hosts and lets their connections close, so that they can be destroyed.
inline void shut_down(asio::io_context& io, const std::vector<Host*>& hosts) {
    for (auto* host : hosts)
        if (host) host->stop();
    auto deadline = net::Clock::now() + 3s;
    io.restart();
    while (!io.stopped() && net::Clock::now() < deadline) io.run_for(20ms);
    io.stop();
}

// Host settings for tests: a fresh identity and a short GoAway linger so that shutting down takes
// milliseconds, not the default seconds.
inline HostConfig test_config(bool inline_muxer = true) {
    HostConfig config(Ed25519KeyPair::generate());
    config.inline_muxer = inline_muxer;
    config.yamux.close_linger = 200ms;
    return config;
}

// The DHT protocol of the ipfs profile, /ipfs/kad/1.0.0.
inline const std::string& kad_protocol() {
    static const std::string id = kad::network_profile("ipfs")->kad_protocol;
    return id;
}

inline double seconds_since(net::Clock::time_point t0) {
    return std::chrono::duration<double>(net::Clock::now() - t0).count();
}

inline Multiaddr loopback_any_port() {
    return Multiaddr::parse("/ip4/127.0.0.1/tcp/0").value();
}

inline Multiaddr with_peer(const Multiaddr& addr, const PeerId& peer) {
    return addr.without(proto_code::p2p).with_component(proto_code::p2p, peer.bytes());
}

inline tcp::endpoint endpoint_of(const Multiaddr& addr) {
    auto ep = tcp_endpoint(addr);
    return ep ? *ep : tcp::endpoint{};
}

// A port on 127.0.0.1 that nobody listens on (bound once, then released).
inline std::uint16_t closed_port() {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto port = acceptor.local_endpoint().port();
    acceptor.close();
    return port;
}

// Deterministic pseudo-random bytes: the same seed gives the same sequence however it is chunked.
class ByteGen {
  public:
    explicit ByteGen(std::uint64_t seed) : engine_(seed) {}
    void fill(std::span<std::uint8_t> out) {
        for (auto& byte : out) {
            if (left_ == 0) {
                word_ = engine_();
                left_ = 8;
            }
            byte = static_cast<std::uint8_t>(word_);
            word_ >>= 8;
            --left_;
        }
    }

  private:
    std::mt19937_64 engine_;
    std::uint64_t word_ = 0;
    int left_ = 0;
};

inline Bytes random_bytes(std::size_t size, std::uint64_t seed) {
    Bytes out(size);
    ByteGen(seed).fill(out);
    return out;
}

// A plain TCP connection to `endpoint`, as a ByteStream.
inline net::awaitable<net::result<std::unique_ptr<net::TcpStream>>> connect_raw(
    tcp::endpoint endpoint) {
    tcp::socket socket(co_await asio::this_coro::executor);
    auto [ec] = co_await socket.async_connect(endpoint, net::use_result);
    if (ec) co_return ec;
    co_return std::make_unique<net::TcpStream>(std::move(socket));
}

// Reads until the stream fails or ends; returns why it ended and appends what arrived to `seen`.
inline net::awaitable<net::error_code> read_until_closed(net::ByteStream& stream,
                                                         std::shared_ptr<Bytes> seen) {
    std::array<std::uint8_t, 4096> buffer{};
    while (true) {
        auto n = co_await stream.read_some(buffer);
        if (!n) co_return n.error();
        if (seen) seen->insert(seen->end(), buffer.begin(), buffer.begin() + *n);
    }
}

// One HTTP/1.1 request over a new TCP connection ("Connection: close"), and its answer: status 0
// when none came. `host` is the Host header (the API refuses names it does not own).
struct RawHttpAnswer {
    int status = 0;
    std::string head;
    std::string body;
};
inline RawHttpAnswer raw_http(asio::io_context& io, tcp::endpoint endpoint,
                              const std::string& method, const std::string& target,
                              const std::string& body = "", const std::string& host = "127.0.0.1",
                              const std::string& extra_headers = "") {
    std::string request =
        method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra_headers +
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + body;
    auto seen = std::make_shared<Bytes>();
    auto task = [](tcp::endpoint ep, std::string req,
                   std::shared_ptr<Bytes> out) -> net::awaitable<bool> {
        auto stream = co_await connect_raw(ep);
        if (!stream) co_return false;
        if (co_await (*stream)->write_all(as_bytes(req))) co_return false;
        co_await read_until_closed(**stream, out);
        co_return true;
    };
    auto done = run_task(io, task(endpoint, request, seen), 20s);
    EXPECT_TRUE(done && *done) << method << " " << target << " did not complete";
    std::string text(seen->begin(), seen->end());
    RawHttpAnswer answer;
    auto split = text.find("\r\n\r\n");
    if (text.size() < 12 || split == std::string::npos) return answer;
    answer.status = std::stoi(text.substr(9, 3));
    answer.head = text.substr(0, split);
    answer.body = text.substr(split + 4);
    return answer;
}

}  // namespace keel::test
