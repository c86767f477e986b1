// `keel load` against a real `keel bootstrap` process: 50 connections (Noise, Yamux, identify,
// one FIND_NODE each) all succeed, the report's figures are consistent (counts, ordered
// percentiles, the bootstrap found by its listening port with its memory and descriptors), and a
// target that refuses connections shows up as dial errors with a failing exit code. No timing
// asserts: the figures depend on the machine.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/keel_process_test.hpp"
#include "support/test_support.hpp"

namespace keel::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class LoadCommand : public KeelProcessTest {
  protected:
    // `keel bootstrap` on an ephemeral port; its address from the "listening" event.
    void start_bootstrap(Child*& child, std::string& addr) {
        std::vector<std::string> args{"bootstrap", "--listen",   "/ip4/127.0.0.1/tcp/0",
                                      "--json",    "--data-dir", (tmp_ / "boot").string(),
                                      "--api",     "off",        "--log-level",
                                      "warn"};
        child = &spawn(std::move(args));
        ASSERT_TRUE(child->started()) << "cannot spawn " << KEEL_BINARY;
        auto line = child->read_line(10s);
        ASSERT_TRUE(line.has_value()) << "keel bootstrap printed nothing";
        auto event = json::parse(*line, nullptr, false);
        ASSERT_FALSE(event.is_discarded()) << *line;
        ASSERT_EQ(event.value("event", ""), "listening") << *line;
        ASSERT_TRUE(event.contains("addrs") && !event["addrs"].empty()) << *line;
        addr = event["addrs"][0].get<std::string>();
    }

    // Runs `keel load ARGS... --json --quiet` to completion: its exit code and its JSON object.
    void run_load(std::vector<std::string> args, int& exit_code, json& report) {
        args.insert(args.begin(), "load");
        args.push_back("--json");
        args.push_back("--quiet");
        Child& child = spawn(std::move(args));
        ASSERT_TRUE(child.started());
        auto status = child.wait_exit(60s);
        ASSERT_TRUE(status.has_value()) << "keel load did not exit within 60 s";
        ASSERT_TRUE(WIFEXITED(*status)) << "keel load died with status " << *status;
        exit_code = WEXITSTATUS(*status);
        auto text = child.read_all(2s);
        ASSERT_TRUE(text.has_value());
        report = json::parse(*text, nullptr, false);
        ASSERT_FALSE(report.is_discarded()) << *text;
        ASSERT_TRUE(report.is_object()) << *text;
    }

    // A bootstrap, then `keel load --target ITS_ADDRESS ARGS...` against it.
    void load_a_bootstrap(std::vector<std::string> args, Child*& boot, int& exit_code,
                          json& report) {
        std::string addr;
        ASSERT_NO_FATAL_FAILURE(start_bootstrap(boot, addr));
        args.insert(args.begin(), {"--target", addr});
        ASSERT_NO_FATAL_FAILURE(run_load(std::move(args), exit_code, report));
    }

    // count == n and 0 < p50 <= p90 <= p99 <= max.
    static void expect_latencies(const json& l, std::size_t n, const std::string& what) {
        SCOPED_TRACE(what + ": " + l.dump());
        EXPECT_EQ(l.value("count", 0u), n);
        EXPECT_GT(l.value("p50", 0.0), 0.0);
        EXPECT_LE(l.value("p50", 0.0), l.value("p90", 0.0));
        EXPECT_LE(l.value("p90", 0.0), l.value("p99", 0.0));
        EXPECT_LE(l.value("p99", 0.0), l.value("max", 0.0));
    }
};

TEST_F(LoadCommand, FiftyConnectionsToABootstrapAllSucceed) {
    Child* boot = nullptr;
    int code = -1;
    json r;
    ASSERT_NO_FATAL_FAILURE(load_a_bootstrap(
        {"--connections", "50", "--rate", "100", "--duration", "1s", "--find-node"}, boot, code,
        r));
    SCOPED_TRACE(r.dump());
    EXPECT_EQ(code, 0);
    EXPECT_EQ(r.value("ok", false), true);
    EXPECT_EQ(r.value("attempted", 0), 50);
    EXPECT_EQ(r.value("handshaked", 0), 50);
    EXPECT_EQ(r.value("identified", 0), 50);
    EXPECT_EQ(r.value("find_node_ok", 0), 50);
    EXPECT_EQ(r.value("held", 0), 50);
    EXPECT_DOUBLE_EQ(r.value("success_rate", 0.0), 1.0);
    EXPECT_TRUE(r["errors"].empty());
    expect_latencies(r["latency_ms"]["handshake"], 50, "handshake");
    expect_latencies(r["latency_ms"]["identify"], 50, "identify");
    expect_latencies(r["latency_ms"]["find_node"], 50, "find_node");

    // The bootstrap was found by its port: its memory and its 50 extra sockets while loaded.
    const auto& t = r["target_process"];
    ASSERT_TRUE(t.is_object()) << r.value("target_note", "");
    EXPECT_EQ(t.value("pid", 0), boot->pid());
    EXPECT_GT(t.value("rss_before_kb", 0), 0);
    EXPECT_GT(t.value("rss_loaded_kb", 0), 0);
    EXPECT_TRUE(t["rss_per_connection_kb"].is_number());
    EXPECT_GE(t.value("fds_loaded", 0), t.value("fds_before", 0) + 50);
    EXPECT_LT(t.value("fds_after", 0), t.value("fds_loaded", 0));
    EXPECT_TRUE(boot->running()) << "the bootstrap did not survive the load";
}

// Two worker threads, one peer ID per thread, and the dials spread over five source addresses
// (127.1.0.1 to 127.1.0.5, bound before connect): still every connection succeeds.
TEST_F(LoadCommand, ThreadsAndSourceAddressesAllSucceed) {
    Child* boot = nullptr;
    int code = -1;
    json r;
    ASSERT_NO_FATAL_FAILURE(
        load_a_bootstrap({"--connections", "50", "--rate", "200", "--duration", "500ms",
                          "--threads", "2", "--source-addrs", "5", "--one-identity"},
                         boot, code, r));
    SCOPED_TRACE(r.dump());
    EXPECT_EQ(code, 0);
    EXPECT_EQ(r.value("held", 0), 50);
    EXPECT_EQ(r.value("threads", 0), 2);
    EXPECT_EQ(r.value("source_addresses", 0), 5);
    EXPECT_EQ(r.value("shared_identity", false), true);
    EXPECT_TRUE(r["errors"].empty());
    expect_latencies(r["latency_ms"]["handshake"], 50, "handshake");
    EXPECT_EQ(r["latency_ms"]["find_node"].value("count", 1), 0);  // not asked for
}

// --find-node-loop: each held connection sends FIND_NODE after FIND_NODE for the whole hold;
// the report counts them (more than one per connection, none failed) and their rate.
TEST_F(LoadCommand, FindNodeLoopKeepsAskingDuringTheHold) {
    Child* boot = nullptr;
    int code = -1;
    json r;
    ASSERT_NO_FATAL_FAILURE(load_a_bootstrap(
        {"--connections", "10", "--rate", "100", "--duration", "1s", "--find-node-loop"}, boot,
        code, r));
    SCOPED_TRACE(r.dump());
    EXPECT_EQ(code, 0);
    EXPECT_EQ(r.value("held", 0), 10);
    EXPECT_EQ(r.value("find_node", false), true);  // implied: one FIND_NODE at set-up too
    EXPECT_EQ(r.value("find_node_ok", 0), 10);
    const auto& loop = r["find_node_loop"];
    ASSERT_TRUE(loop.is_object());
    EXPECT_GT(loop.value("ok", 0u), 10u);
    EXPECT_EQ(loop.value("failed", 1u), 0u);
    EXPECT_TRUE(loop["errors"].empty());
    EXPECT_GT(loop.value("per_s", 0.0), 0.0);
    expect_latencies(loop["latency_ms"], loop.value("ok", 0u), "find_node_loop");
    EXPECT_TRUE(boot->running());
}

TEST_F(LoadCommand, RefusedConnectionsAreDialErrors) {
    auto target = "/ip4/127.0.0.1/tcp/" + std::to_string(closed_port());
    int code = -1;
    json r;
    ASSERT_NO_FATAL_FAILURE(
        run_load({"--target", target, "--connections", "5", "--rate", "100", "--duration", "100ms"},
                 code, r));
    SCOPED_TRACE(r.dump());
    EXPECT_EQ(code, 1);
    EXPECT_EQ(r.value("ok", true), false);
    EXPECT_EQ(r.value("held", -1), 0);
    EXPECT_DOUBLE_EQ(r.value("success_rate", 1.0), 0.0);
    ASSERT_TRUE(r["errors"].contains("dial"));
    EXPECT_EQ(r["errors"]["dial"].value("count", 0), 5);
    EXPECT_EQ(r["errors"].size(), 1u);
    EXPECT_TRUE(r["target_process"].is_null());  // nothing listens there
}

}  // namespace
}  // namespace keel::test
