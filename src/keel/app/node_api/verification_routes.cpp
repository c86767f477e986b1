// The brief's verifyDiscovery() and test_peer_discovery(): POST /api/v1/diagnostics runs the six
// steps (progress as "verification" events, the result kept for GET /api/v1/diagnostics; ?wait=1
// answers with it), POST /api/v1/discovery/test the first three (publish a test record and fetch
// it back from another peer), answered when done. One run at a time.
#include <deque>

#include "keel/app/health_json.hpp"
#include "keel/app/node_api/api_json.hpp"
#include "keel/app/node_api/routes.hpp"

namespace keel::app::node_api {

using http::HttpRequest;
using http::HttpResponse;

namespace {

struct Verifications {
    std::uint64_t run_id = 0;
    bool running = false;
    json steps = json::array();
    // The last runs' outcomes, newest first ("was it ever green?"); the last 20.
    std::deque<json> recent;

    // Claimed synchronously by the POST handler, so two requests cannot both start a run.
    std::uint64_t claim() {
        running = true;
        steps = json::array();
        return ++run_id;
    }
    // Kept as they progress, so GET /api/v1/diagnostics mid-run shows the run so far.
    void progress(const json& step, std::size_t index) {
        if (steps.size() <= index)
            steps.push_back(step);
        else
            steps[index] = step;
    }
    void finished(json summary_of_run) {
        running = false;
        recent.push_front(std::move(summary_of_run));
        if (recent.size() > 20) recent.pop_back();
    }
};

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// `steps_wanted`: all six for diagnostics, the first three for the discovery test.
net::awaitable<json> run_verification(NodeContext* n, std::shared_ptr<Verifications> runs,
                                      std::uint64_t run_id, std::size_t steps_wanted) {
    health::VerifierConfig config = n->verifier;
    for (const auto& b : n->monitor.snapshot())
        if (b.health.peer_id) config.bootstrap_peers.push_back(*b.health.peer_id);
    auto verifier = std::make_shared<health::DiscoveryVerifier>(n->host, n->dht, config);
    auto progress = [n, runs, run_id, steps_wanted](const health::VerificationStep& step,
                                                    std::size_t index) {
        auto j = step_to_json(step);
        runs->progress(j, index);
        j["run_id"] = run_id;
        j["index"] = index;
        j["of"] = steps_wanted;
        n->events.publish("verification", http::json_text(j));
    };
    auto steps = co_await verifier->run(progress, steps_wanted);
    json list = json::array();
    json statuses = json::array();
    double took_ms = 0;
    for (const auto& step : steps) {
        list.push_back(step_to_json(step));
        statuses.push_back(health::status_name(step.status));
        took_ms += step.duration_ms;
    }
    runs->steps = list;
    // ok: every step passed; result also tells "too few peers to check" from a failure.
    auto result = std::string(health::overall_result(steps));
    const auto finished_ms = now_ms();
    runs->finished({{"run_id", run_id},
                    {"finished_ms", finished_ms},
                    {"duration_ms", took_ms},
                    {"result", result},
                    {"statuses", statuses}});
    json summary{{"run_id", run_id},           {"ok", result == "passed"}, {"result", result},
                 {"finished_ms", finished_ms}, {"duration_ms", took_ms},   {"steps", list}};
    n->events.publish("verification_done", http::json_text(summary));
    co_return summary;
}

net::awaitable<HttpResponse> test_discovery(NodeContext* n, std::shared_ptr<Verifications> runs) {
    if (runs->running) co_return http::json_error(409, "a verification is already running");
    auto run_id = runs->claim();
    auto summary = co_await run_verification(n, runs, run_id, 3);
    co_return ok(summary);
}

net::awaitable<HttpResponse> start_diagnostics(NodeContext* n, std::shared_ptr<Verifications> runs,
                                               HttpRequest req) {
    if (runs->running) co_return http::json_error(409, "diagnostics already running");
    auto run_id = runs->claim();
    constexpr auto all_steps = health::DiscoveryVerifier::step_count;
    if (req.query.find("wait=1") != std::string::npos) {
        auto summary = co_await run_verification(n, runs, run_id, all_steps);
        co_return ok(summary);
    }
    auto task = [n, runs, run_id]() -> net::awaitable<void> {
        co_await run_verification(n, runs, run_id, all_steps);
    };
    net::asio::co_spawn(n->host.get_executor(), task, net::asio::detached);
    co_return ok({{"run_id", run_id}, {"events", "/api/v1/events"}}, 202);
}

}  // namespace

void install_verification_routes(http::HttpServer& server, NodeContext& node) {
    auto* n = &node;
    auto runs = std::make_shared<Verifications>();
    server.route("POST", "/api/v1/discovery/test",
                 [n, runs](HttpRequest) { return test_discovery(n, runs); });
    server.route("POST", "/api/v1/diagnostics",
                 [n, runs](HttpRequest req) { return start_diagnostics(n, runs, std::move(req)); });
    server.route("GET", "/api/v1/diagnostics", [runs](HttpRequest) -> net::awaitable<HttpResponse> {
        co_return ok({{"run_id", runs->run_id},
                      {"running", runs->running},
                      {"steps", runs->steps},
                      {"recent", json(runs->recent)}});
    });
}

}  // namespace keel::app::node_api
