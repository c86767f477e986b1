// What a /keel/health answer or a GET /metrics spends counting a full provider store's records
// (200,000 keys, the default max_keys, one record each): both report record_count().
#include <benchmark/benchmark.h>

#include "keel/crypto/ed25519.hpp"
#include "keel/kad/provider_store.hpp"

namespace {

const keel::kad::ProviderStore& full_store() {
    static const keel::kad::ProviderStore store = [] {
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
    }();
    return store;
}

void BM_RecordCount(benchmark::State& state) {
    const auto& store = full_store();
    for (auto _ : state) benchmark::DoNotOptimize(store.record_count());
    state.counters["records"] = static_cast<double>(store.record_count());
}
BENCHMARK(BM_RecordCount)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
