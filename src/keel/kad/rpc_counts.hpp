#pragma once
// Kademlia requests counted by message type and outcome: what /metrics shows as
// keel_dht_requests_total{type,result} and the history sums by type.
#include <cstdint>
#include <map>
#include <string_view>

#include "keel/kad/kad_message.hpp"

namespace keel::kad {

enum class RpcOutcome {
    ok,
    rejected,       // served: a record or provider our validators refuse
    rate_limited,   // served: over the per-peer or per-address store rate
    full,           // served: the provider store is at its limit
    write_failed,   // served: the answer could not be written
    write_timeout,  // served: the answer's write (or its durable ack) took too long
    error,          // sent: no answer, or a bad one
    cancelled,      // sent: our caller no longer wanted the answer
    backoff,        // sent: not sent, the peer is in dial backoff
};
std::string_view rpc_outcome_name(RpcOutcome outcome);

struct RpcKey {
    MessageType type;
    RpcOutcome outcome;
    auto operator<=>(const RpcKey&) const = default;
};

class RpcCounts {
  public:
    void add(MessageType type, RpcOutcome outcome) { ++counts_[{type, outcome}]; }
    std::uint64_t count(MessageType type, RpcOutcome outcome) const;
    std::uint64_t total() const;
    std::uint64_t total(MessageType type) const;

    auto begin() const { return counts_.begin(); }
    auto end() const { return counts_.end(); }

  private:
    std::map<RpcKey, std::uint64_t> counts_;
};

}  // namespace keel::kad
