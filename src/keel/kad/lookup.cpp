#include "keel/kad/lookup.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "keel/net/task_group.hpp"

namespace keel::kad {

namespace asio = net::asio;
using net::awaitable;

namespace {

enum class QueryState { fresh, waiting, answered, failed };

struct Candidate {
    PeerId id;
    std::vector<Multiaddr> addrs;
    QueryState state = QueryState::fresh;
    int hop = 0;
};

// Shared by the lookup and its queries, which may outlive it by a few handlers (the lookup's end
// cancels them): they read `stop` before touching anything else.
struct LookupState {
    explicit LookupState(LookupHooks hooks) : hooks(std::move(hooks)) {}
    LookupHooks hooks;
    std::map<KadKey, Candidate> by_distance;  // XOR distance orders the candidates
    std::set<PeerId> seen;
    std::size_t in_flight = 0;
    bool stop = false;
    LookupResult counts;  // queried, failed, hops
};

awaitable<void> query(std::shared_ptr<LookupState> state, const KadKey target, Candidate* c,
                      KadMessage message) {
    auto answer = co_await state->hooks.request(c->id, message, c->addrs);
    --state->in_flight;
    if (state->stop || (state->hooks.running && !state->hooks.running())) co_return;
    if (!answer) {
        c->state = QueryState::failed;
        ++state->counts.failed;
        co_return;
    }
    c->state = QueryState::answered;
    ++state->counts.queried;
    state->counts.hops = std::max(state->counts.hops, c->hop + 1);
    for (auto& p : answer->closer_peers) {
        if (state->hooks.on_referral) state->hooks.on_referral(c->id, p);
        if (!state->seen.insert(p.id).second) continue;
        state->by_distance.emplace(distance(target, kad_key(p.id)),
                                   Candidate{p.id, p.addrs, QueryState::fresh, c->hop + 1});
    }
    if (state->hooks.on_response && state->hooks.on_response(c->id, *answer)) state->stop = true;
}

}  // namespace

awaitable<LookupResult> run_lookup(asio::any_io_executor executor, KadKey target, PeerId self,
                                   std::vector<PeerId> seeds, KadMessage message,
                                   LookupParams params, LookupHooks hooks) {
    auto state = std::make_shared<LookupState>(std::move(hooks));
    struct StopOnExit {
        std::shared_ptr<LookupState> state;
        ~StopOnExit() { state->stop = true; }
    } stop_on_exit{state};
    // Destroyed before the guard: however the lookup ends, the queries in flight are cancelled.
    net::TaskGroup queries(executor);
    state->seen.insert(self);
    for (auto& id : seeds) {
        if (!state->seen.insert(id).second) continue;
        auto d = distance(target, kad_key(id));  // before `id` is moved
        state->by_distance.emplace(d, Candidate{std::move(id), {}, QueryState::fresh, 0});
    }
    auto running = [&] { return !state->hooks.running || state->hooks.running(); };

    auto deadline = net::Clock::now() + params.timeout;
    while (!state->stop && running()) {
        // Done when the k closest peers that did not fail have all answered.
        bool settled = true;
        std::vector<Candidate*> to_query;
        std::size_t considered = 0;
        for (auto& [d, c] : state->by_distance) {
            if (c.state == QueryState::failed) continue;
            if (considered++ >= params.k) break;
            if (c.state != QueryState::answered) settled = false;
            if (c.state == QueryState::fresh && state->in_flight + to_query.size() < params.alpha)
                to_query.push_back(&c);
        }
        if (settled && state->in_flight == 0) break;
        for (auto* c : to_query) {
            c->state = QueryState::waiting;
            ++state->in_flight;
            queries.spawn(query(state, target, c, message));
        }
        if (state->in_flight == 0) {
            // Queries may complete before co_spawn returns (it starts them inline): look again.
            if (!to_query.empty()) continue;
            break;  // nothing left to ask
        }
        if (net::Clock::now() >= deadline) break;
        const auto asking = state->in_flight;
        auto one_ended = [&] { return state->in_flight < asking; };
        co_await queries.until(one_ended, deadline);
    }
    state->stop = true;
    LookupResult out = state->counts;
    for (const auto& [d, c] : state->by_distance)
        if (c.state == QueryState::answered && out.closest.size() < params.k)
            out.closest.push_back(c.id);
    co_return out;
}

}  // namespace keel::kad
