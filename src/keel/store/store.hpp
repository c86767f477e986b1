#pragma once
// Keel's persistent state in one SQLite file (keel.db in the data dir): known peers with their
// addresses, last-seen time and routing-table membership; provider records with expiry; DHT
// values. Reads happen once, at startup, on the calling thread. Writes never block the caller:
// they are queued to one writer thread that groups them into transactions, so an I/O thread
// only pays for a mutex and a push.
//
// Durability: the file is in WAL mode. Batches holding a provider or record write commit with
// synchronous=FULL (the WAL is fsynced before the commit returns), so a write whose `done` saw
// success survives kill -9 and power loss. Batches of only peer updates and removals commit with
// synchronous=NORMAL: they survive a process crash but the last few may be lost on power loss,
// which is fine for a cache that the network refills.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "keel/base/bytes.hpp"
#include "keel/crypto/peer_id.hpp"
#include "keel/multiaddr/multiaddr.hpp"
#include "keel/store/store_errc.hpp"

namespace keel::store {

struct StoredPeer {
    PeerId id;
    std::vector<Multiaddr> addrs;
    std::int64_t last_seen_ms = 0;
    bool in_routing_table = false;
};

struct StoredProvider {
    Bytes key;
    PeerId provider;
    std::vector<Multiaddr> addrs;
    std::int64_t expires_ms = 0;
};

struct StoredRecord {
    Bytes key;
    Bytes value;
    std::int64_t received_ms = 0;
};

// Called on the writer thread once the write's batch has committed (success) or failed
// (store_errc::write_failed). It must be quick, must not throw, and must not call flush() or
// destroy the Store (the writer thread would wait for itself).
using Done = std::function<void(boost::system::error_code)>;

class Store {
  public:
    // Writes are grouped into one transaction per batch: at most max_batch operations, and the
    // writer waits at most max_linger after the oldest queued operation for more to arrive.
    static constexpr std::size_t max_batch = 256;
    static constexpr int max_linger_ms = 20;

    // Opens or creates `db_file` (its directory must exist) with mode 0600 (an existing file is
    // made 0600 too; SQLite gives its -wal and -shm files the same mode); WAL mode; creates the
    // schema (versioned with PRAGMA user_version); runs SQLite's quick_check, so a damaged file
    // is store_errc::corrupt here rather than a silently empty state later. On failure `why` (if
    // given) receives SQLite's message.
    static boost::system::result<std::unique_ptr<Store>> open(const std::filesystem::path& db_file,
                                                              std::string* why = nullptr);
    // Commits everything still queued, stops the writer thread, closes the database.
    ~Store();

    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Reads, on the calling thread, for startup. They see committed writes only (flush() first
    // to include queued ones). Rows that do not parse (bad peer ID, corrupt address blob) are
    // skipped and counted in skipped_rows(); a read that SQLite cannot finish (a damaged page)
    // sets read_error() and returns what it read so far: the caller must not take that for the
    // whole state.
    std::vector<StoredPeer> load_peers();
    std::vector<StoredProvider> load_providers(std::int64_t now_ms);  // expired ones skipped
    std::vector<StoredRecord> load_records();

    // Writes: queued to the writer thread, applied in the order they were queued.
    void save_peer(StoredPeer peer);  // upsert by id
    void remove_peer(const PeerId& id);
    // Acknowledged writes: `done` runs after the batch holding it has committed durably.
    void save_provider(StoredProvider provider, Done done = {});  // upsert by (key, provider)
    void remove_provider(const Bytes& key, const PeerId& provider);
    // Removes providers with expires_ms <= now_ms.
    void remove_expired_providers(std::int64_t now_ms);
    void save_record(StoredRecord record, Done done = {});  // upsert by key

    // Blocks until everything queued so far is committed and its `done` callbacks have run.
    void flush();
    // Operations queued and not yet committed (including the batch being written).
    std::size_t queued() const;
    // The first read that failed (store_errc::corrupt; `detail` gets SQLite's words), or success.
    boost::system::error_code read_error(std::string* detail = nullptr) const;
    std::size_t skipped_rows() const;
    // Writes whose transaction did not commit (a full disk, a damaged file), since open. Their
    // `done` saw store_errc::write_failed; the store itself does not log (the caller does).
    std::uint64_t write_failures() const;

  private:
    struct Impl;
    explicit Store(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace keel::store
