#include "keel/host/dial_backoff.hpp"

#include <algorithm>

namespace keel {

void DialBackoff::failed(const PeerId& peer, net::Clock::time_point now) {
    if (peers_.size() >= config_.max_peers)
        std::erase_if(peers_, [now](const auto& entry) { return entry.second.until <= now; });
    auto& entry = peers_[peer];
    if (now < entry.until) return;  // the same attempt, or one made in spite of the wait
    auto delay = config_.initial * (1LL << std::min(entry.failures, 16));
    entry.until = now + std::min<net::Duration>(delay, config_.max);
    ++entry.failures;
}

bool DialBackoff::waiting(const PeerId& peer, net::Clock::time_point now) const {
    auto it = peers_.find(peer);
    return it != peers_.end() && now < it->second.until;
}

}  // namespace keel
