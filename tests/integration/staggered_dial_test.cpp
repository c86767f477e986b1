// The staggered dial of a bootstrap list: a first entry that accepts TCP and never answers costs
// the stagger, not the handshake deadline, whether the next entry must be dialled or is already
// connected (a connect that completes at once must still wake the race).
#include "keel/host/staggered_dial.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

class StaggeredDial : public ::testing::Test {
  protected:
    StaggeredDial() : silent(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
        server = std::make_unique<Host>(io.get_executor(), test_config());
        auto bound = server->listen(loopback_any_port());
        server_addr = with_peer(*bound, server->peer_id());
        auto config = test_config();
        config.handshake_timeout = 5s;  // what a hanging entry would cost without the stagger
        client = std::make_unique<Host>(io.get_executor(), std::move(config));
        // Accepts TCP (the kernel does) and never says a word.
        auto port = silent.local_endpoint().port();
        silent_addr = *Multiaddr::parse(
            "/ip4/127.0.0.1/tcp/" + std::to_string(port) + "/p2p/" +
            PeerId::from_public_key(Ed25519KeyPair::generate().public_key()).to_base58());
    }
    ~StaggeredDial() override { shut_down(io, {client.get(), server.get()}); }

    asio::io_context io;
    tcp::acceptor silent;
    std::unique_ptr<Host> server;
    std::unique_ptr<Host> client;
    Multiaddr server_addr;
    Multiaddr silent_addr;
};

TEST_F(StaggeredDial, HangingFirstEntryCostsTheStagger) {
    auto race = run_task(io, dial_staggered(*client, {silent_addr, server_addr}, 250ms), 4s);
    ASSERT_TRUE(race) << "the race waited for the hanging entry's deadline";
    ASSERT_TRUE(race->connection);
    EXPECT_EQ(race->winner_index, 1u);
    EXPECT_GE(race->elapsed, 250ms);
    EXPECT_LT(race->elapsed, 2s);
}

TEST_F(StaggeredDial, AlreadyConnectedSecondEntryWinsAtOnce) {
    auto first = run_task(io, client->connect(server_addr), 4s);
    ASSERT_TRUE(first && *first);
    auto race = run_task(io, dial_staggered(*client, {silent_addr, server_addr}, 250ms), 4s);
    ASSERT_TRUE(race) << "a connect that completed at once did not wake the race";
    ASSERT_TRUE(race->connection);
    EXPECT_EQ(race->winner_index, 1u);
    EXPECT_EQ(race->connection, **first);
    EXPECT_LT(race->elapsed, 2s);
}

}  // namespace
}  // namespace keel::test
