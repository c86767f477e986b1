#include "keel/kad/rpc_counts.hpp"

namespace keel::kad {

std::string_view rpc_outcome_name(RpcOutcome outcome) {
    switch (outcome) {
        case RpcOutcome::ok:
            return "ok";
        case RpcOutcome::rejected:
            return "rejected";
        case RpcOutcome::rate_limited:
            return "rate_limited";
        case RpcOutcome::full:
            return "full";
        case RpcOutcome::write_failed:
            return "write_failed";
        case RpcOutcome::write_timeout:
            return "write_timeout";
        case RpcOutcome::error:
            return "error";
        case RpcOutcome::cancelled:
            return "cancelled";
        case RpcOutcome::backoff:
            return "backoff";
    }
    return "unknown";
}

std::uint64_t RpcCounts::count(MessageType type, RpcOutcome outcome) const {
    auto it = counts_.find({type, outcome});
    return it == counts_.end() ? 0 : it->second;
}

std::uint64_t RpcCounts::total() const {
    std::uint64_t n = 0;
    for (const auto& [key, count] : counts_) n += count;
    return n;
}

std::uint64_t RpcCounts::total(MessageType type) const {
    std::uint64_t n = 0;
    for (const auto& [key, count] : counts_)
        if (key.type == type) n += count;
    return n;
}

}  // namespace keel::kad
