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
    // What all records may cost (the accounting of record_cost() and provider_cost(), at or
    // above the heap they take): 64 MiB holds ~340,000 records.
    std::size_t max_bytes = 64 * 1024 * 1024;
    // Records one provider may hold here: a real node reaches a given server with a small share
    // of its keys (the server is among the 20 closest for ~20/N of them).
    std::size_t max_per_provider = 10'000;
};

// Why add() refused a record.
enum class ProviderRefusal { none, key_full, keys, bytes, provider_full };

// A provider's addresses are kept once, not once per record (as go keeps them in its peer
// store): a peer that provides a thousand keys costs a thousand small records and one address
// list, the newest it announced. Fewer, smaller allocations also leave less heap fragmented
// after a flood (docs/security.md).
class ProviderStore {
  public:
    explicit ProviderStore(ProviderStoreLimits limits = {}) : limits_(limits) {}

    // False when a limit refuses it (see refusal()). A provider already listed under the key is
    // refreshed (moved to the front) whatever the limits. The entry's addresses, when it has
    // any, become the provider's addresses for all its records.
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
    // Kept as records come and go: /keel/health and GET /metrics ask for it on every request,
    // and walking 200,000 keys for it took 18 ms.
    std::size_t record_count() const { return records_; }
    std::size_t provider_count() const { return providers_.size(); }
    std::size_t bytes() const { return bytes_; }
    const ProviderStoreLimits& limits() const { return limits_; }
    // The bytes a record is accounted for (its key and the containers' overhead), and a
    // provider's address list (held once per provider).
    static std::size_t record_cost(const Bytes& key);
    static std::size_t provider_cost(const PeerId& provider, const std::vector<Multiaddr>& addrs);
    // A record from a provider not held yet: both.
    static std::size_t entry_cost(const Bytes& key, const ProviderEntry& entry) {
        return record_cost(key) + provider_cost(entry.provider, entry.addrs);
    }

  private:
    struct Provider {
        std::vector<Multiaddr> addrs;
        std::size_t records = 0;
    };
    using Providers = std::map<PeerId, Provider>;
    struct Record {
        Providers::iterator provider;  // map iterators stay valid until their node is erased
        std::int64_t expires_ms;
    };
    // Drops the record's share of its provider (and the provider with its last record).
    void forget(const Bytes& key, const Record& record);

    ProviderStoreLimits limits_;
    std::map<Bytes, std::vector<Record>> by_key_;  // back: newest
    Providers providers_;
    std::size_t bytes_ = 0;
    std::size_t records_ = 0;  // records under all keys
    ProviderRefusal last_refusal_ = ProviderRefusal::none;
};

}  // namespace keel::kad
