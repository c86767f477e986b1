#include "keel/store/sqlite_statement.hpp"

namespace keel::store::sqlite {

StmtPtr prepare(sqlite3* db, const char* sql, bool persistent) {
    sqlite3_stmt* s = nullptr;
    const unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
    if (sqlite3_prepare_v3(db, sql, -1, flags, &s, nullptr) != SQLITE_OK) {
        sqlite3_finalize(s);
        return nullptr;
    }
    return StmtPtr(s);
}

bool exec(sqlite3* db, const char* sql) {
    return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

bool bind_blob(sqlite3_stmt* s, int i, BytesView b) {
    if (b.empty()) return sqlite3_bind_zeroblob(s, i, 0) == SQLITE_OK;
    return sqlite3_bind_blob64(s, i, b.data(), b.size(), SQLITE_STATIC) == SQLITE_OK;
}

bool bind_int(sqlite3_stmt* s, int i, std::int64_t v) {
    return sqlite3_bind_int64(s, i, v) == SQLITE_OK;
}

BytesView column_blob(sqlite3_stmt* s, int i) {
    const void* p = sqlite3_column_blob(s, i);
    const int n = sqlite3_column_bytes(s, i);  // after column_blob, as SQLite documents
    if (p == nullptr || n <= 0) return {};
    return {static_cast<const std::uint8_t*>(p), static_cast<std::size_t>(n)};
}

bool run(sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE;
}

bool run_if(bool bound, sqlite3_stmt* s) {
    if (bound) return run(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return false;
}

}  // namespace keel::store::sqlite
