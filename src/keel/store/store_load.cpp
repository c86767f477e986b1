// Store's startup reads (on the caller's thread, over the read connection): rows that do not
// decode are skipped and counted; a read that stops early is a read error, never a silent empty
// state.
#include "keel/store/addr_blob.hpp"
#include "keel/store/store_impl.hpp"

namespace keel::store {

using namespace sqlite;

std::vector<StoredPeer> Store::load_peers() {
    std::lock_guard lk(impl_->read_mu);
    std::vector<StoredPeer> out;
    auto s = prepare(impl_->rdb.get(),
                     "SELECT id, addrs, last_seen_ms, in_routing_table FROM peers", false);
    if (!s) {
        impl_->note_read_end(SQLITE_ERROR, "peers");
        return out;
    }
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
        auto id = PeerId::from_bytes(column_blob(s.get(), 0));
        auto addrs = decode_addrs(column_blob(s.get(), 1));
        if (!id || !addrs) {
            ++impl_->skipped_rows;
            continue;
        }
        out.push_back(StoredPeer{std::move(*id), std::move(*addrs),
                                 sqlite3_column_int64(s.get(), 2),
                                 sqlite3_column_int64(s.get(), 3) != 0});
    }
    impl_->note_read_end(rc, "peers");
    return out;
}

std::vector<StoredProvider> Store::load_providers(std::int64_t now_ms) {
    std::lock_guard lk(impl_->read_mu);
    std::vector<StoredProvider> out;
    auto s = prepare(impl_->rdb.get(),
                     "SELECT key, provider, addrs, expires_ms FROM providers WHERE expires_ms > ?1",
                     false);
    if (!s || !bind_int(s.get(), 1, now_ms)) {
        impl_->note_read_end(SQLITE_ERROR, "providers");
        return out;
    }
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
        const BytesView key = column_blob(s.get(), 0);
        auto provider = PeerId::from_bytes(column_blob(s.get(), 1));
        auto addrs = decode_addrs(column_blob(s.get(), 2));
        if (!provider || !addrs) {
            ++impl_->skipped_rows;
            continue;
        }
        out.push_back(StoredProvider{Bytes(key.begin(), key.end()), std::move(*provider),
                                     std::move(*addrs), sqlite3_column_int64(s.get(), 3)});
    }
    impl_->note_read_end(rc, "providers");
    return out;
}

std::vector<StoredRecord> Store::load_records() {
    std::lock_guard lk(impl_->read_mu);
    std::vector<StoredRecord> out;
    auto s = prepare(impl_->rdb.get(), "SELECT key, value, received_ms FROM records", false);
    if (!s) {
        impl_->note_read_end(SQLITE_ERROR, "records");
        return out;
    }
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
        const BytesView key = column_blob(s.get(), 0);
        const BytesView value = column_blob(s.get(), 1);
        out.push_back(StoredRecord{Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end()),
                                   sqlite3_column_int64(s.get(), 2)});
    }
    impl_->note_read_end(rc, "records");
    return out;
}

}  // namespace keel::store
