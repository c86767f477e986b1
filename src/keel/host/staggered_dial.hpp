#pragma once
// Dials a list of addresses the way a user wants a bootstrap list dialed: the first at once, the
// next after a short delay if the first has not connected yet, and so on, in parallel; the first
// to complete the handshake wins. A hanging first entry then costs `stagger`, not a timeout.
#include <vector>

#include "keel/host/host.hpp"

namespace keel {

struct StaggeredDialResult {
    std::shared_ptr<Connection> connection;  // the winner; null if every address failed
    std::size_t winner_index = 0;
    std::vector<std::optional<Failure>> failures;  // per address, for those that failed
    net::Duration elapsed{};
};

// Connections that complete after the winner stay open (they are still good peers).
net::awaitable<StaggeredDialResult> dial_staggered(Host& host, std::vector<Multiaddr> addrs,
                                                   net::Duration stagger);

}  // namespace keel
