#pragma once
// Store's inside (internal to keel/store): the queued operations and the two connections, the
// writer thread and its queue. store.cpp opens and writes; store_load.cpp reads at startup.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "keel/store/sqlite_statement.hpp"
#include "keel/store/store.hpp"
#include "keel/store/store_errc.hpp"

namespace keel::store {

using Clock = std::chrono::steady_clock;
using boost::system::error_code;
using sqlite::DbPtr;
using sqlite::StmtPtr;

// Queued operations.
struct SavePeer {
    StoredPeer peer;
};
struct RemovePeer {
    PeerId id;
};
struct SaveProvider {
    StoredProvider provider;
    Done done;
};
struct RemoveProvider {
    Bytes key;
    PeerId provider;
};
struct RemoveExpired {
    std::int64_t now_ms;
};
struct SaveRecord {
    StoredRecord record;
    Done done;
};
using OpKind =
    std::variant<SavePeer, RemovePeer, SaveProvider, RemoveProvider, RemoveExpired, SaveRecord>;

struct Op {
    OpKind kind;
    Clock::time_point queued_at;
};

struct Store::Impl {
    enum class Sync { unknown, normal, full };

    // Two connections: the writer's, used only by the writer thread once it runs, and one for
    // the startup reads on callers' threads. WAL lets the reader see the last commit while the
    // writer is mid-transaction. Declared first so they close after the statements finalize.
    DbPtr wdb;
    DbPtr rdb;
    mutable std::mutex read_mu;  // rdb is used by one load_* at a time

    StmtPtr begin, commit, rollback;
    StmtPtr upsert_peer, delete_peer;
    StmtPtr upsert_provider, delete_provider, delete_expired;
    StmtPtr upsert_record;
    Sync sync = Sync::unknown;  // writer thread only

    mutable std::mutex mu;
    std::condition_variable work_cv;       // writer waits: work queued, flush, stop
    std::condition_variable committed_cv;  // flush() waits: committed_seq advanced
    std::deque<Op> queue;
    std::size_t in_flight = 0;        // operations taken by the writer, not yet committed
    std::uint64_t enqueued_seq = 0;   // operations ever queued
    std::uint64_t committed_seq = 0;  // operations ever finished (committed or failed)
    std::uint64_t flush_upto = 0;     // a flush() waits for this sequence: do not linger
    bool stopping = false;
    std::thread writer;

    std::atomic<std::uint64_t> write_failures{0};
    error_code read_error;          // guarded by read_mu
    std::size_t skipped_rows = 0;   // guarded by read_mu
    std::string read_error_detail;  // guarded by read_mu
    // After a load's last step: anything but SQLITE_DONE means the read stopped early.
    void note_read_end(int rc, const char* table) {
        if (rc == SQLITE_DONE || read_error) return;
        read_error = make_error_code(store_errc::corrupt);
        read_error_detail = std::string("reading ") + table + ": " + sqlite3_errmsg(rdb.get());
    }

    ~Impl() {
        if (writer.joinable()) {
            {
                std::lock_guard lk(mu);
                stopping = true;
            }
            work_cv.notify_one();
            writer.join();
        }
    }

    boost::system::result<void> setup(const std::filesystem::path& file, std::string* why);
    bool prepare_writer();

    void enqueue(OpKind kind);
    void run_writer();
    std::vector<error_code> write_batch(std::span<Op> batch);
    bool transaction(std::span<const Op> ops);
    bool set_sync(Sync want);
    bool apply(const Op& op);
};

}  // namespace keel::store
