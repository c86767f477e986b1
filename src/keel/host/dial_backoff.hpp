#pragma once
// Which peers background dialers (the DHT's lookups, refreshes and stores) leave alone for now:
// the Host's one memory of failed dials. A failure starts a wait of `initial`, each further one
// doubles it up to `max`; failures during a wait do not count again (one attempt's several
// addresses, or the DHT and the Host reporting the same attempt); a connection to the peer, made
// by anyone, forgets them. Dials a person or the health monitor asks for are never held back by
// it: the health monitor redials bootstraps on its own backoff, and its success ends this one.
#include <cstddef>
#include <unordered_map>

#include "keel/crypto/peer_id.hpp"
#include "keel/net/deadline.hpp"

namespace keel {

struct DialBackoffConfig {
    net::Duration initial{1000};
    net::Duration max{60'000};
    std::size_t max_peers = 10'000;  // beyond this, peers whose wait is over are forgotten
};

class DialBackoff {
  public:
    explicit DialBackoff(DialBackoffConfig config = {}) : config_(config) {}

    void failed(const PeerId& peer, net::Clock::time_point now = net::Clock::now());
    void connected(const PeerId& peer) { peers_.erase(peer); }
    // True while `peer` should not be dialed by a background dialer.
    bool waiting(const PeerId& peer, net::Clock::time_point now = net::Clock::now()) const;
    std::size_t size() const { return peers_.size(); }

  private:
    struct Entry {
        int failures = 0;
        net::Clock::time_point until{};
    };
    DialBackoffConfig config_;
    std::unordered_map<PeerId, Entry> peers_;
};

}  // namespace keel
