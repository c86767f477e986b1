#include "keel/app/dht_persistence.hpp"

#include <chrono>

namespace keel::app {

namespace {
std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}
}  // namespace

RestoredState attach_store(kad::Dht& dht, store::Store& store) {
    RestoredState restored;
    auto& peers = dht.host().peer_store();
    for (const auto& p : store.load_peers()) {
        for (const auto& a : p.addrs) peers.add_address(p.id, a);
        ++restored.peers;
        if (p.in_routing_table) {
            dht.restore_routing_peer(p.id);
            ++restored.routing_peers;
        }
    }
    for (auto& p : store.load_providers(unix_ms())) {
        dht.restore_provider(p.key, kad::ProviderEntry{p.provider, p.addrs, p.expires_ms});
        ++restored.providers;
    }
    for (auto& r : store.load_records()) {
        dht.restore_record(kad::Record{r.key, r.value, std::to_string(r.received_ms)});
        ++restored.records;
    }

    kad::DhtPersistence persistence;
    persistence.provider_added = [&store](const Bytes& key, const kad::ProviderEntry& e,
                                          std::function<void(bool)> ack) {
        store::Done done;
        if (ack) done = [ack](boost::system::error_code ec) { ack(!ec); };
        store.save_provider(store::StoredProvider{key, e.provider, e.addrs, e.expires_ms},
                            std::move(done));
    };
    persistence.record_stored = [&store](const kad::Record& r) {
        store.save_record(store::StoredRecord{r.key, r.value, unix_ms()});
    };
    persistence.routing_changed = [&store, &peers](const PeerId& id, bool in_table) {
        auto info = peers.get(id);
        store.save_peer(store::StoredPeer{id, info ? info->addrs : std::vector<Multiaddr>{},
                                          unix_ms(), in_table});
    };
    dht.set_persistence(std::move(persistence));
    return restored;
}

}  // namespace keel::app
