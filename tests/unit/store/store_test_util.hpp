#pragma once
// Helpers for the store tests: unique temporary directories, deterministic peers and addresses,
// and raw SQLite access to look behind the Store's back.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

#include "keel/crypto/ed25519.hpp"
#include "keel/crypto/peer_id.hpp"
#include "keel/multiaddr/multiaddr.hpp"

namespace keel::store::test {

class TempDir {
  public:
    TempDir() {
        static std::atomic<unsigned> counter{0};
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("keel-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
                 "-" + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path db() const { return path_ / "keel.db"; }

  private:
    std::filesystem::path path_;
};

inline PeerId peer(std::uint8_t n) {
    std::array<std::uint8_t, 32> seed{};
    seed.fill(n);
    return PeerId::from_public_key(Ed25519KeyPair::from_seed(seed).public_key());
}

inline Multiaddr addr(const std::string& text) {
    return Multiaddr::parse(text).value();
}

// A second, raw connection to the database file.
class RawDb {
  public:
    explicit RawDb(const std::filesystem::path& file) {
        if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
            sqlite3_close_v2(db_);
            db_ = nullptr;
        }
        if (db_) sqlite3_busy_timeout(db_, 5000);
    }
    ~RawDb() { sqlite3_close_v2(db_); }
    RawDb(const RawDb&) = delete;
    RawDb& operator=(const RawDb&) = delete;

    sqlite3* get() const { return db_; }
    bool exec(const std::string& sql) const {
        return db_ && sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
    }
    // First column of the first row as an integer, or -1.
    std::int64_t scalar(const std::string& sql) const {
        sqlite3_stmt* s = nullptr;
        std::int64_t v = -1;
        if (db_ && sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        return v;
    }
    std::string text(const std::string& sql) const {
        sqlite3_stmt* s = nullptr;
        std::string v;
        if (db_ && sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW) {
            if (const auto* t = sqlite3_column_text(s, 0)) v = reinterpret_cast<const char*>(t);
        }
        sqlite3_finalize(s);
        return v;
    }

  private:
    sqlite3* db_ = nullptr;
};

}  // namespace keel::store::test
