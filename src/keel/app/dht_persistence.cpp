#include "keel/app/dht_persistence.hpp"

#include <chrono>

#include "keel/app/node_settings.hpp"
#include "keel/net/log.hpp"

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
        // timeReceived as it was first written (RFC 3339), not a bare number go and js cannot read.
        auto received =
            std::chrono::system_clock::time_point(std::chrono::milliseconds(r.received_ms));
        kad::Record record{r.key, r.value, received, {}, 0, 0};
        // A publisher's shorter ttl is not kept on disk: restored records get the maximum age.
        record.expires_ms = r.received_ms + kad::max_record_age_ms;
        dht.restore_record(std::move(record));
        ++restored.records;
    }
    // Part of the state would be missing without a word: an error, never a smaller state.
    std::string detail;
    if (auto ec = store.read_error(&detail))
        throw ConfigError("state: " + ec.message() + " (" + detail +
                          "); move keel.db away to start empty");

    kad::DhtPersistence persistence;
    // Every acknowledged write reports back; a failure is logged here (on the writer thread) and
    // answered to the DHT, which then acknowledges nothing.
    auto done_of = [&store](kad::DhtPersistence::Ack ack) -> store::Done {
        return [ack, &store](boost::system::error_code ec) {
            if (ec)
                log().error("event=store_write_failed error=\"{}\" failures_total={}", ec.message(),
                            store.write_failures());
            if (ack) ack(!ec);
        };
    };
    persistence.provider_added = [&store, done_of](const Bytes& key, const kad::ProviderEntry& e,
                                                   kad::DhtPersistence::Ack ack) {
        store.save_provider(store::StoredProvider{key, e.provider, e.addrs, e.expires_ms},
                            done_of(std::move(ack)));
    };
    persistence.record_stored = [&store, done_of](const kad::Record& r,
                                                  kad::DhtPersistence::Ack ack) {
        store.save_record(store::StoredRecord{r.key, r.value, unix_ms()}, done_of(std::move(ack)));
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
