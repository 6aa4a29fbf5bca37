#include "client/backup/private_database.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace argus::client {

namespace {
Error file_error(const std::string& what, const std::string& path) {
    return make_error(ErrorCode::storage, what + " " + path + ": " + std::strerror(errno));
}
}  // namespace

Result<sqlite3*> open_private_database(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return file_error("cannot create", path);
    // The umask may have narrowed 0600 further, or the file may predate this
    // code: make it exactly 0600.
    bool tightened = ::fchmod(fd, 0600) == 0;
    ::close(fd);
    if (!tightened) return file_error("cannot chmod 600", path);
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
        std::string companion = path + suffix;
        if (::chmod(companion.c_str(), 0600) != 0 && errno != ENOENT) return file_error("cannot chmod 600", companion);
    }
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
        std::string message = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close_v2(db);
        return make_error(ErrorCode::storage, "cannot open " + path + ": " + message);
    }
    sqlite3_busy_timeout(db, 2'000);
    return db;
}

Status exec_sql(sqlite3* db, const char* sql, const std::string& file) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        std::string text = message ? message : sqlite3_errmsg(db);
        sqlite3_free(message);
        return make_error(ErrorCode::storage, file + ": " + text);
    }
    return {};
}

}  // namespace argus::client
