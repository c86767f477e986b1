#pragma once
// Wires the DHT to the SQLite store: state comes back at startup (peer addresses, routing table
// membership, provider records, values) and every change is written behind, off the I/O thread.
#include "keel/kad/dht.hpp"
#include "keel/store/store.hpp"

namespace keel::app {

struct RestoredState {
    std::size_t peers = 0;
    std::size_t routing_peers = 0;
    std::size_t providers = 0;
    std::size_t records = 0;
};

RestoredState attach_store(kad::Dht& dht, store::Store& store);

}  // namespace keel::app
