// Opens (creating) an SQLite database only its owner can read or write. The
// client's databases hold what a thief would want (the revocation basepoint
// secret, revealed per-commitment secrets, tower receipts), so the file is
// created 0600 before SQLite writes a byte, an existing one and its -wal,
// -shm and -journal are tightened to 0600, and SQLite gives the -wal and -shm
// files it creates later the database file's mode.
#pragma once

#include <sqlite3.h>

#include <cstring>
#include <string>

#include "common/bytes.h"
#include "common/result.h"

namespace argus::client {

// On success the caller owns the handle (sqlite3_close_v2). Opened with
// SQLITE_OPEN_FULLMUTEX and a 2 s busy timeout.
Result<sqlite3*> open_private_database(const std::string& path);

// A prepared statement with chained binds and typed column reads, shared by
// the client's SQLite files.
struct Stmt {
    sqlite3_stmt* s = nullptr;
    int rc = SQLITE_OK;  // of the last step (SQLITE_MISUSE after a failed prepare)
    Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s, nullptr); }
    ~Stmt() { sqlite3_finalize(s); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    Stmt& blob(int i, ByteSpan b) {
        sqlite3_bind_blob(s, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& integer(int i, std::int64_t v) {
        sqlite3_bind_int64(s, i, v);
        return *this;
    }
    Stmt& null(int i) {
        sqlite3_bind_null(s, i);
        return *this;
    }
    Stmt& text(int i, const std::string& t) {
        sqlite3_bind_text(s, i, t.c_str(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
        return *this;
    }
    int step() { return rc = sqlite3_step(s); }
    // After stepping through rows: whether they all came (not cut short by an error).
    bool finished() const { return rc == SQLITE_DONE; }
    bool is_null(int c) const { return sqlite3_column_type(s, c) == SQLITE_NULL; }
    Bytes col_blob(int c) const {
        auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, c));
        return p ? Bytes(p, p + sqlite3_column_bytes(s, c)) : Bytes{};
    }
    template <std::size_t N>
    ByteArray<N> col_array(int c) const {
        ByteArray<N> out{};
        Bytes b = col_blob(c);
        if (b.size() == N) std::memcpy(out.data(), b.data(), N);
        return out;
    }
    std::int64_t col_int(int c) const { return sqlite3_column_int64(s, c); }
    std::string col_text(int c) const {
        auto* p = sqlite3_column_text(s, c);
        return p ? reinterpret_cast<const char*>(p) : "";
    }
};

// sqlite3_exec, its error as ErrorCode::storage prefixed with `file` ("backup queue: ...").
Status exec_sql(sqlite3* db, const char* sql, const std::string& file);

}  // namespace argus::client
