#include "keel/kad/provider_store.hpp"

#include <algorithm>

namespace keel::kad {

namespace {
// A map node per key, a vector slot per record, a map node per provider: measured roughly with
// heap profiles, rounded up.
constexpr std::size_t overhead_per_record = 160;
}  // namespace

std::size_t ProviderStore::entry_cost(const Bytes& key, const ProviderEntry& entry) {
    std::size_t n = overhead_per_record + key.size() + entry.provider.bytes().size();
    for (const auto& a : entry.addrs) n += sizeof(Multiaddr) + a.to_bytes().size();
    return n;
}

void ProviderStore::forget(const Bytes& key, const ProviderEntry& entry) {
    bytes_ -= std::min(bytes_, entry_cost(key, entry));
    if (auto it = per_provider_.find(entry.provider); it != per_provider_.end())
        if (--it->second == 0) per_provider_.erase(it);
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
    const std::size_t cost = entry_cost(key, entry);
    const ProviderEntry* existing = nullptr;
    if (it != by_key_.end())
        for (const auto& e : it->second)
            if (e.provider == entry.provider) existing = &e;
    const std::size_t freed = existing ? entry_cost(key, *existing) : 0;
    if (!existing) {
        if (it != by_key_.end() && it->second.size() >= limits_.max_providers_per_key)
            return refuse(ProviderRefusal::key_full);
        auto held = per_provider_.find(entry.provider);
        if (held != per_provider_.end() && held->second >= limits_.max_per_provider)
            return refuse(ProviderRefusal::provider_full);
    }
    if (bytes_ - std::min(bytes_, freed) + cost > limits_.max_bytes)
        return refuse(ProviderRefusal::bytes);
    if (it == by_key_.end()) it = by_key_.emplace(key, std::vector<ProviderEntry>{}).first;
    auto& list = it->second;
    if (existing) {
        auto pos = std::find_if(list.begin(), list.end(), [&](const ProviderEntry& e) {
            return e.provider == entry.provider;
        });
        forget(key, *pos);
        list.erase(pos);
    }
    bytes_ += cost;
    ++per_provider_[entry.provider];
    list.push_back(std::move(entry));
    return true;
}

void ProviderStore::remove(const Bytes& key, const PeerId& provider) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return;
    std::erase_if(it->second, [&](const ProviderEntry& e) {
        if (e.provider != provider) return false;
        forget(key, e);
        return true;
    });
    if (it->second.empty()) by_key_.erase(it);
}

std::vector<ProviderEntry> ProviderStore::get(const Bytes& key, std::int64_t now_ms,
                                              std::size_t limit) const {
    std::vector<ProviderEntry> out;
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return out;
    for (auto e = it->second.rbegin(); e != it->second.rend() && out.size() < limit; ++e)
        if (e->expires_ms > now_ms) out.push_back(*e);
    return out;
}

std::size_t ProviderStore::remove_expired(std::int64_t now_ms) {
    std::size_t removed = 0;
    for (auto it = by_key_.begin(); it != by_key_.end();) {
        removed += std::erase_if(it->second, [&](const ProviderEntry& e) {
            if (e.expires_ms > now_ms) return false;
            forget(it->first, e);
            return true;
        });
        it = it->second.empty() ? by_key_.erase(it) : std::next(it);
    }
    return removed;
}

std::size_t ProviderStore::record_count() const {
    std::size_t n = 0;
    for (const auto& [key, list] : by_key_) n += list.size();
    return n;
}

}  // namespace keel::kad
