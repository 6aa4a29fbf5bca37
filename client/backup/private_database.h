// Opens (creating) an SQLite database only its owner can read or write. The
// client's databases hold what a thief would want (the revocation basepoint
// secret, revealed per-commitment secrets, tower receipts), so the file is
// created 0600 before SQLite writes a byte, an existing one and its -wal,
// -shm and -journal are tightened to 0600, and SQLite gives the -wal and -shm
// files it creates later the database file's mode.
#pragma once

#include <sqlite3.h>

#include <string>

#include "common/result.h"

namespace argus::client {

// On success the caller owns the handle (sqlite3_close_v2). Opened with
// SQLITE_OPEN_FULLMUTEX and a 2 s busy timeout.
Result<sqlite3*> open_private_database(const std::string& path);

}  // namespace argus::client
