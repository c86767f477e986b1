// The discovery verifier without a network: step statuses and the verdict on a run, the wording
// helpers its steps share, and a run on a node that knows nobody (which steps fail, which are
// skipped, and how progress is reported).
#include "keel/health/discovery_verifier.hpp"

#include <gtest/gtest.h>

#include <array>

#include "keel/crypto/ed25519.hpp"
#include "keel/health/verifier_support.hpp"
#include "support/net_test_util.hpp"

namespace keel::health {
namespace {

namespace asio = net::asio;
using Status = VerificationStep::Status;
using net::awaitable;
using net::test::run;

PeerId some_peer() {
    return PeerId::from_public_key(Ed25519KeyPair::generate().public_key());
}

std::vector<VerificationStep> steps_with(std::initializer_list<Status> statuses) {
    std::vector<VerificationStep> steps;
    for (auto s : statuses) {
        VerificationStep step;
        step.status = s;
        steps.push_back(step);
    }
    return steps;
}

TEST(DiscoveryVerifier, StatusNames) {
    EXPECT_EQ(status_name(Status::pending), "pending");
    EXPECT_EQ(status_name(Status::running), "running");
    EXPECT_EQ(status_name(Status::passed), "passed");
    EXPECT_EQ(status_name(Status::failed), "failed");
    EXPECT_EQ(status_name(Status::skipped), "skipped");
    EXPECT_EQ(status_name(Status::not_enough_peers), "not_enough_peers");
}

TEST(DiscoveryVerifier, OverallResultPassesOnlyWhenEveryStepPassed) {
    EXPECT_EQ(overall_result(steps_with({Status::passed, Status::passed, Status::passed})),
              "passed");
    EXPECT_EQ(overall_result(steps_with({Status::passed, Status::failed, Status::passed})),
              "failed");
    EXPECT_EQ(overall_result(steps_with({Status::passed, Status::skipped})), "failed");
    // A run that did not finish is no pass either.
    EXPECT_EQ(overall_result(steps_with({Status::passed, Status::running})), "failed");
    EXPECT_EQ(overall_result(steps_with({Status::passed, Status::pending})), "failed");
}

TEST(DiscoveryVerifier, OverallResultNotEnoughPeersIsNeitherPassNorFailure) {
    EXPECT_EQ(overall_result(steps_with({Status::passed, Status::not_enough_peers})),
              "not_enough_peers");
    EXPECT_EQ(overall_result(steps_with({Status::not_enough_peers, Status::not_enough_peers})),
              "not_enough_peers");
    // But a failure anywhere is a failure.
    EXPECT_EQ(overall_result(steps_with({Status::not_enough_peers, Status::failed})), "failed");
    EXPECT_EQ(overall_result(steps_with({Status::failed, Status::not_enough_peers})), "failed");
    EXPECT_EQ(overall_result(steps_with({Status::not_enough_peers, Status::skipped})), "failed");
}

// ---- what the steps share (verifier_support.hpp) ----------------------------------------------

TEST(VerifierSupport, FormatsMillisecondsWithTwoDecimals) {
    EXPECT_EQ(verifier::format_ms(1.234), "1.23");
    EXPECT_EQ(verifier::format_ms(0.0), "0.00");
    EXPECT_EQ(verifier::format_ms(1500.0), "1500.00");
    EXPECT_EQ(verifier::format_ms(std::chrono::microseconds(2500)), "2.50");
    EXPECT_EQ(verifier::format_ms(std::chrono::seconds(2)), "2000.00");
}

TEST(VerifierSupport, MillisecondsBetweenTwoInstants) {
    auto t0 = net::Clock::now();
    EXPECT_DOUBLE_EQ(verifier::ms_between(t0, t0 + std::chrono::microseconds(1500)), 1.5);
    EXPECT_DOUBLE_EQ(verifier::ms_between(t0, t0), 0.0);
}

TEST(VerifierSupport, Plural) {
    EXPECT_EQ(verifier::plural(0, "peer", "peers"), "0 peers");
    EXPECT_EQ(verifier::plural(1, "peer", "peers"), "1 peer");
    EXPECT_EQ(verifier::plural(2, "peer", "peers"), "2 peers");
    EXPECT_EQ(verifier::plural(1, "open connection", "open connections"), "1 open connection");
}

TEST(VerifierSupport, ShortListShowsTheFirstFewThenAnEllipsis) {
    std::vector<PeerId> peers;
    for (int i = 0; i < 5; ++i) peers.push_back(some_peer());
    EXPECT_EQ(verifier::short_list({}, 3), "");
    EXPECT_EQ(verifier::short_list({peers[0]}, 3), peers[0].short_string());
    EXPECT_EQ(
        verifier::short_list({peers[0], peers[1], peers[2]}, 3),
        peers[0].short_string() + ", " + peers[1].short_string() + ", " + peers[2].short_string());
    EXPECT_EQ(verifier::short_list(peers, 2),
              peers[0].short_string() + ", " + peers[1].short_string() + ", …");
    EXPECT_EQ(verifier::short_list(peers, 0), ", …");
}

TEST(VerifierSupport, OutcomesCarryTheirStatusDetailAndRemedy) {
    auto passed = verifier::pass("3 peers");
    EXPECT_EQ(passed.status, Status::passed);
    EXPECT_EQ(passed.detail, "3 peers");
    EXPECT_TRUE(passed.remedy.empty());
    auto failed = verifier::fail("nobody", "try again");
    EXPECT_EQ(failed.status, Status::failed);
    EXPECT_EQ(failed.detail, "nobody");
    EXPECT_EQ(failed.remedy, "try again");
    auto short_of_peers = verifier::not_enough_peers("only us", "start another node");
    EXPECT_EQ(short_of_peers.status, Status::not_enough_peers);
    EXPECT_EQ(short_of_peers.detail, "only us");
    EXPECT_EQ(short_of_peers.remedy, "start another node");
}

// ---- a run on a node that knows nobody --------------------------------------------------------

struct Report {
    std::size_t index;
    Status status;
};

TEST(DiscoveryVerifier, NodeThatKnowsNobodyFailsAndSkipsWhatNeedsPeers) {
    run([]() -> awaitable<void> {
        Host host(co_await asio::this_coro::executor, HostConfig(Ed25519KeyPair::generate()));
        kad::Dht dht(host, kad::DhtConfig{});
        DiscoveryVerifier check(host, dht);
        std::vector<Report> reports;
        DiscoveryVerifier::Progress progress = [&](const VerificationStep& step, std::size_t i) {
            reports.push_back({i, step.status});
        };
        auto steps = co_await check.run(progress);
        KEEL_CO_ASSERT(steps.size() == DiscoveryVerifier::step_count);

        const std::vector<std::string> ids{"routing_table", "publish",      "fetch_remote",
                                           "list_peers",    "reachability", "provider_visible"};
        for (std::size_t i = 0; i < steps.size(); ++i) {
            EXPECT_EQ(steps[i].id, ids[i]);
            EXPECT_FALSE(steps[i].title.empty()) << i;
        }
        // 1 fails; 2, 3 and 6 need DHT peers, so they are skipped with step 1's remedy.
        EXPECT_EQ(steps[0].status, Status::failed);
        EXPECT_FALSE(steps[0].remedy.empty());
        const std::array<std::size_t, 3> need_peers{1, 2, 5};
        for (std::size_t i : need_peers) {
            EXPECT_EQ(steps[i].status, Status::skipped) << i;
            EXPECT_EQ(steps[i].remedy, steps[0].remedy) << i;
            EXPECT_NE(steps[i].detail.find("step 1"), std::string::npos) << steps[i].detail;
        }
        // 4 and 5 still run, and find nobody.
        EXPECT_EQ(steps[3].status, Status::failed);
        EXPECT_EQ(steps[3].remedy, verifier::no_peers_remedy);
        EXPECT_EQ(steps[4].status, Status::failed);
        EXPECT_FALSE(steps[4].remedy.empty());
        EXPECT_EQ(overall_result(steps), "failed");

        // A skipped step is reported once; a step that runs twice, running then its result.
        std::vector<std::pair<std::size_t, Status>> seen;
        for (const auto& r : reports) seen.emplace_back(r.index, r.status);
        const std::vector<std::pair<std::size_t, Status>> expected{
            {0, Status::running}, {0, Status::failed},  {1, Status::skipped},
            {2, Status::skipped}, {3, Status::running}, {3, Status::failed},
            {4, Status::running}, {4, Status::failed},  {5, Status::skipped}};
        EXPECT_EQ(seen, expected);
    });
}

TEST(DiscoveryVerifier, RunsOnlyTheStepsAskedFor) {
    run([]() -> awaitable<void> {
        Host host(co_await asio::this_coro::executor, HostConfig(Ed25519KeyPair::generate()));
        kad::Dht dht(host, kad::DhtConfig{});
        DiscoveryVerifier check(host, dht);
        auto steps = co_await check.run({}, 3);
        KEEL_CO_ASSERT(steps.size() == 3u);
        EXPECT_EQ(steps[0].id, "routing_table");
        EXPECT_EQ(steps[2].id, "fetch_remote");
        EXPECT_EQ(steps[2].status, Status::skipped);
        // More than there are is all of them.
        auto all = co_await check.run({}, DiscoveryVerifier::step_count + 4);
        EXPECT_EQ(all.size(), DiscoveryVerifier::step_count);
    });
}

}  // namespace
}  // namespace keel::health
