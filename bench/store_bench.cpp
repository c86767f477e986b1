// What the node's thread spends on a request against a full store:
// - one GET /api/v1/peers with a full peer store (50,000 peers, each with 4 addresses and 12
//   protocols, as identify leaves them): the whole store copied and sorted (all(), what the API
//   did) against the one page of 500 it answers (page());
// - counting a full provider store's records (200,000 keys, the default max_keys, one record
//   each), which every /keel/health answer and GET /metrics does.
#include <benchmark/benchmark.h>

#include "keel/crypto/ed25519.hpp"
#include "keel/host/peer_store.hpp"
#include "keel/kad/provider_store.hpp"

namespace {

using keel::Multiaddr;
using keel::PeerStore;

// Filled once, when a benchmark first asks (filling takes seconds).
template <class Store, class Fill>
const Store& filled_once(Fill fill) {
    static const Store store = fill();
    return store;
}

const PeerStore& full_peer_store() {
    return filled_once<PeerStore>([] {
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
    });
}

void BM_AllPeers(benchmark::State& state) {
    const auto& store = full_peer_store();
    for (auto _ : state) benchmark::DoNotOptimize(store.all());
}
BENCHMARK(BM_AllPeers)->Unit(benchmark::kMillisecond);

void BM_OnePage(benchmark::State& state) {
    const auto& store = full_peer_store();
    for (auto _ : state) benchmark::DoNotOptimize(store.page(store.size() / 2, 500));
}
BENCHMARK(BM_OnePage)->Unit(benchmark::kMillisecond);

const keel::kad::ProviderStore& full_provider_store() {
    return filled_once<keel::kad::ProviderStore>([] {
        keel::kad::ProviderStore s;
        // Each provider may hold max_per_provider records: 20 of them fill the keys.
        std::vector<keel::PeerId> providers;
        const std::int64_t expires = 48LL * 3600 * 1000;
        for (std::size_t i = 0; i < s.limits().max_keys; ++i) {
            if (i % s.limits().max_per_provider == 0)
                providers.push_back(
                    keel::PeerId::from_public_key(keel::Ed25519KeyPair::generate().public_key()));
            keel::Bytes key(32, 0);
            for (std::size_t b = 0; b < 8; ++b) key[b] = static_cast<std::uint8_t>(i >> (8 * b));
            s.add(key, keel::kad::ProviderEntry{providers.back(), {}, expires});
        }
        return s;
    });
}

void BM_RecordCount(benchmark::State& state) {
    const auto& store = full_provider_store();
    for (auto _ : state) benchmark::DoNotOptimize(store.record_count());
}
BENCHMARK(BM_RecordCount)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
