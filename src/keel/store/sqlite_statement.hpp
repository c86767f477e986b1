#pragma once
// Owning handles and small helpers over SQLite's C API (internal to keel/store).
#include <sqlite3.h>

#include <cstdint>
#include <memory>

#include "keel/base/bytes.hpp"

namespace keel::store::sqlite {

struct DbCloser {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// nullptr if the statement does not compile. `persistent`: kept for the store's lifetime.
StmtPtr prepare(sqlite3* db, const char* sql, bool persistent);
bool exec(sqlite3* db, const char* sql);
// The data must outlive the statement's next step (SQLITE_STATIC: no copy). An empty blob is
// bound as a zero-length blob, not NULL, which is what sqlite3_bind_blob does with a null pointer.
bool bind_blob(sqlite3_stmt* s, int i, BytesView b);
bool bind_int(sqlite3_stmt* s, int i, std::int64_t v);
BytesView column_blob(sqlite3_stmt* s, int i);
// Steps a statement that returns no rows, then resets it for the next use.
bool run(sqlite3_stmt* s);
// run() if every parameter bound; otherwise only the reset, never a step with missing values.
bool run_if(bool bound, sqlite3_stmt* s);

}  // namespace keel::store::sqlite
