#include "keel/kad/provider_store.hpp"

#include <algorithm>

namespace keel::kad {

namespace {
// A vector slot per record and its key's map node (a key with one record pays for it all); a map
// node per provider: measured roughly with heap profiles, rounded up.
constexpr std::size_t overhead_per_record = 160;
constexpr std::size_t overhead_per_provider = 160;
}  // namespace

std::size_t ProviderStore::record_cost(const Bytes& key) {
    return overhead_per_record + key.size();
}

std::size_t ProviderStore::provider_cost(const PeerId& provider,
                                         const std::vector<Multiaddr>& addrs) {
    std::size_t n = overhead_per_provider + provider.bytes().size();
    for (const auto& a : addrs) n += sizeof(Multiaddr) + a.byte_size();
    return n;
}

void ProviderStore::forget(const Bytes& key, const Record& record) {
    --records_;
    bytes_ -= std::min(bytes_, record_cost(key));
    auto provider = record.provider;
    if (--provider->second.records == 0) {
        bytes_ -= std::min(bytes_, provider_cost(provider->first, provider->second.addrs));
        providers_.erase(provider);
    }
}

bool ProviderStore::add(const Bytes& key, ProviderEntry entry) {
    last_refusal_ = ProviderRefusal::none;
    auto refuse = [&](ProviderRefusal why) {
        last_refusal_ = why;
        return false;
    };
    auto it = by_key_.find(key);
    if (it == by_key_.end() && by_key_.size() >= limits_.max_keys)
        return refuse(ProviderRefusal::keys);
    auto held = providers_.find(entry.provider);
    bool listed = false;
    if (it != by_key_.end() && held != providers_.end())
        listed = std::any_of(it->second.begin(), it->second.end(),
                             [&](const Record& r) { return r.provider == held; });
    if (!listed) {
        if (it != by_key_.end() && it->second.size() >= limits_.max_providers_per_key)
            return refuse(ProviderRefusal::key_full);
        if (held != providers_.end() && held->second.records >= limits_.max_per_provider)
            return refuse(ProviderRefusal::provider_full);
    }
    // What the store holds after this add: a new record (unless a refresh), and the provider's
    // address list, new or replaced by the entry's.
    bool new_addrs = held == providers_.end() || !entry.addrs.empty();
    std::size_t now_held =
        held == providers_.end() ? 0 : provider_cost(held->first, held->second.addrs);
    std::size_t then_held = new_addrs ? provider_cost(entry.provider, entry.addrs) : now_held;
    std::size_t after =
        bytes_ - std::min(bytes_, now_held) + then_held + (listed ? 0 : record_cost(key));
    // A refresh that does not grow the store is never refused.
    if (after > limits_.max_bytes && (!listed || then_held > now_held))
        return refuse(ProviderRefusal::bytes);

    if (held == providers_.end()) held = providers_.emplace(entry.provider, Provider{}).first;
    if (new_addrs) held->second.addrs = std::move(entry.addrs);
    bytes_ = after;
    if (it == by_key_.end()) it = by_key_.emplace(key, std::vector<Record>{}).first;
    auto& list = it->second;
    if (listed) {
        auto pos = std::find_if(list.begin(), list.end(),
                                [&](const Record& r) { return r.provider == held; });
        list.erase(pos);
    } else {
        ++held->second.records;
        ++records_;
    }
    list.push_back(Record{held, entry.expires_ms});
    return true;
}

void ProviderStore::remove(const Bytes& key, const PeerId& provider) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return;
    std::erase_if(it->second, [&](const Record& r) {
        if (r.provider->first != provider) return false;
        forget(key, r);
        return true;
    });
    if (it->second.empty()) by_key_.erase(it);
}

std::vector<ProviderEntry> ProviderStore::get(const Bytes& key, std::int64_t now_ms,
                                              std::size_t limit) const {
    std::vector<ProviderEntry> out;
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return out;
    for (auto r = it->second.rbegin(); r != it->second.rend() && out.size() < limit; ++r)
        if (r->expires_ms > now_ms)
            out.push_back(
                ProviderEntry{r->provider->first, r->provider->second.addrs, r->expires_ms});
    return out;
}

std::size_t ProviderStore::remove_expired(std::int64_t now_ms) {
    std::size_t removed = 0;
    for (auto it = by_key_.begin(); it != by_key_.end();) {
        removed += std::erase_if(it->second, [&](const Record& r) {
            if (r.expires_ms > now_ms) return false;
            forget(it->first, r);
            return true;
        });
        it = it->second.empty() ? by_key_.erase(it) : std::next(it);
    }
    return removed;
}

}  // namespace keel::kad
