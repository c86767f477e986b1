// Scenario 1: a bootstrap that accepts TCP and never answers (a `keel bootstrap` stopped with
// SIGSTOP: the kernel still completes TCP handshakes). With the default deadlines, both
// POST /api/v1/connect (no timeout_ms) on a `keel node` and `keel ping ADDR` give up in 10 s ± 1 s
// and name the phase that hung (security) and the address. The three run concurrently.
#include <signal.h>
#include <sys/wait.h>

#include <future>
#include <regex>

#include "scenario/scenario_support.hpp"

namespace keel::test::scenario {
namespace {

struct ApiOutcome {
    HttpReply reply;
    Clock::duration took{};
};

// keel_dial_failures_total{phase="PHASE"} from a /metrics text; -1 when absent.
double dial_failures(const std::string& metrics, const std::string& phase) {
    std::regex line("keel_dial_failures_total\\{phase=\"" + phase + "\"\\} ([0-9.]+)");
    std::smatch m;
    if (!std::regex_search(metrics, m, line)) return -1;
    return std::stod(m[1].str());
}

TEST_F(ScenarioTest, Scenario1_FrozenBootstrapFailsInTenSecondsNamingSecurityPhase) {
    auto* frozen = start_bootstrap("frozen");
    ASSERT_TRUE(frozen);
    auto* node = start_node("node", {});
    ASSERT_TRUE(node);
    ASSERT_TRUE(frozen->child().signal(SIGSTOP));

    // (i) the API, on a thread of its own; (ii) keel ping, as a user runs it and with --json.
    auto api_call = std::async(std::launch::async, [&] {
        auto start = Clock::now();
        auto reply = api(*node, "POST", "/api/v1/connect", json{{"addr", frozen->addr}}, 60s);
        return ApiOutcome{reply, Clock::now() - start};
    });
    auto& ping = spawn("ping", {"ping", frozen->addr});
    auto& ping_json = spawn("ping-json", {"ping", frozen->addr, "--json"});
    auto ping_status = ping.child().wait_exit(60s);
    auto ping_json_status = ping_json.child().wait_exit(60s);
    auto outcome = api_call.get();
    const Clock::duration low = 9s, high = 11s;
    const std::string bound = "9..11";

    // (i) POST /api/v1/connect
    {
        auto j = json::parse(outcome.reply.body, nullptr, false);
        std::string phase = j.is_object() ? j.value("phase", "") : "";
        std::string error = j.is_object() ? j.value("error", "") : "";
        figure(
            "scenario1", "api_connect_fail_s", num(seconds(outcome.took)), bound,
            "phase=" + phase + " api_elapsed_ms=" +
                (j.is_object() && j.contains("elapsed_ms") ? num(j["elapsed_ms"].get<double>(), 0)
                                                           : "?") +
                " error=\"" + error + "\"");
        ASSERT_EQ(outcome.reply.status, 200) << outcome.reply.error << " " << outcome.reply.body;
        ASSERT_TRUE(j.is_object()) << outcome.reply.body;
        EXPECT_EQ(j.value("ok", true), false) << outcome.reply.body;
        EXPECT_EQ(phase, "security") << outcome.reply.body;
        EXPECT_NE(error.find(frozen->addr), std::string::npos)
            << "the error does not name the address: " << outcome.reply.body;
        EXPECT_GE(outcome.took, low);
        EXPECT_LE(outcome.took, high);
        auto metrics = api(*node, "GET", "/metrics");
        auto failures = dial_failures(metrics.body, "security");
        figure("scenario1", "metrics_dial_failures_security", num(failures, 0), ">=1");
        EXPECT_GE(failures, 1) << metrics.body;
    }

    // (ii) keel ping ADDR, default timeout: exit code, the time, the message on stderr.
    {
        ASSERT_TRUE(ping_status.has_value()) << "keel ping still runs after 60 s";
        auto took = *ping.child().exited_at() - ping.child().started_at();
        std::string message;
        {
            std::ifstream in(ping.stderr_file());
            for (std::string line; std::getline(in, line);)
                if (line.starts_with("keel ping: ")) message = line;
        }
        figure("scenario1", "ping_fail_s", num(seconds(took)), bound,
               "exit=" + std::to_string(WIFEXITED(*ping_status) ? WEXITSTATUS(*ping_status) : -1) +
                   " message=\"" + message + "\"");
        ASSERT_TRUE(WIFEXITED(*ping_status)) << "status " << *ping_status;
        EXPECT_NE(WEXITSTATUS(*ping_status), 0);
        EXPECT_TRUE(message.starts_with("keel ping: security: ")) << ping.stderr_tail();
        EXPECT_NE(message.find(frozen->addr), std::string::npos) << message;
        EXPECT_GE(took, low);
        EXPECT_LE(took, high);
    }
    {
        ASSERT_TRUE(ping_json_status.has_value()) << "keel ping --json still runs after 60 s";
        auto took = *ping_json.child().exited_at() - ping_json.child().started_at();
        auto answer = ping_json.wait_event([](const json& j) { return j.is_object(); }, 5s);
        ASSERT_TRUE(answer) << "keel ping --json printed no JSON: " << ping_json.stdout_tail();
        const auto& j = answer->body;
        figure("scenario1", "ping_json_fail_s", num(seconds(took)), bound,
               "phase=" + j.value("phase", "") + " error=\"" + j.value("error", "") + "\"");
        ASSERT_TRUE(WIFEXITED(*ping_json_status)) << "status " << *ping_json_status;
        EXPECT_NE(WEXITSTATUS(*ping_json_status), 0);
        EXPECT_EQ(j.value("ok", true), false) << answer->line;
        EXPECT_EQ(j.value("phase", ""), "security") << answer->line;
        EXPECT_EQ(j.value("addr", ""), frozen->addr) << answer->line;
        EXPECT_GE(took, low);
        EXPECT_LE(took, high);
    }
}

}  // namespace
}  // namespace keel::test::scenario
