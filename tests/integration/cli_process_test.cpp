// The keel binary across processes: `keel node` serving an in-process Host and `keel ping`, the
// exit codes and JSON of `keel ping` for each failing phase, identity persistence across restarts,
// and a clean exit on SIGTERM. All on 127.0.0.1.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "keel/net/framing.hpp"
#include "keel/net/multistream.hpp"
#include "keel/protocols/ping.hpp"
#include "support/keel_process_test.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

namespace fs = std::filesystem;

struct NodeInfo {
    std::string peer_id;
    std::string addr;  // /ip4/127.0.0.1/tcp/PORT/p2p/ID
};

class CliProcess : public KeelProcessTest {
  protected:
    // Starts `keel node` on an ephemeral port and reads its "listening" event.
    void start_node(const fs::path& data_dir, Child*& child, NodeInfo& info) {
        std::vector<std::string> args{"node",        "--listen",   "/ip4/127.0.0.1/tcp/0",
                                      "--json",      "--data-dir", data_dir.string(),
                                      "--log-level", "debug",      "--api",
                                      "127.0.0.1:0"};
        child = &spawn(std::move(args));
        ASSERT_TRUE(child->started()) << "cannot spawn " << KEEL_BINARY;
        auto line = child->read_line(10s);
        ASSERT_TRUE(line.has_value()) << "keel node printed nothing";
        auto event = nlohmann::json::parse(*line, nullptr, false);
        ASSERT_FALSE(event.is_discarded()) << *line;
        ASSERT_EQ(event.value("event", ""), "listening") << *line;
        ASSERT_TRUE(event.contains("addrs") && event["addrs"].is_array() && !event["addrs"].empty())
            << *line;
        info.peer_id = event.value("peer_id", "");
        info.addr = event["addrs"][0].get<std::string>();
        ASSERT_FALSE(info.peer_id.empty()) << *line;
        ASSERT_TRUE(info.addr.starts_with("/ip4/127.0.0.1/tcp/")) << info.addr;
        ASSERT_TRUE(info.addr.ends_with("/p2p/" + info.peer_id)) << info.addr;
    }

    // The node's event loop is running: a TCP client that sends the multistream header gets the
    // node's.
    void wait_until_serving(const NodeInfo& info) {
        auto addr = Multiaddr::parse(info.addr);
        ASSERT_TRUE(addr);
        asio::io_context io;
        auto raw = run_task(io, connect_raw(endpoint_of(*addr)), 5s);
        ASSERT_TRUE(raw && *raw) << "cannot connect to " << info.addr;
        Bytes header = net::length_prefixed(as_bytes(std::string(net::multistream_header) + "\n"));
        auto sent = run_task(io, (**raw)->write_all(header), 5s);
        ASSERT_TRUE(sent.has_value() && !*sent) << "cannot write to " << info.addr;
        std::array<std::uint8_t, 1> first{};
        auto got = run_task(io, (**raw)->read_some(first), 5s);
        ASSERT_TRUE(got.has_value()) << "keel node does not answer";
        ASSERT_TRUE(got->has_value()) << got->error().message();
    }

    // Runs `keel ARGS...` to completion; returns its exit status and the last line of stdout.
    struct Run {
        int exit_code = -1;
        nlohmann::json json;
        net::Duration took{};
    };
    void run_keel(std::vector<std::string> args, net::Duration timeout, Run& out,
                  const std::function<void()>& tick = {}) {
        auto start = net::Clock::now();
        Child& child = spawn(std::move(args));
        ASSERT_TRUE(child.started());
        auto status = child.wait_exit(timeout, tick);
        out.took = std::chrono::duration_cast<net::Duration>(net::Clock::now() - start);
        ASSERT_TRUE(status.has_value()) << "keel did not exit within " << timeout.count() << " ms";
        ASSERT_TRUE(WIFEXITED(*status)) << "keel died with status " << *status;
        out.exit_code = WEXITSTATUS(*status);
        auto text = child.read_all(2s);
        ASSERT_TRUE(text.has_value());
        auto last = text->find_last_not_of('\n');
        ASSERT_NE(last, std::string::npos) << "keel printed nothing";
        auto begin = text->rfind('\n', last);
        std::string line = text->substr(begin == std::string::npos ? 0 : begin + 1,
                                        last + 1 - (begin == std::string::npos ? 0 : begin + 1));
        out.json = nlohmann::json::parse(line, nullptr, false);
        ASSERT_FALSE(out.json.is_discarded()) << line;
    }
};

TEST_F(CliProcess, InProcessHostPingsKeelNode) {
    Child* node = nullptr;
    NodeInfo info;
    ASSERT_NO_FATAL_FAILURE(start_node(tmp_ / "node", node, info));
    auto addr = Multiaddr::parse(info.addr);
    ASSERT_TRUE(addr) << info.addr;

    asio::io_context io;
    auto host = std::make_unique<Host>(io.get_executor(), test_config());
    auto conn = run_task(io, host->dial(*addr), 10s);
    std::string failure;
    if (!conn)
        failure = "dial did not finish";
    else if (!*conn)
        failure = conn->error().message();
    if (failure.empty()) {
        auto c = **conn;
        EXPECT_EQ(c->peer.to_base58(), info.peer_id);
        auto identified = run_task(io, host->wait_identified(c), 10s);
        EXPECT_TRUE(identified && *identified);
        auto peer = host->peer_store().get(c->peer);
        EXPECT_TRUE(peer && peer->agent_version.starts_with("keel/"));
        std::vector<std::string> wanted{std::string(protocols::ping_protocol_id)};
        auto stream = run_task(io, host->new_stream(c, std::move(wanted)), 10s);
        if (stream && *stream) {
            auto rtt = run_task(io, protocols::ping_once(***stream), 10s);
            EXPECT_TRUE(rtt && *rtt) << "ping failed";
        } else {
            ADD_FAILURE() << "cannot open a ping stream";
        }
    }
    shut_down(io, {host.get()});
    host.reset();
    EXPECT_TRUE(failure.empty()) << failure;

    // The node reported the connection on stdout.
    auto line = node->read_line(5s);
    ASSERT_TRUE(line.has_value());
    auto event = nlohmann::json::parse(*line, nullptr, false);
    EXPECT_EQ(event.value("event", ""), "connection_opened") << *line;
}

TEST_F(CliProcess, PingCommandSucceedsWithJson) {
    Child* node = nullptr;
    NodeInfo info;
    ASSERT_NO_FATAL_FAILURE(start_node(tmp_ / "node", node, info));
    std::vector<std::string> args{"ping", info.addr,    "--json", "--count",
                                  "2",    "--interval", "100ms"};
    Run run;
    ASSERT_NO_FATAL_FAILURE(run_keel(std::move(args), 20s, run));
    EXPECT_EQ(run.exit_code, 0) << run.json.dump();
    EXPECT_EQ(run.json.value("ok", false), true) << run.json.dump();
    EXPECT_EQ(run.json.value("peer_id", ""), info.peer_id);
    EXPECT_TRUE(run.json.value("agent_version", "").starts_with("keel/")) << run.json.dump();
    ASSERT_TRUE(run.json.contains("rtts_ms"));
    EXPECT_EQ(run.json["rtts_ms"].size(), 2u) << run.json.dump();
}

TEST_F(CliProcess, PingClosedPortFailsInDialPhase) {
    std::vector<std::string> args{"ping", "/ip4/127.0.0.1/tcp/" + std::to_string(closed_port()),
                                  "--json", "--count", "1"};
    Run run;
    ASSERT_NO_FATAL_FAILURE(run_keel(std::move(args), 20s, run));
    EXPECT_NE(run.exit_code, 0);
    EXPECT_EQ(run.json.value("ok", true), false) << run.json.dump();
    EXPECT_EQ(run.json.value("phase", ""), "dial") << run.json.dump();
}

// A TCP listener that accepts and never says a word: the handshake deadline must fire.
TEST_F(CliProcess, PingSilentListenerFailsInSecurityPhaseWithinDeadline) {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::vector<tcp::socket> accepted;
    std::function<void()> accept_next = [&] {
        acceptor.async_accept([&](net::error_code ec, tcp::socket socket) {
            if (ec) return;
            accepted.push_back(std::move(socket));
            accept_next();
        });
    };
    accept_next();

    std::vector<std::string> args{
        "ping",   "/ip4/127.0.0.1/tcp/" + std::to_string(acceptor.local_endpoint().port()),
        "--json", "--count",
        "1",      "--timeout",
        "1s"};
    Run run;
    // Drive the listener while waiting for the child.
    ASSERT_NO_FATAL_FAILURE(run_keel(std::move(args), 10s, run, [&] {
        if (io.stopped()) io.restart();
        io.run_one_for(5ms);
    }));
    EXPECT_EQ(accepted.size(), 1u) << "keel ping never connected";
    EXPECT_NE(run.exit_code, 0);
    EXPECT_LT(run.took, 3s) << "took " << run.took.count() << " ms";
    EXPECT_EQ(run.json.value("ok", true), false) << run.json.dump();
    EXPECT_EQ(run.json.value("phase", ""), "security") << run.json.dump();
    acceptor.close();
    accepted.clear();
}

TEST_F(CliProcess, NodeKeepsPeerIdAcrossRestart) {
    Child* first = nullptr;
    NodeInfo before;
    ASSERT_NO_FATAL_FAILURE(start_node(tmp_ / "node", first, before));
    ASSERT_NO_FATAL_FAILURE(wait_until_serving(before));
    ASSERT_EQ(kill(first->pid(), SIGTERM), 0);
    auto status = first->wait_exit(5s);
    ASSERT_TRUE(status.has_value()) << "first node did not stop";

    Child* second = nullptr;
    NodeInfo after;
    ASSERT_NO_FATAL_FAILURE(start_node(tmp_ / "node", second, after));
    EXPECT_EQ(after.peer_id, before.peer_id);
    EXPECT_TRUE(fs::exists(tmp_ / "node" / "identity.key"));

    // A different data dir is a different node.
    Child* other = nullptr;
    NodeInfo stranger;
    ASSERT_NO_FATAL_FAILURE(start_node(tmp_ / "other", other, stranger));
    EXPECT_NE(stranger.peer_id, before.peer_id);
}

TEST_F(CliProcess, SigtermStopsNodeWithExitZero) {
    Child* node = nullptr;
    NodeInfo info;
    ASSERT_NO_FATAL_FAILURE(start_node(tmp_ / "node", node, info));
    // `keel node` prints "listening" before it installs its SIGTERM handler (cmd_node.cpp), so a
    // signal sent right after that line kills it with the default action. Once it answers on its
    // port, its event loop runs and the handler is in place.
    ASSERT_NO_FATAL_FAILURE(wait_until_serving(info));
    auto start = net::Clock::now();
    ASSERT_EQ(kill(node->pid(), SIGTERM), 0);
    auto status = node->wait_exit(5s);
    ASSERT_TRUE(status.has_value()) << "keel node still runs 5 s after SIGTERM";
    EXPECT_LT(net::Clock::now() - start, 5s);
    ASSERT_TRUE(WIFEXITED(*status)) << "status " << *status;
    EXPECT_EQ(WEXITSTATUS(*status), 0);
    // Its last words on stdout.
    auto rest = node->read_all(2s);
    ASSERT_TRUE(rest.has_value());
    EXPECT_NE(rest->find("\"stopped\""), std::string::npos) << *rest;
}

}  // namespace
}  // namespace keel::test
