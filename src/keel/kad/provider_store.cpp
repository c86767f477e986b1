#include "keel/kad/provider_store.hpp"

#include <algorithm>

namespace keel::kad {

bool ProviderStore::add(const Bytes& key, ProviderEntry entry) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) {
        if (by_key_.size() >= limits_.max_keys) return false;
        it = by_key_.emplace(key, std::vector<ProviderEntry>{}).first;
    }
    auto& list = it->second;
    std::erase_if(list, [&](const ProviderEntry& e) { return e.provider == entry.provider; });
    if (list.size() >= limits_.max_providers_per_key) return false;
    list.push_back(std::move(entry));
    return true;
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
        removed += std::erase_if(it->second,
                                 [&](const ProviderEntry& e) { return e.expires_ms <= now_ms; });
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
