// Scenario 3: two client nodes find each other's content through the DHT. Two `keel bootstrap`
// processes know each other; node A joins through B1, node B through B2 (so that, for each node,
// the other bootstrap is a peer found through the DHT, not one it was told about). A announces a
// key (POST /api/v1/providers); B polls POST /api/v1/providers/find until A is listed: under 5 s.
// Then the six-step verification (POST /api/v1/diagnostics?wait=1) passes on both nodes.

#include "scenario/scenario_support.hpp"

namespace keel::test::scenario {
namespace {

bool lists_provider(const json& answer, const std::string& peer_id) {
    if (!answer.contains("providers") || !answer["providers"].is_array()) return false;
    for (const auto& p : answer["providers"])
        if (p.is_object() && p.value("peer_id", json()) == peer_id) return true;
    return false;
}

TEST_F(ScenarioTest, Scenario3_ProviderVisibleAcrossNodesAndSixStepVerificationPasses) {
    KeelProcess *b1 = nullptr, *b2 = nullptr;
    ASSERT_TRUE(start_bootstrap_pair(b1, b2));
    auto* a = start_node("a", {b1->addr});
    ASSERT_TRUE(a);
    auto* b = start_node("b", {b2->addr});
    ASSERT_TRUE(b);
    json last;
    ASSERT_TRUE(wait_all_healthy(*a, {b1->peer_id}, 60s, last)) << "A: " << last.dump(2);
    ASSERT_TRUE(wait_all_healthy(*b, {b2->peer_id}, 60s, last)) << "B: " << last.dump(2);

    // A announces; B looks it up until A is listed.
    const std::string key = "scenario3-" + tmp_.filename().string();
    std::string why;
    auto posted_at = Clock::now();
    auto published = api_json(*a, "POST", "/api/v1/providers", json{{"key", key}}, 60s, &why);
    auto publish_took = Clock::now() - posted_at;
    ASSERT_TRUE(published) << why;
    figure("scenario3", "provide_ms", num(millis(publish_took), 1), {},
           "sent=" + published->value("sent", json()).dump() +
               " acknowledged=" + published->value("acknowledged", json()).dump());
    ASSERT_EQ(published->value("ok", false), true) << published->dump();
    EXPECT_GE(published->value("acknowledged", 0), 1) << published->dump();

    int polls = 0;
    json answer;
    Clock::time_point seen_at{};
    bool seen = poll_until(
        [&] {
            ++polls;
            auto j = api_json(*b, "POST", "/api/v1/providers/find", json{{"key", key}}, 60s, &why);
            if (!j) return false;
            answer = *j;
            if (!lists_provider(*j, a->peer_id)) return false;
            seen_at = Clock::now();
            return true;
        },
        30s, 10ms);
    ASSERT_TRUE(seen) << "B never listed A as a provider of " << key
                      << " within 30 s; last: " << answer.dump(2) << " " << why;
    auto visible = seen_at - posted_at;
    figure("scenario3", "provider_visible_after_post_s", num(seconds(visible), 3), "<5",
           "after_provide_answered_ms=" + num(millis(seen_at - posted_at - publish_took), 1) +
               " polls=" + std::to_string(polls) +
               " lookup_elapsed_ms=" + num(answer.value("elapsed_ms", 0.0), 1));
    EXPECT_LT(visible, 5s);

    // The six steps, on A then on B.
    for (auto* node : {a, b}) {
        const std::string who = node == a ? "A" : "B";
        auto started = Clock::now();
        auto result = api_json(*node, "POST", "/api/v1/diagnostics?wait=1", nullptr, 120s, &why);
        ASSERT_TRUE(result) << who << ": " << why;
        figure("scenario3", "diagnostics_" + who + "_total_ms",
               num(millis(Clock::now() - started), 1), {},
               "ok=" + result->value("ok", json()).dump());
        ASSERT_TRUE(result->contains("steps") && (*result)["steps"].is_array()) << result->dump();
        EXPECT_EQ((*result)["steps"].size(), 6u) << result->dump(2);
        for (const auto& step : (*result)["steps"]) {
            auto id = step.value("id", "?");
            auto status = step.value("status", "?");
            figure("scenario3", "diagnostics_" + who + "_" + id + "_ms",
                   num(step.value("duration_ms", 0.0), 1), {},
                   "status=" + status + " detail=\"" + step.value("detail", "") + "\"");
            EXPECT_EQ(status, "passed") << who << " step " << id << ": " << step.value("detail", "")
                                        << " — remedy: " << step.value("remedy", "");
        }
        EXPECT_EQ(result->value("ok", false), true) << who << ": " << result->dump(2);
    }
}

}  // namespace
}  // namespace keel::test::scenario
