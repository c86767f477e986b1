// `keel p2pd` as a process, the way daemon clients start it: go-libp2p-daemon's single-dash
// flags, the "Control socket:" lines, a unix control socket, the -id key file, a clean exit on
// SIGTERM that removes the socket file, and the flags it refuses.
#include <keel/proto/p2pd.pb.h>
#include <signal.h>

#include <filesystem>

#include "keel/crypto/identity_file.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/net_errc.hpp"
#include "keel/p2pd/control_daemon.hpp"
#include "keel/p2pd/control_messages.hpp"
#include "support/keel_process_test.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

namespace fs = std::filesystem;

class P2pdProcess : public KeelProcessTest {};

TEST_F(P2pdProcess, GoStyleFlagsUnixControlSocketAndCleanExit) {
    auto key = Ed25519KeyPair::generate();
    auto key_file = tmp_ / "p2pd.key";
    ASSERT_FALSE(save_identity(key_file, key));
    auto expected_peer = PeerId::from_public_key(key.public_key());
    auto socket_path = tmp_ / "p2pd.sock";

    auto& child =
        spawn({"p2pd", "-listen=/unix" + socket_path.string(), "-hostAddrs=/ip4/127.0.0.1/tcp/0",
               "-id=" + key_file.string(), "-noise=true", "-muxer=yamux", "-dhtServer"});
    ASSERT_TRUE(child.started());
    auto control_line = child.read_line(10s);
    ASSERT_TRUE(control_line) << "keel p2pd printed nothing";
    EXPECT_EQ(*control_line, "Control socket: /unix" + socket_path.string());
    auto id_line = child.read_line(5s);
    ASSERT_TRUE(id_line);
    EXPECT_EQ(*id_line, "Peer ID: " + expected_peer.to_base58());
    auto addrs_line = child.read_line(5s);
    ASSERT_TRUE(addrs_line);
    EXPECT_EQ(*addrs_line, "Peer Addrs:");
    auto host_line = child.read_line(5s);
    ASSERT_TRUE(host_line);
    auto host_addr = Multiaddr::parse(*host_line);
    ASSERT_TRUE(host_addr) << *host_line;
    EXPECT_TRUE(fs::exists(socket_path));

    // IDENTIFY over the unix socket answers with the key file's peer ID and the host address.
    asio::io_context io;
    auto endpoint =
        p2pd::control_endpoint(Multiaddr::parse("/unix" + socket_path.string()).value());
    ASSERT_TRUE(endpoint);
    auto identify = [&]() -> net::awaitable<net::result<pb::p2pd::Response>> {
        auto stream = co_await p2pd::connect_control(io.get_executor(), *endpoint, 2s);
        if (!stream) co_return stream.error();
        pb::p2pd::Request request;
        request.set_type(pb::p2pd::Request::IDENTIFY);
        if (auto ec = co_await p2pd::write_message(**stream, request)) co_return ec;
        auto bytes = co_await net::read_length_prefixed(**stream, p2pd::max_control_message);
        if (!bytes) co_return bytes.error();
        pb::p2pd::Response response;
        if (!response.ParseFromArray(bytes->data(), static_cast<int>(bytes->size())))
            co_return make_error_code(net::net_errc::protocol_error);
        co_return response;
    };
    auto answer = run_task(io, identify(), 5s);
    ASSERT_TRUE(answer && *answer);
    ASSERT_EQ((*answer)->type(), pb::p2pd::Response::OK);
    EXPECT_EQ(PeerId::from_bytes(as_bytes((*answer)->identify().id())).value(), expected_peer);
    ASSERT_EQ((*answer)->identify().addrs_size(), 1);
    EXPECT_EQ(Multiaddr::from_bytes(as_bytes((*answer)->identify().addrs(0))).value(), *host_addr);

    ASSERT_TRUE(child.signal(SIGTERM));
    auto status = child.wait_exit(5s);
    ASSERT_TRUE(status) << "keel p2pd did not stop on SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;
    EXPECT_FALSE(fs::exists(socket_path)) << "the control socket file was left behind";
}

TEST_F(P2pdProcess, RefusesWhatKeelDoesNotSpeak) {
    for (const std::string flag : {"-muxer=mplex", "-noise=false", "-tls", "-pubsub"}) {
        auto& child = spawn({"p2pd", "-listen=/ip4/127.0.0.1/tcp/0", flag});
        ASSERT_TRUE(child.started());
        auto status = child.wait_exit(5s);
        ASSERT_TRUE(status) << flag;
        EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << flag;
    }
    // Turned off, the same flags are accepted (clients pass -pubsub=false).
    auto& child = spawn({"p2pd", "-listen=/ip4/127.0.0.1/tcp/0", "-pubsub=false", "-tls=false"});
    auto line = child.read_line(10s);
    ASSERT_TRUE(line) << "keel p2pd -pubsub=false -tls=false did not start";
    EXPECT_TRUE(line->starts_with("Control socket: /ip4/127.0.0.1/tcp/")) << *line;
}

}  // namespace
}  // namespace keel::test
