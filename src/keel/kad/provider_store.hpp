#pragma once
// Provider records: who says it has the content under a key, until when. Bounded per key, per
// provider, in keys and in bytes, so that a flood of ADD_PROVIDER costs at most a configured
// amount of memory (docs/security.md). The rule when full: new records are refused, held ones are
// never evicted (they were acknowledged to their providers); expiry makes room.
#include <cstdint>
#include <map>
#include <vector>

#include "keel/crypto/peer_id.hpp"
#include "keel/multiaddr/multiaddr.hpp"

namespace keel::kad {

inline constexpr std::int64_t provider_validity_ms = 48LL * 3600 * 1000;   // spec: 48 h
inline constexpr std::int64_t provider_republish_ms = 22LL * 3600 * 1000;  // spec: 22 h
// Addresses kept in one provider record (a node's public ones: IPv4, IPv6, a relay or two).
inline constexpr std::size_t max_addrs_per_provider = 8;

struct ProviderEntry {
    PeerId provider;
    std::vector<Multiaddr> addrs;
    std::int64_t expires_ms = 0;  // unix time
};

struct ProviderStoreLimits {
    std::size_t max_providers_per_key = 64;
    std::size_t max_keys = 200'000;
    // What all records may cost (the accounting of entry_cost(), which is close to the heap
    // they take): 64 MiB holds ~300,000 records with two addresses each.
    std::size_t max_bytes = 64 * 1024 * 1024;
    // Records one provider may hold here: a real node reaches a given server with a small share
    // of its keys (the server is among the 20 closest for ~20/N of them).
    std::size_t max_per_provider = 10'000;
};

// Why add() refused a record.
enum class ProviderRefusal { none, key_full, keys, bytes, provider_full };

class ProviderStore {
  public:
    explicit ProviderStore(ProviderStoreLimits limits = {}) : limits_(limits) {}

    // False when a limit refuses it (see refusal()). A provider already listed under the key is
    // refreshed (moved to the front) whatever the limits.
    bool add(const Bytes& key, ProviderEntry entry);
    // The limit that refused the last add(), or none.
    ProviderRefusal last_refusal() const { return last_refusal_; }
    // Takes back a record (its write failed: it must not be served as if it were stored).
    void remove(const Bytes& key, const PeerId& provider);
    // Unexpired providers, most recently added first, at most `limit`.
    std::vector<ProviderEntry> get(const Bytes& key, std::int64_t now_ms,
                                   std::size_t limit = 20) const;
    std::size_t remove_expired(std::int64_t now_ms);
    std::size_t key_count() const { return by_key_.size(); }
    std::size_t record_count() const;
    std::size_t bytes() const { return bytes_; }
    const ProviderStoreLimits& limits() const { return limits_; }
    // The bytes one record is accounted for: its key, provider, addresses and the containers'
    // overhead.
    static std::size_t entry_cost(const Bytes& key, const ProviderEntry& entry);

  private:
    void forget(const Bytes& key, const ProviderEntry& entry);

    ProviderStoreLimits limits_;
    std::map<Bytes, std::vector<ProviderEntry>> by_key_;  // back: newest
    std::map<PeerId, std::size_t> per_provider_;          // records held per provider
    std::size_t bytes_ = 0;
    ProviderRefusal last_refusal_ = ProviderRefusal::none;
};

}  // namespace keel::kad
