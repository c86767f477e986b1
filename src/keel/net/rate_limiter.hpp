#pragma once
// Token buckets keyed by who asks (a peer, an address): at most `rate` requests per second each,
// `burst` at once. A bucket is kept as the time it is full again, so an idle key costs nothing
// and is forgotten once its bucket has refilled: memory is bounded by the keys active within the
// last burst / rate seconds, however many keys a remote invents. No clock of its own: the caller
// passes the time, so it is testable without sleeping.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <map>

#include "keel/net/asio.hpp"

namespace keel::net {

template <class Key>
class RateLimiter {
  public:
    // rate <= 0: no limit.
    RateLimiter(double rate, std::size_t burst)
        : rate_(rate), burst_(std::max<std::size_t>(burst, 1)) {
        if (rate_ > 0) {
            interval_ = seconds(1 / rate_);
            span_ = seconds(static_cast<double>(burst_ - 1) / rate_);
        }
    }

    // Takes one token for `key` at `now`; false (and nothing taken) when its bucket is empty.
    bool take(const Key& key, Clock::time_point now) {
        if (rate_ <= 0) return true;
        if (now - last_prune_ > std::chrono::seconds(1)) prune(now);
        auto& full_at = buckets_[key];
        auto start = std::max(full_at, now);
        // At least one token left: full_at − now ≤ (burst − 1) tokens' worth.
        if (start - now > span_) return false;
        full_at = start + interval_;
        return true;
    }
    std::size_t tracked() const { return buckets_.size(); }

  private:
    // Seconds as a clock duration, at most about three years: a tiny rate must not overflow it.
    static Clock::duration seconds(double s) {
        return std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(std::min(s, 1e8)));
    }
    void prune(Clock::time_point now) {
        last_prune_ = now;
        std::erase_if(buckets_, [&](const auto& entry) { return entry.second <= now; });
    }

    double rate_;
    std::size_t burst_;
    Clock::duration interval_{};
    Clock::duration span_{};
    // Ordered, not hashed: the keys are chosen by remote hosts.
    std::map<Key, Clock::time_point> buckets_;
    Clock::time_point last_prune_{};
};

}  // namespace keel::net
