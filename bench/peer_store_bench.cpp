// What one GET /api/v1/peers costs the node's thread with a full peer store (50,000 peers, each
// with 4 addresses and 12 protocols, as identify leaves them): the whole store copied and sorted
// (all(), what the API did) against the one page of 500 it answers (page()).
#include <benchmark/benchmark.h>

#include "keel/crypto/ed25519.hpp"
#include "keel/host/peer_store.hpp"

namespace {

using keel::Multiaddr;
using keel::PeerStore;

const PeerStore& full_store() {
    static const PeerStore store = [] {
        PeerStore s;
        keel::protocols::IdentifyInfo identify;
        for (int i = 0; i < 4; ++i)
            identify.listen_addrs.push_back(
                *Multiaddr::parse("/ip4/203.0.113." + std::to_string(i + 1) + "/tcp/4001"));
        for (int i = 0; i < 12; ++i)
            identify.protocols.push_back("/keel/bench/" + std::to_string(i));
        identify.agent_version = "keel/0.1.0";
        for (std::size_t i = 0; i < s.max_peers(); ++i) {
            auto id = keel::PeerId::from_public_key(keel::Ed25519KeyPair::generate().public_key());
            s.apply_identify(id, identify);
        }
        return s;
    }();
    return store;
}

void BM_AllPeers(benchmark::State& state) {
    const auto& store = full_store();
    for (auto _ : state) benchmark::DoNotOptimize(store.all());
    state.counters["peers"] = static_cast<double>(store.size());
}
BENCHMARK(BM_AllPeers)->Unit(benchmark::kMillisecond);

void BM_OnePage(benchmark::State& state) {
    const auto& store = full_store();
    for (auto _ : state) benchmark::DoNotOptimize(store.page(store.size() / 2, 500));
    state.counters["peers"] = static_cast<double>(store.size());
}
BENCHMARK(BM_OnePage)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
