// Where a control socket lives: an IP address with a TCP port, or a unix socket path; anything
// else is refused. Connecting uses a local unix socket of the test's own, no daemon.
#include "keel/p2pd/control_endpoint.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>

#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/peer_id.hpp"
#include "keel/net/net_errc.hpp"
#include "support/net_test_util.hpp"

namespace keel::p2pd {
namespace {

namespace asio = net::asio;
using namespace std::chrono_literals;
using local = asio::local::stream_protocol;
using net::awaitable;
using net::test::run;

Multiaddr addr(const std::string& text) {
    return Multiaddr::parse(text).value();
}

// A fresh directory for socket files, removed afterwards (unix socket paths must stay short).
class SocketDir {
  public:
    SocketDir() {
        static std::atomic<int> counter{0};
        path_ = std::filesystem::temp_directory_path() /
                ("keel-p2pd-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~SocketDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    SocketDir(const SocketDir&) = delete;
    SocketDir& operator=(const SocketDir&) = delete;
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

TEST(ControlEndpoint, TcpAddresses) {
    auto v4 = control_endpoint(addr("/ip4/127.0.0.1/tcp/5001"));
    ASSERT_TRUE(v4) << v4.error().message();
    const auto* tcp4 = std::get_if<asio::ip::tcp::endpoint>(&*v4);
    ASSERT_NE(tcp4, nullptr);
    EXPECT_EQ(tcp4->address(), asio::ip::make_address("127.0.0.1"));
    EXPECT_EQ(tcp4->port(), 5001);

    auto v6 = control_endpoint(addr("/ip6/::1/tcp/5002"));
    ASSERT_TRUE(v6) << v6.error().message();
    const auto* tcp6 = std::get_if<asio::ip::tcp::endpoint>(&*v6);
    ASSERT_NE(tcp6, nullptr);
    EXPECT_EQ(tcp6->address(), asio::ip::make_address("::1"));
    EXPECT_EQ(tcp6->port(), 5002);
}

TEST(ControlEndpoint, UnixPath) {
    auto endpoint = control_endpoint(addr("/unix/tmp/p2pd.sock"));
    ASSERT_TRUE(endpoint) << endpoint.error().message();
    const auto* path = std::get_if<local::endpoint>(&*endpoint);
    ASSERT_NE(path, nullptr);
    EXPECT_EQ(path->path(), "/tmp/p2pd.sock");
}

TEST(ControlEndpoint, MultiaddrRoundTrip) {
    for (const char* text : {"/ip4/127.0.0.1/tcp/5001", "/ip6/::1/tcp/5002", "/unix/tmp/p2pd.sock",
                             "/ip4/0.0.0.0/tcp/0"}) {
        auto endpoint = control_endpoint(addr(text));
        ASSERT_TRUE(endpoint) << text;
        EXPECT_EQ(control_multiaddr(*endpoint), addr(text)) << text;
    }
}

TEST(ControlEndpoint, AnythingElseIsRefused) {
    const auto peer = PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
    const std::vector<std::string> refused{
        "/ip4/127.0.0.1/udp/5001",
        "/ip4/127.0.0.1",
        "/ip4/127.0.0.1/tcp/5001/p2p/" + peer.to_base58(),  // a peer is not a socket
        "/dns4/localhost/tcp/5001",                         // no name lookups for a local socket
        "/ip4/127.0.0.1/tcp/5001/ws",
    };
    for (const auto& text : refused) {
        auto parsed = Multiaddr::parse(text);
        ASSERT_TRUE(parsed) << text;
        auto endpoint = control_endpoint(*parsed);
        ASSERT_FALSE(endpoint) << text;
        EXPECT_EQ(endpoint.error(), net::net_errc::unsupported_address) << text;
    }
    EXPECT_FALSE(control_endpoint(Multiaddr{}));
    // A unix path with anything else beside it.
    auto mixed =
        addr("/ip4/127.0.0.1/tcp/5001").with_component(proto_code::unix, to_bytes("/tmp/x"));
    EXPECT_FALSE(control_endpoint(mixed));
}

TEST(ControlEndpoint, UnixPathTooLongForASocketIsRefused) {
    // sockaddr_un holds about 107 bytes; a longer path is refused rather than thrown on.
    std::string path = "/tmp/" + std::string(200, 'x');
    auto endpoint = control_endpoint(addr("/unix" + path));
    ASSERT_FALSE(endpoint);
    EXPECT_EQ(endpoint.error(), net::net_errc::unsupported_address);
    // Just short enough is fine.
    path = "/tmp/" + std::string(100, 'x');
    EXPECT_TRUE(control_endpoint(addr("/unix" + path)));
}

TEST(ControlEndpoint, ConnectsToAUnixSocket) {
    SocketDir dir;
    run([&dir]() -> awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        const auto path = dir.file("control.sock");
        local::acceptor acceptor(executor, local::endpoint(path));
        auto endpoint = control_endpoint(addr("/unix" + path));
        KEEL_CO_ASSERT_OK(endpoint);

        auto accept = [&]() -> awaitable<net::result<Bytes>> {
            local::socket socket(executor);
            auto [ec] = co_await acceptor.async_accept(socket, net::use_result);
            if (ec) co_return ec;
            Bytes got(5);
            auto [read_ec, n] =
                co_await asio::async_read(socket, asio::buffer(got), net::use_result);
            if (read_ec) co_return read_ec;
            co_return got;
        };
        auto connect = [&]() -> awaitable<net::error_code> {
            auto stream = co_await connect_control(executor, *endpoint, 2000ms);
            if (!stream) co_return stream.error();
            co_return co_await (*stream)->write_all(to_bytes("hello"));
        };
        using namespace asio::experimental::awaitable_operators;
        auto [got, wrote] = co_await (accept() && connect());
        KEEL_CO_ASSERT_NO_ERROR(wrote);
        KEEL_CO_ASSERT_OK(got);
        EXPECT_EQ(*got, to_bytes("hello"));
    });
}

TEST(ControlEndpoint, ConnectingWhereNobodyListensFails) {
    SocketDir dir;
    run([&dir]() -> awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        auto endpoint = control_endpoint(addr("/unix" + dir.file("nobody.sock")));
        KEEL_CO_ASSERT_OK(endpoint);
        auto stream = co_await connect_control(executor, *endpoint, 2000ms);
        EXPECT_FALSE(stream);
    });
}

}  // namespace
}  // namespace keel::p2pd
