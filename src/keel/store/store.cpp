// Store: opening (schema, migrations, permissions, corruption found at startup) and the writer
// thread that makes queued writes durable in batches before it acknowledges them.
#include "keel/store/store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

#include "keel/store/addr_blob.hpp"
#include "keel/store/store_impl.hpp"

namespace keel::store {

using namespace sqlite;

namespace {

// PRAGMA user_version of the schema below. A file with a higher version was written by a newer
// Keel and is refused rather than misread; lower versions are migrated step by step in
// create_schema().
constexpr int schema_version = 1;
// Another process (an operator's sqlite3 shell, a backup) may briefly hold a lock.
constexpr int busy_timeout_ms = 5000;

// Addresses are stored as one blob: each multiaddr's binary form prefixed with its uvarint
// length. Peer IDs are their multihash bytes. WITHOUT ROWID: every table is looked up by its key.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE IF NOT EXISTS peers (
    id BLOB PRIMARY KEY NOT NULL,
    addrs BLOB NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    in_routing_table INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS providers (
    key BLOB NOT NULL,
    provider BLOB NOT NULL,
    addrs BLOB NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (key, provider)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS providers_by_expiry ON providers (expires_ms);
CREATE TABLE IF NOT EXISTS records (
    key BLOB PRIMARY KEY NOT NULL,
    value BLOB NOT NULL,
    received_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Provider and record writes are acknowledged (to a caller's `done`, and usually to a remote peer
// over the wire), so their batches must be durable on power loss, not only on process crash.
bool needs_full_sync(std::span<const Op> ops) {
    return std::any_of(ops.begin(), ops.end(), [](const Op& op) {
        return std::holds_alternative<SaveProvider>(op.kind) ||
               std::holds_alternative<SaveRecord>(op.kind);
    });
}

Done* done_of(Op& op) {
    if (auto* p = std::get_if<SaveProvider>(&op.kind)) return &p->done;
    if (auto* r = std::get_if<SaveRecord>(&op.kind)) return &r->done;
    return nullptr;
}

}  // namespace

boost::system::result<void> Store::Impl::setup(const std::filesystem::path& file,
                                               std::string* why) {
    auto fail = [&](store_errc e, sqlite3* db, const std::string& what) {
        if (why) *why = what + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
        return boost::system::result<void>(make_error_code(e));
    };

    // The file holds the node's state: readable by its owner only. Created here so that SQLite
    // (which gives -wal and -shm the database's mode) never makes it world-readable.
    {
        int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            if (why) *why = "open " + file.string() + ": " + std::strerror(errno);
            return make_error_code(store_errc::open_failed);
        }
        ::fchmod(fd, 0600);
        ::close(fd);
    }
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(file.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    wdb.reset(raw);  // a handle is returned even on failure and must be closed
    if (rc != SQLITE_OK) return fail(store_errc::open_failed, raw, "open " + file.string());
    sqlite3* db = wdb.get();
    sqlite3_busy_timeout(db, busy_timeout_ms);

    // journal_mode answers with the mode in force: anything but "wal" (an in-memory database, a
    // file system without shared memory) would silently change the durability story.
    {
        auto s = prepare(db, "PRAGMA journal_mode=WAL", false);
        if (!s || sqlite3_step(s.get()) != SQLITE_ROW)
            return fail(store_errc::open_failed, db, "set WAL mode");
        const auto* mode = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
        if (mode == nullptr || std::string_view(mode) != "wal") {
            if (why) *why = "journal_mode is " + std::string(mode ? mode : "unknown") + ", not wal";
            return make_error_code(store_errc::open_failed);
        }
    }
    // synchronous=FULL until the writer picks per batch (see Impl::set_sync).
    // The writer only appends and updates by key: a small page cache (1 MiB instead of SQLite's
    // 2 MiB default) costs it little and keeps the node's resident memory down.
    exec(db, "PRAGMA cache_size=-1024");
    if (!exec(db, "PRAGMA synchronous=FULL"))
        return fail(store_errc::open_failed, db, "set synchronous");
    sync = Sync::full;

    // A damaged file must be found now, not halfway through loading (which would look like a
    // smaller state) nor at the first write (acknowledged to nobody, but lost).
    {
        auto s = prepare(db, "PRAGMA quick_check", false);
        int step = s ? sqlite3_step(s.get()) : SQLITE_ERROR;
        const auto* first = step == SQLITE_ROW
                                ? reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0))
                                : nullptr;
        if (first == nullptr || std::string_view(first) != "ok") {
            if (why) *why = first ? std::string("quick_check: ") + first : sqlite3_errmsg(db);
            return make_error_code(store_errc::corrupt);
        }
    }
    int version = 0;
    {
        auto s = prepare(db, "PRAGMA user_version", false);
        if (!s || sqlite3_step(s.get()) != SQLITE_ROW)
            return fail(store_errc::schema_failed, db, "read user_version");
        version = sqlite3_column_int(s.get(), 0);
    }
    if (version > schema_version) {
        if (why)
            *why = "schema version " + std::to_string(version) + " is newer than this Keel's " +
                   std::to_string(schema_version);
        return make_error_code(store_errc::schema_failed);
    }
    if (version < schema_version) {
        // Version 0 is a new, empty file. Future versions add "if (version < 2) ..." steps.
        const std::string sql = std::string("BEGIN IMMEDIATE;") + schema_v1 +
                                "PRAGMA user_version=" + std::to_string(schema_version) +
                                ";COMMIT;";
        if (!exec(db, sql.c_str())) {
            auto r = fail(store_errc::schema_failed, db, "create schema");
            if (!sqlite3_get_autocommit(db)) exec(db, "ROLLBACK");
            return r;
        }
    }
    if (!prepare_writer()) return fail(store_errc::schema_failed, db, "prepare statements");

    raw = nullptr;
    rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    rdb.reset(raw);
    if (rc != SQLITE_OK) return fail(store_errc::open_failed, raw, "open reader");
    sqlite3_busy_timeout(rdb.get(), busy_timeout_ms);
    if (!exec(rdb.get(), "PRAGMA query_only=1"))
        return fail(store_errc::open_failed, rdb.get(), "set query_only");
    return {};
}

bool Store::Impl::prepare_writer() {
    sqlite3* db = wdb.get();
    // IMMEDIATE takes the write lock at BEGIN, so a busy database shows up there (and waits
    // busy_timeout) instead of failing a statement halfway through the batch.
    begin = prepare(db, "BEGIN IMMEDIATE", true);
    commit = prepare(db, "COMMIT", true);
    rollback = prepare(db, "ROLLBACK", true);
    upsert_peer = prepare(db,
                          "INSERT INTO peers (id, addrs, last_seen_ms, in_routing_table) "
                          "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET "
                          "addrs = excluded.addrs, last_seen_ms = excluded.last_seen_ms, "
                          "in_routing_table = excluded.in_routing_table",
                          true);
    delete_peer = prepare(db, "DELETE FROM peers WHERE id = ?1", true);
    upsert_provider = prepare(db,
                              "INSERT INTO providers (key, provider, addrs, expires_ms) "
                              "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key, provider) DO UPDATE SET "
                              "addrs = excluded.addrs, expires_ms = excluded.expires_ms",
                              true);
    delete_provider = prepare(db, "DELETE FROM providers WHERE key = ?1 AND provider = ?2", true);
    delete_expired = prepare(db, "DELETE FROM providers WHERE expires_ms <= ?1", true);
    upsert_record = prepare(db,
                            "INSERT INTO records (key, value, received_ms) VALUES (?1, ?2, ?3) "
                            "ON CONFLICT (key) DO UPDATE SET "
                            "value = excluded.value, received_ms = excluded.received_ms",
                            true);
    return begin && commit && rollback && upsert_peer && delete_peer && upsert_provider &&
           delete_provider && delete_expired && upsert_record;
}

void Store::Impl::enqueue(OpKind kind) {
    std::optional<Op> rejected;
    {
        std::lock_guard lk(mu);
        if (stopping) {
            rejected.emplace(Op{std::move(kind), Clock::now()});
        } else {
            queue.push_back(Op{std::move(kind), Clock::now()});
            ++enqueued_seq;
        }
    }
    if (!rejected) {
        work_cv.notify_one();
        return;
    }
    // Only reachable when racing the destructor, which is the caller's bug; still, answer.
    if (Done* d = done_of(*rejected); d && *d) (*d)(make_error_code(store_errc::closed));
}

void Store::Impl::run_writer() {
    std::unique_lock lk(mu);
    for (;;) {
        work_cv.wait(lk, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping, and everything is written

        // Linger so a burst of small writes shares one transaction (and one fsync), but not
        // past max_linger_ms after the oldest write, nor when a batch is full, a flush() waits
        // or the store is closing.
        const auto deadline = queue.front().queued_at + std::chrono::milliseconds(max_linger_ms);
        work_cv.wait_until(lk, deadline, [&] {
            return stopping || queue.size() >= max_batch || flush_upto > committed_seq;
        });

        const std::size_t n = std::min(queue.size(), max_batch);
        std::vector<Op> batch;
        batch.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            batch.push_back(std::move(queue.front()));
            queue.pop_front();
        }
        in_flight = n;
        lk.unlock();

        const auto results = write_batch(batch);
        for (std::size_t i = 0; i < n; ++i) {
            if (Done* d = done_of(batch[i]); d && *d) (*d)(results[i]);
        }
        batch.clear();  // release callbacks' captures before flush() returns

        lk.lock();
        committed_seq += n;
        in_flight = 0;
        committed_cv.notify_all();
    }
}

std::vector<error_code> Store::Impl::write_batch(std::span<Op> batch) {
    std::vector<error_code> results(batch.size());
    if (transaction(batch)) return results;
    // Something in the batch failed and the whole transaction rolled back. Retry each operation
    // on its own so one bad write (or a transient error) does not fail its neighbours.
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (batch.size() == 1 || !transaction(batch.subspan(i, 1))) {
            results[i] = make_error_code(store_errc::write_failed);
            ++write_failures;
        }
    }
    return results;
}

bool Store::Impl::transaction(std::span<const Op> ops) {
    if (!set_sync(needs_full_sync(ops) ? Sync::full : Sync::normal)) return false;
    if (!run(begin.get())) return false;
    for (const auto& op : ops) {
        if (!apply(op)) {
            if (!sqlite3_get_autocommit(wdb.get())) run(rollback.get());
            return false;
        }
    }
    if (run(commit.get())) return true;
    // A failed COMMIT may leave the transaction open (SQLITE_BUSY) or have rolled it back.
    if (!sqlite3_get_autocommit(wdb.get())) run(rollback.get());
    return false;
}

// Why not synchronous=NORMAL for everything: in WAL mode NORMAL does not fsync the WAL at
// commit, only at checkpoints. A committed transaction then survives a process crash (kill -9:
// the data is in the OS page cache) but not a power loss or kernel panic, where the last
// transactions may roll back. A `done` that reported success for such a write would have lied,
// so batches with acknowledged writes use FULL, which fsyncs the WAL before COMMIT returns.
// The fsync covers every frame appended before it, so the NORMAL batches in front of a FULL one
// become durable with it and commit order is preserved. The pragma cannot change inside a
// transaction, so it is switched between batches, only when it differs.
bool Store::Impl::set_sync(Sync want) {
    if (sync == want) return true;
    const char* sql = want == Sync::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
    if (!exec(wdb.get(), sql)) {
        sync = Sync::unknown;
        return want == Sync::normal;  // FULL is never less safe than asked for
    }
    sync = want;
    return true;
}

bool Store::Impl::apply(const Op& op) {
    return std::visit(
        [&](const auto& o) -> bool {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, SavePeer>) {
                sqlite3_stmt* s = upsert_peer.get();
                const Bytes addrs = encode_addrs(o.peer.addrs);
                const bool ok = bind_blob(s, 1, o.peer.id.bytes()) && bind_blob(s, 2, addrs) &&
                                bind_int(s, 3, o.peer.last_seen_ms) &&
                                bind_int(s, 4, o.peer.in_routing_table ? 1 : 0);
                return run_if(ok, s);
            } else if constexpr (std::is_same_v<T, RemovePeer>) {
                sqlite3_stmt* s = delete_peer.get();
                return run_if(bind_blob(s, 1, o.id.bytes()), s);
            } else if constexpr (std::is_same_v<T, SaveProvider>) {
                sqlite3_stmt* s = upsert_provider.get();
                const Bytes addrs = encode_addrs(o.provider.addrs);
                const bool ok = bind_blob(s, 1, o.provider.key) &&
                                bind_blob(s, 2, o.provider.provider.bytes()) &&
                                bind_blob(s, 3, addrs) && bind_int(s, 4, o.provider.expires_ms);
                return run_if(ok, s);
            } else if constexpr (std::is_same_v<T, RemoveProvider>) {
                sqlite3_stmt* s = delete_provider.get();
                const bool ok = bind_blob(s, 1, o.key) && bind_blob(s, 2, o.provider.bytes());
                return run_if(ok, s);
            } else if constexpr (std::is_same_v<T, RemoveExpired>) {
                sqlite3_stmt* s = delete_expired.get();
                return run_if(bind_int(s, 1, o.now_ms), s);
            } else {
                static_assert(std::is_same_v<T, SaveRecord>);
                sqlite3_stmt* s = upsert_record.get();
                const bool ok = bind_blob(s, 1, o.record.key) && bind_blob(s, 2, o.record.value) &&
                                bind_int(s, 3, o.record.received_ms);
                return run_if(ok, s);
            }
        },
        op.kind);
}

// ---------------------------------------------------------------------------------------------

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() = default;  // Impl's destructor drains the queue and joins the writer

boost::system::result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& db_file,
                                                          std::string* why) {
    auto impl = std::make_unique<Impl>();
    if (auto r = impl->setup(db_file, why); !r) return r.error();
    Impl* p = impl.get();
    impl->writer = std::thread([p] { p->run_writer(); });
    return std::unique_ptr<Store>(new Store(std::move(impl)));
}

void Store::save_peer(StoredPeer peer) {
    impl_->enqueue(SavePeer{std::move(peer)});
}

void Store::remove_peer(const PeerId& id) {
    impl_->enqueue(RemovePeer{id});
}

void Store::save_provider(StoredProvider provider, Done done) {
    impl_->enqueue(SaveProvider{std::move(provider), std::move(done)});
}

void Store::remove_provider(const Bytes& key, const PeerId& provider) {
    impl_->enqueue(RemoveProvider{key, provider});
}

void Store::remove_expired_providers(std::int64_t now_ms) {
    impl_->enqueue(RemoveExpired{now_ms});
}

void Store::save_record(StoredRecord record, Done done) {
    impl_->enqueue(SaveRecord{std::move(record), std::move(done)});
}

void Store::flush() {
    std::unique_lock lk(impl_->mu);
    const std::uint64_t target = impl_->enqueued_seq;
    if (impl_->committed_seq >= target) return;
    impl_->flush_upto = std::max(impl_->flush_upto, target);
    impl_->work_cv.notify_one();
    impl_->committed_cv.wait(lk, [&] { return impl_->committed_seq >= target; });
}

std::size_t Store::queued() const {
    std::lock_guard lk(impl_->mu);
    return impl_->queue.size() + impl_->in_flight;
}

error_code Store::read_error(std::string* detail) const {
    std::lock_guard lk(impl_->read_mu);
    if (detail) *detail = impl_->read_error_detail;
    return impl_->read_error;
}

std::size_t Store::skipped_rows() const {
    std::lock_guard lk(impl_->read_mu);
    return impl_->skipped_rows;
}

std::uint64_t Store::write_failures() const {
    return impl_->write_failures.load();
}

}  // namespace keel::store
