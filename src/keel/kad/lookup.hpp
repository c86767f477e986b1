#pragma once
// The iterative Kademlia lookup (libp2p kad-dht spec, "peer routing"), apart from the network:
// it asks `alpha` peers at a time, closest first, learns closer peers from their answers and
// ends when the k closest peers that did not fail have all answered, when `on_response` says
// so, when nothing is left to ask, or at its deadline. How a peer is asked is the caller's
// `request` function (Dht: a Kademlia stream; tests: a fake network), so the algorithm is tested
// without sockets (tests/unit/kad/lookup_test.cpp).
#include <functional>
#include <memory>
#include <vector>

#include "keel/crypto/peer_id.hpp"
#include "keel/kad/kad_key.hpp"
#include "keel/kad/kad_message.hpp"
#include "keel/net/asio.hpp"

namespace keel::kad {

struct LookupResult {
    std::vector<PeerId> closest;  // the k closest peers that answered
    std::size_t queried = 0;
    std::size_t failed = 0;
    int hops = 0;  // longest chain of referrals that led to an answering peer
};

struct LookupParams {
    std::size_t k = 20;
    std::size_t alpha = 3;
    net::Duration timeout{60'000};
};

struct LookupHooks {
    // Asks one peer (its known addresses given); an error counts the peer as failed.
    std::function<net::awaitable<net::result<KadMessage>>(
        const PeerId& peer, const KadMessage& message, const std::vector<Multiaddr>& addrs)>
        request;
    // Each answer, in arrival order; returning true ends the lookup (e.g. a value was found).
    std::function<bool(const PeerId& from, const KadMessage& answer)> on_response;
    // Each peer an answer names, and who named it, before it becomes a candidate: the Dht drops
    // the addresses that cannot reach it from here and records the rest in the peer store.
    std::function<void(const PeerId& from, KadPeer& referral)> on_referral;
    // False once the owner is going away: in-flight queries then touch nothing and the lookup
    // ends. Called from queries that may outlive the lookup, so it must own what it reads.
    std::function<bool()> running;
};

// `seeds`: where to start (the routing table's closest to the target); `self` is never asked.
// `message` is sent as is to every peer (its key is the lookup's key).
net::awaitable<LookupResult> run_lookup(net::asio::any_io_executor executor, KadKey target,
                                        PeerId self, std::vector<PeerId> seeds, KadMessage message,
                                        LookupParams params, LookupHooks hooks);

}  // namespace keel::kad
