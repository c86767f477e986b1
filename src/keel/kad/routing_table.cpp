#include "keel/kad/routing_table.hpp"

#include <algorithm>

namespace keel::kad {

RoutingTable::RoutingTable(PeerId self, RoutingTableConfig config)
    : self_(std::move(self)), self_key_(kad_key(self_)), config_(config) {}

int RoutingTable::bucket_index(const KadKey& key) const {
    return std::min(common_prefix_length(self_key_, key), 255);
}

std::optional<std::string> RoutingTable::diversity_group(const Multiaddr& addr) const {
    if (addr.components().empty()) return std::nullopt;
    const auto& first = addr.components().front();
    if (first.code == proto_code::ip4 && first.value.size() == 4) {
        if (config_.exempt_loopback && first.value[0] == 127) return std::nullopt;
        return "4:" + std::to_string(first.value[0]) + "." + std::to_string(first.value[1]) + "." +
               std::to_string(first.value[2]);
    }
    if (first.code == proto_code::ip6 && first.value.size() == 16) {
        bool loopback = std::all_of(first.value.begin(), first.value.end() - 1,
                                    [](std::uint8_t b) { return b == 0; }) &&
                        first.value.back() == 1;
        if (config_.exempt_loopback && loopback) return std::nullopt;
        std::string group = "6:";
        for (int i = 0; i < 6; ++i) group += std::to_string(first.value[i]) + ".";
        return group;
    }
    return std::nullopt;
}

std::size_t RoutingTable::group_count(const std::string& group, const Bucket* within) const {
    std::size_t n = 0;
    auto count_in = [&](const Bucket& b) {
        for (const auto& e : b.peers) n += e.group == group ? 1 : 0;
    };
    if (within)
        count_in(*within);
    else
        for (const auto& b : buckets_) count_in(b);
    return n;
}

AddOutcome RoutingTable::add(const PeerId& peer, const std::optional<Multiaddr>& addr,
                             net::Clock::time_point now) {
    if (peer == self_) return {AddResult::rejected_self, std::nullopt};
    auto key = kad_key(peer);
    auto& bucket = buckets_[static_cast<std::size_t>(bucket_index(key))];
    auto same = [&](const RoutingEntry& e) { return e.id == peer; };
    if (auto it = std::find_if(bucket.peers.begin(), bucket.peers.end(), same);
        it != bucket.peers.end()) {
        auto entry = *it;
        entry.last_seen = now;
        bucket.peers.erase(it);
        bucket.peers.push_back(std::move(entry));
        return {AddResult::updated, std::nullopt};
    }
    std::optional<std::string> group = addr ? diversity_group(*addr) : std::nullopt;
    if (group && (group_count(*group, &bucket) >= config_.max_per_group_per_bucket ||
                  group_count(*group, nullptr) >= config_.max_per_group_per_table))
        return {AddResult::rejected_diversity, std::nullopt};
    RoutingEntry entry{peer, key, group, now, now};
    if (bucket.peers.size() < config_.k) {
        bucket.peers.push_back(std::move(entry));
        return {AddResult::added, std::nullopt};
    }
    std::erase_if(bucket.replacements, same);
    bucket.replacements.push_back(std::move(entry));
    if (bucket.replacements.size() > config_.replacement_cache) bucket.replacements.pop_front();
    return {AddResult::bucket_full, bucket.peers.front().id};
}

void RoutingTable::mark_seen(const PeerId& peer, net::Clock::time_point now) {
    auto& bucket = buckets_[static_cast<std::size_t>(bucket_index(kad_key(peer)))];
    auto it = std::find_if(bucket.peers.begin(), bucket.peers.end(),
                           [&](const RoutingEntry& e) { return e.id == peer; });
    if (it == bucket.peers.end()) return;
    auto entry = *it;
    entry.last_seen = now;
    bucket.peers.erase(it);
    bucket.peers.push_back(std::move(entry));
}

bool RoutingTable::evict(const PeerId& peer) {
    auto& bucket = buckets_[static_cast<std::size_t>(bucket_index(kad_key(peer)))];
    auto removed = std::erase_if(bucket.peers, [&](const RoutingEntry& e) { return e.id == peer; });
    std::erase_if(bucket.replacements, [&](const RoutingEntry& e) { return e.id == peer; });
    if (removed && !bucket.replacements.empty()) {
        bucket.peers.push_back(std::move(bucket.replacements.back()));
        bucket.replacements.pop_back();
    }
    return removed > 0;
}

bool RoutingTable::contains(const PeerId& peer) const {
    const auto& bucket = buckets_[static_cast<std::size_t>(bucket_index(kad_key(peer)))];
    return std::any_of(bucket.peers.begin(), bucket.peers.end(),
                       [&](const RoutingEntry& e) { return e.id == peer; });
}

std::vector<PeerId> RoutingTable::closest(const KadKey& target, std::size_t count) const {
    std::vector<std::pair<KadKey, const RoutingEntry*>> all;
    for (const auto& b : buckets_)
        for (const auto& e : b.peers) all.emplace_back(distance(target, e.key), &e);
    std::size_t n = std::min(count, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                      [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<PeerId> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(all[i].second->id);
    return out;
}

std::vector<RoutingEntry> RoutingTable::entries() const {
    std::vector<RoutingEntry> out;
    for (const auto& b : buckets_) out.insert(out.end(), b.peers.begin(), b.peers.end());
    return out;
}

std::size_t RoutingTable::size() const {
    std::size_t n = 0;
    for (const auto& b : buckets_) n += b.peers.size();
    return n;
}

std::size_t RoutingTable::bucket_size(int cpl) const {
    return buckets_[static_cast<std::size_t>(std::clamp(cpl, 0, 255))].peers.size();
}

std::vector<int> RoutingTable::stale_buckets(net::Clock::time_point since) const {
    // Only buckets up to the deepest non-empty one matter: deeper ones are (almost) empty by
    // nature, and looking them up costs a lookup each.
    int deepest = 0;
    for (int i = 0; i < 256; ++i)
        if (!buckets_[static_cast<std::size_t>(i)].peers.empty()) deepest = i;
    std::vector<int> out;
    for (int i = 0; i <= std::min(deepest, 15); ++i)
        if (buckets_[static_cast<std::size_t>(i)].refreshed < since) out.push_back(i);
    return out;
}

void RoutingTable::mark_refreshed(int cpl, net::Clock::time_point now) {
    buckets_[static_cast<std::size_t>(std::clamp(cpl, 0, 255))].refreshed = now;
}

}  // namespace keel::kad
