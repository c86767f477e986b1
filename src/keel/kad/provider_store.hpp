#pragma once
// Provider records: who says it has the content under a key, until when. Bounded per key and in
// total so that a flood of ADD_PROVIDER costs a fixed amount of memory.
#include <cstdint>
#include <map>
#include <vector>

#include "keel/crypto/peer_id.hpp"
#include "keel/multiaddr/multiaddr.hpp"

namespace keel::kad {

inline constexpr std::int64_t provider_validity_ms = 48LL * 3600 * 1000;   // spec: 48 h
inline constexpr std::int64_t provider_republish_ms = 22LL * 3600 * 1000;  // spec: 22 h

struct ProviderEntry {
    PeerId provider;
    std::vector<Multiaddr> addrs;
    std::int64_t expires_ms = 0;  // unix time
};

struct ProviderStoreLimits {
    std::size_t max_providers_per_key = 64;
    std::size_t max_keys = 200'000;
};

class ProviderStore {
  public:
    explicit ProviderStore(ProviderStoreLimits limits = {}) : limits_(limits) {}

    // False when a limit refuses it (the key is new and the store is full, or the key is full
    // and this provider is not already in it).
    bool add(const Bytes& key, ProviderEntry entry);
    // Unexpired providers, most recently added first, at most `limit`.
    std::vector<ProviderEntry> get(const Bytes& key, std::int64_t now_ms,
                                   std::size_t limit = 20) const;
    std::size_t remove_expired(std::int64_t now_ms);
    std::size_t key_count() const { return by_key_.size(); }
    std::size_t record_count() const;

  private:
    ProviderStoreLimits limits_;
    std::map<Bytes, std::vector<ProviderEntry>> by_key_;  // back: newest
};

}  // namespace keel::kad
