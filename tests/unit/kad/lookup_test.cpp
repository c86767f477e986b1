// The iterative lookup on a fake network: 200 peers, each with a Kademlia routing table (up to
// k per bucket) over the others, answering FIND_NODE from it. No sockets, one thread; silent
// peers answer after a short timer or never. The lookup must find the true k closest peers that
// answer (all but what only silent peers knew), whatever lying peers say, and end at its deadline
// when nobody answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "kad_test_util.hpp"
#include "keel/kad/lookup.hpp"
#include "keel/net/net_errc.hpp"

namespace keel::kad {
namespace {

namespace asio = net::asio;
using namespace std::chrono_literals;
using test::peer;

enum class Behaviour { honest, slow_then_fails, never_answers, lies };

class FakeNetwork {
  public:
    explicit FakeNetwork(std::uint32_t size, std::size_t k = 20) : k_(k) {
        for (std::uint32_t i = 1; i <= size; ++i) peers_.push_back(peer(i));
        // Each peer's table: per common-prefix length with it, the first k peers in index order.
        for (const auto& self : peers_) {
            std::map<int, std::vector<PeerId>> buckets;
            for (const auto& other : peers_) {
                if (other == self) continue;
                auto& bucket = buckets[common_prefix_length(kad_key(self), kad_key(other))];
                if (bucket.size() < k_) bucket.push_back(other);
            }
            auto& table = tables_[self];
            for (auto& [cpl, bucket] : buckets)
                table.insert(table.end(), bucket.begin(), bucket.end());
        }
    }

    const std::vector<PeerId>& peers() const { return peers_; }
    void set(const PeerId& p, Behaviour b) { behaviour_[p] = b; }
    std::size_t asked(const PeerId& p) const { return asked_.count(p) ? asked_.at(p) : 0; }
    std::size_t total_asked() const {
        std::size_t n = 0;
        for (const auto& [p, count] : asked_) n += count;
        return n;
    }

    // The k peers of `table` closest to `target`.
    std::vector<PeerId> closest(std::vector<PeerId> table, const KadKey& target) const {
        std::sort(table.begin(), table.end(), [&](const PeerId& a, const PeerId& b) {
            return closer(target, kad_key(a), kad_key(b));
        });
        if (table.size() > k_) table.resize(k_);
        return table;
    }
    // What the lookup should end with: the k closest of the peers that answer, `self` aside.
    std::vector<PeerId> expected(const KadKey& target, const PeerId& self) const {
        std::vector<PeerId> answering;
        for (const auto& p : peers_)
            if (p != self && behaviour(p) != Behaviour::slow_then_fails &&
                behaviour(p) != Behaviour::never_answers)
                answering.push_back(p);
        return closest(answering, target);
    }

    LookupHooks hooks() {
        LookupHooks h;
        h.request = [this](
                        const PeerId& p, const KadMessage& m,
                        const std::vector<Multiaddr>&) -> net::awaitable<net::result<KadMessage>> {
            ++asked_[p];
            auto ex = co_await asio::this_coro::executor;
            if (!tables_.count(p))  // a peer a liar made up: nobody there
                co_return make_error_code(net::net_errc::no_addresses);
            switch (behaviour(p)) {
                case Behaviour::slow_then_fails: {
                    asio::steady_timer t(ex, 20ms);
                    co_await t.async_wait(net::use_result);
                    co_return make_error_code(net::net_errc::timeout);
                }
                case Behaviour::never_answers: {
                    asio::steady_timer t(ex, 1h);
                    co_await t.async_wait(net::use_result);
                    co_return make_error_code(net::net_errc::timeout);
                }
                case Behaviour::lies: {
                    // Far peers, and peers that do not exist, instead of the closest it knows.
                    KadMessage answer;
                    answer.type = m.type;
                    auto far = closest(tables_.at(p), distance(kad_key(m.key), KadKey{}));
                    for (const auto& f : far) answer.closer_peers.push_back(KadPeer{f, {}, false});
                    for (std::uint32_t i = 0; i < 5; ++i)
                        answer.closer_peers.push_back(KadPeer{peer(100'000 + i), {}, false});
                    co_return answer;
                }
                case Behaviour::honest:
                    break;
            }
            KadMessage answer;
            answer.type = m.type;
            for (const auto& c : closest(tables_.at(p), kad_key(m.key)))
                answer.closer_peers.push_back(KadPeer{c, {}, false});
            co_return answer;
        };
        return h;
    }

  private:
    Behaviour behaviour(const PeerId& p) const {
        auto it = behaviour_.find(p);
        return it == behaviour_.end() ? Behaviour::honest : it->second;
    }
    std::size_t k_;
    std::vector<PeerId> peers_;
    std::map<PeerId, std::vector<PeerId>> tables_;
    std::map<PeerId, Behaviour> behaviour_;
    std::map<PeerId, std::size_t> asked_;
};

struct Run {
    LookupResult result;
    net::Clock::duration took{};
};

Run lookup(FakeNetwork& net, const PeerId& self, const Bytes& key, LookupParams params = {},
           std::function<bool(const PeerId&, const KadMessage&)> on_response = {}) {
    asio::io_context io;
    KadMessage m;
    m.type = MessageType::find_node;
    m.key = key;
    auto hooks = net.hooks();
    hooks.on_response = std::move(on_response);
    // Seeds: what `self`'s own table holds closest to the key.
    auto seeds = net.closest(
        [&] {
            std::vector<PeerId> others;
            for (const auto& p : net.peers())
                if (p != self) others.push_back(p);
            return others;
        }(),
        distance(kad_key(self), KadKey{}));  // some peers, not the closest to the key
    seeds.resize(3);
    std::optional<LookupResult> out;
    auto t0 = net::Clock::now();
    asio::co_spawn(io, run_lookup(io.get_executor(), kad_key(key), self, seeds, m, params, hooks),
                   [&](std::exception_ptr e, LookupResult r) {
                       if (!e) out = std::move(r);
                   });
    while (!out && io.run_one_for(5s)) {
    }
    Run run{out.value_or(LookupResult{}), net::Clock::now() - t0};
    EXPECT_TRUE(out.has_value()) << "the lookup did not end";
    return run;
}

Bytes key_of(int n) {
    return to_bytes("lookup-key-" + std::to_string(n));
}

TEST(Lookup, ConvergesOnTheTrueClosestPeers) {
    FakeNetwork net(200);
    for (int n = 0; n < 10; ++n) {
        auto self = net.peers()[static_cast<std::size_t>(n)];
        auto run = lookup(net, self, key_of(n));
        EXPECT_EQ(run.result.closest, net.expected(kad_key(key_of(n)), self)) << "key " << n;
        EXPECT_EQ(run.result.failed, 0u);
        EXPECT_GE(run.result.hops, 2) << "seeds are not the closest: it must follow referrals";
    }
    // Far fewer than everyone is asked (ten lookups, 200 peers each).
    EXPECT_LT(net.total_asked(), 10u * 100);
}

TEST(Lookup, SilentPeersAreRoutedAroundAndCounted) {
    FakeNetwork net(200);
    for (std::size_t i = 0; i < net.peers().size(); i += 4)
        net.set(net.peers()[i], Behaviour::slow_then_fails);  // one in four
    auto self = net.peers()[1];
    auto run = lookup(net, self, key_of(42));
    auto want = net.expected(kad_key(key_of(42)), self);
    // Kademlia routes around failures, up to what only the silent peers knew: the closest ten
    // are exact, and at least 18 of the true 20 are found; every peer returned answered.
    ASSERT_EQ(run.result.closest.size(), want.size());
    EXPECT_TRUE(std::equal(want.begin(), want.begin() + 10, run.result.closest.begin()));
    std::size_t found = 0;
    for (const auto& p : run.result.closest)
        if (std::find(want.begin(), want.end(), p) != want.end()) ++found;
    EXPECT_GE(found, 18u);
    EXPECT_GT(run.result.failed, 0u);
}

TEST(Lookup, LiarsDoNotMisleadIt) {
    FakeNetwork net(200);
    for (std::size_t i = 2; i < net.peers().size(); i += 5)
        net.set(net.peers()[i], Behaviour::lies);
    auto self = net.peers()[1];
    for (int n = 0; n < 5; ++n) {
        auto run = lookup(net, self, key_of(100 + n));
        EXPECT_EQ(run.result.closest, net.expected(kad_key(key_of(100 + n)), self)) << "key " << n;
    }
    // The made-up peers were tried and failed, and nobody asked `self`.
    EXPECT_EQ(net.asked(self), 0u);
}

TEST(Lookup, AnAnswerCanEndItEarly) {
    FakeNetwork net(200);
    auto self = net.peers()[0];
    std::size_t answers = 0;
    auto run = lookup(net, self, key_of(7), {},
                      [&](const PeerId&, const KadMessage&) { return ++answers == 2; });
    EXPECT_EQ(answers, 2u);
    EXPECT_LE(run.result.queried, 2u);
    EXPECT_LT(net.total_asked(), 10u);
}

TEST(Lookup, EndsAtItsDeadlineWhenNobodyAnswers) {
    FakeNetwork net(50);
    for (const auto& p : net.peers()) net.set(p, Behaviour::never_answers);
    LookupParams params;
    params.timeout = 300ms;
    auto run = lookup(net, net.peers()[0], key_of(1), params);
    EXPECT_TRUE(run.result.closest.empty());
    EXPECT_GE(run.took, 300ms);
    EXPECT_LT(run.took, 5s);
    // alpha at a time: the three seeds, nobody else.
    EXPECT_EQ(net.total_asked(), 3u);
}

}  // namespace
}  // namespace keel::kad
