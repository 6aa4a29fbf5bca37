// SQLite backend: the embedded default for a personal tower.
//
// Durability: WAL with synchronous=FULL, so every COMMIT fsyncs the WAL before
// write() returns; an acknowledged appointment survives kill -9 and power loss.
// (synchronous=NORMAL would survive kill -9 but could lose the last commits on
// power loss.) Group commit in the caller amortises the fsync over many requests.
#include <sqlite3.h>

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>

#include "common/check.h"
#include "server/store/migrations.h"
#include "server/store/store.h"

namespace argus::store {

namespace {

Error sqlite_error(sqlite3* db, const std::string& what) {
    return make_error(ErrorCode::storage, what + ": " + (db ? sqlite3_errmsg(db) : "no database"));
}

class Statement {
public:
    Statement(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    bool ok() const { return stmt_ != nullptr; }
    Statement& bind(int i, ByteSpan b) {
        sqlite3_bind_blob(stmt_, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Statement& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(stmt_, i, v);
        return *this;
    }
    Statement& bind_null(int i) {
        sqlite3_bind_null(stmt_, i);
        return *this;
    }
    bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    int step() { return sqlite3_step(stmt_); }
    void reset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
    Bytes blob(int col) const {
        auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
        int n = sqlite3_column_bytes(stmt_, col);
        return p ? Bytes(p, p + n) : Bytes{};
    }
    template <std::size_t N>
    ByteArray<N> array(int col) const {
        ByteArray<N> out{};
        Bytes b = blob(col);
        if (b.size() == N) std::memcpy(out.data(), b.data(), N);
        return out;
    }

private:
    sqlite3_stmt* stmt_ = nullptr;
};

Status exec(sqlite3* db, const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
        std::string text = message ? message : "unknown error";
        sqlite3_free(message);
        return make_error(ErrorCode::storage, "sqlite: " + text);
    }
    return {};
}

struct Connection {
    sqlite3* db = nullptr;
    std::mutex mutex;
    ~Connection() { sqlite3_close_v2(db); }
};

Result<sqlite3*> open_connection(const std::string& path, bool create) {
    sqlite3* db = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        Error e = sqlite_error(db, "cannot open " + path);
        sqlite3_close_v2(db);
        return e;
    }
    sqlite3_busy_timeout(db, 10'000);
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                               "PRAGMA foreign_keys=ON"}) {
        if (auto ok = exec(db, pragma); !ok) {
            sqlite3_close_v2(db);
            return ok.error();
        }
    }
    return db;
}

Result<int> current_version(sqlite3* db) {
    if (auto ok = exec(db,
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       "version INTEGER PRIMARY KEY, name TEXT NOT NULL)");
        !ok) {
        return ok.error();
    }
    Statement s(db, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (!s.ok() || s.step() != SQLITE_ROW) return sqlite_error(db, "reading schema version");
    return static_cast<int>(s.integer(0));
}

Status migrate(sqlite3* db) {
    auto version = current_version(db);
    if (!version) return version.error();
    const auto& migrations = sqlite_migrations();
    int known = migrations.empty() ? 0 : migrations.back().version;
    if (*version > known) {
        return make_error(ErrorCode::storage,
                          "database schema version " + std::to_string(*version) +
                              " is newer than this build knows (" + std::to_string(known) +
                              "); upgrade Argus");
    }
    for (const auto& m : migrations) {
        if (m.version <= *version) continue;
        std::string sql = "BEGIN IMMEDIATE;\n" + m.sql +
                          "\nINSERT INTO schema_migrations (version, name) VALUES (" +
                          std::to_string(m.version) + ", '" + m.name + "');\nCOMMIT;";
        if (auto ok = exec(db, sql); !ok) {
            (void)exec(db, "ROLLBACK");
            return make_error(ErrorCode::storage,
                              "migration " + m.name + " failed: " + ok.error().message);
        }
    }
    return {};
}

class SqliteStore final : public Store {
public:
    SqliteStore(std::string path, sqlite3* writer) : path_(std::move(path)) { writer_.db = writer; }

    Status open_readers() {
        for (auto& reader : readers_) {
            auto db = open_connection(path_, false);
            if (!db) return db.error();
            reader.db = *db;
        }
        return {};
    }

    std::string backend_name() const override { return "sqlite"; }

    Status write(const WriteBatch& batch) override {
        std::lock_guard lock(writer_.mutex);
        sqlite3* db = writer_.db;
        if (auto ok = exec(db, "BEGIN IMMEDIATE"); !ok) return ok;
        Status result = apply(db, batch);
        if (!result) {
            (void)exec(db, "ROLLBACK");
            return result;
        }
        if (auto ok = exec(db, "COMMIT"); !ok) {
            (void)exec(db, "ROLLBACK");
            return ok;
        }
        return {};
    }

    Result<std::vector<UserRecord>> load_users() override {
        return with_reader([&](sqlite3* db) -> Result<std::vector<UserRecord>> {
            Statement s(db, "SELECT user_id, available_slots, subscription_start, subscription_expiry FROM users");
            if (!s.ok()) return sqlite_error(db, "load_users");
            std::vector<UserRecord> out;
            int rc;
            while ((rc = s.step()) == SQLITE_ROW) out.push_back(user_from(s));
            if (rc != SQLITE_DONE) return sqlite_error(db, "load_users");
            return out;
        });
    }

    Result<std::optional<UserRecord>> get_user(const UserId& user) override {
        return with_reader([&](sqlite3* db) -> Result<std::optional<UserRecord>> {
            Statement s(db, "SELECT user_id, available_slots, subscription_start, subscription_expiry "
                            "FROM users WHERE user_id = ?");
            if (!s.ok()) return sqlite_error(db, "get_user");
            s.bind(1, user);
            int rc = s.step();
            if (rc == SQLITE_DONE) return std::optional<UserRecord>();
            if (rc != SQLITE_ROW) return sqlite_error(db, "get_user");
            return std::optional<UserRecord>(user_from(s));
        });
    }

    Result<std::optional<AppointmentRecord>> get_appointment(const AppointmentKey& key) override {
        return with_reader([&](sqlite3* db) -> Result<std::optional<AppointmentRecord>> {
            Statement s(db, "SELECT a.locator, u.user_id, a.trigger_kind, a.payload_kind, a.to_self_delay, "
                            "a.start_block, a.blob FROM appointments a JOIN users u USING (user_key) "
                            "WHERE u.user_id = ? AND a.locator = ?");
            if (!s.ok()) return sqlite_error(db, "get_appointment");
            s.bind(1, key.user_id).bind(2, key.locator);
            int rc = s.step();
            if (rc == SQLITE_DONE) return std::optional<AppointmentRecord>();
            if (rc != SQLITE_ROW) return sqlite_error(db, "get_appointment");
            return std::optional<AppointmentRecord>(appointment_from(s));
        });
    }

    Result<std::optional<std::size_t>> get_blob_size(const AppointmentKey& key) override {
        return with_reader([&](sqlite3* db) -> Result<std::optional<std::size_t>> {
            Statement s(db, "SELECT length(a.blob) FROM appointments a JOIN users u USING (user_key) "
                            "WHERE u.user_id = ? AND a.locator = ?");
            if (!s.ok()) return sqlite_error(db, "get_blob_size");
            s.bind(1, key.user_id).bind(2, key.locator);
            int rc = s.step();
            if (rc == SQLITE_DONE) return std::optional<std::size_t>();
            if (rc != SQLITE_ROW) return sqlite_error(db, "get_blob_size");
            return std::optional<std::size_t>(static_cast<std::size_t>(s.integer(0)));
        });
    }

    Result<std::vector<AppointmentRecord>> find_by_locator(const Locator& locator) override {
        return with_reader([&](sqlite3* db) -> Result<std::vector<AppointmentRecord>> {
            Statement s(db, "SELECT a.locator, u.user_id, a.trigger_kind, a.payload_kind, a.to_self_delay, "
                            "a.start_block, a.blob FROM appointments a JOIN users u USING (user_key) "
                            "WHERE a.locator = ?");
            if (!s.ok()) return sqlite_error(db, "find_by_locator");
            s.bind(1, locator);
            std::vector<AppointmentRecord> out;
            int rc;
            while ((rc = s.step()) == SQLITE_ROW) out.push_back(appointment_from(s));
            if (rc != SQLITE_DONE) return sqlite_error(db, "find_by_locator");
            return out;
        });
    }

    Result<std::vector<Locator>> user_locators(const UserId& user) override {
        return with_reader([&](sqlite3* db) -> Result<std::vector<Locator>> {
            Statement s(db, "SELECT a.locator FROM appointments a JOIN users u USING (user_key) "
                            "WHERE u.user_id = ? ORDER BY a.locator");
            if (!s.ok()) return sqlite_error(db, "user_locators");
            s.bind(1, user);
            std::vector<Locator> out;
            int rc;
            while ((rc = s.step()) == SQLITE_ROW) out.push_back(s.array<16>(0));
            if (rc != SQLITE_DONE) return sqlite_error(db, "user_locators");
            return out;
        });
    }

    Status for_each_locator(const std::function<void(const Locator&)>& visit) override {
        return with_reader([&](sqlite3* db) -> Status {
            Statement s(db, "SELECT locator FROM appointments");
            if (!s.ok()) return sqlite_error(db, "for_each_locator");
            int rc;
            while ((rc = s.step()) == SQLITE_ROW) visit(s.array<16>(0));
            if (rc != SQLITE_DONE) return sqlite_error(db, "for_each_locator");
            return {};
        });
    }

    Result<std::uint64_t> remove_user(const UserId& user, std::size_t chunk) override {
        std::uint64_t removed = 0;
        for (;;) {
            std::lock_guard lock(writer_.mutex);
            sqlite3* db = writer_.db;
            if (auto ok = exec(db, "BEGIN IMMEDIATE"); !ok) return ok.error();
            Statement s(db, "DELETE FROM appointments WHERE user_key = (SELECT user_key FROM users WHERE user_id = ?1) "
                            "AND locator IN (SELECT locator FROM appointments WHERE user_key = "
                            "(SELECT user_key FROM users WHERE user_id = ?1) LIMIT ?2)");
            if (!s.ok()) {
                (void)exec(db, "ROLLBACK");
                return sqlite_error(db, "remove_user");
            }
            s.bind(1, user).bind(2, static_cast<std::int64_t>(chunk));
            if (s.step() != SQLITE_DONE) {
                (void)exec(db, "ROLLBACK");
                return sqlite_error(db, "remove_user");
            }
            auto changed = static_cast<std::uint64_t>(sqlite3_changes(db));
            removed += changed;
            if (changed < chunk) {
                Statement u(db, "DELETE FROM users WHERE user_id = ?");
                u.bind(1, user);
                if (!u.ok() || u.step() != SQLITE_DONE) {
                    (void)exec(db, "ROLLBACK");
                    return sqlite_error(db, "remove_user");
                }
            }
            if (auto ok = exec(db, "COMMIT"); !ok) return ok.error();
            if (changed < chunk) return removed;
        }
    }

    Result<StoreCounts> counts() override {
        return with_reader([&](sqlite3* db) -> Result<StoreCounts> {
            Statement s(db, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM appointments)");
            if (!s.ok() || s.step() != SQLITE_ROW) return sqlite_error(db, "counts");
            return StoreCounts{static_cast<std::uint64_t>(s.integer(0)), static_cast<std::uint64_t>(s.integer(1))};
        });
    }

    Result<std::vector<TrackerRecord>> load_trackers() override {
        return with_reader([&](sqlite3* db) -> Result<std::vector<TrackerRecord>> {
            Statement s(db, "SELECT t.locator, u.user_id, t.dispute_txid, t.dispute_tx, t.penalty_txid, t.penalty_tx, "
                            "t.broadcast_height, t.confirmed_height, t.blob_size FROM trackers t JOIN users u USING (user_key)");
            if (!s.ok()) return sqlite_error(db, "load_trackers");
            std::vector<TrackerRecord> out;
            int rc;
            while ((rc = s.step()) == SQLITE_ROW) {
                TrackerRecord t;
                t.locator = s.array<16>(0);
                t.user_id = s.array<33>(1);
                t.dispute_txid.bytes = s.array<32>(2);
                t.dispute_tx = s.blob(3);
                t.penalty_txid.bytes = s.array<32>(4);
                t.penalty_tx = s.blob(5);
                t.broadcast_height = static_cast<std::uint32_t>(s.integer(6));
                if (!s.is_null(7)) t.confirmed_height = static_cast<std::uint32_t>(s.integer(7));
                t.blob_size = static_cast<std::uint32_t>(s.integer(8));
                out.push_back(std::move(t));
            }
            if (rc != SQLITE_DONE) return sqlite_error(db, "load_trackers");
            return out;
        });
    }

    Result<std::optional<ChainPosition>> chain_position() override {
        return with_reader([&](sqlite3* db) -> Result<std::optional<ChainPosition>> {
            Statement s(db, "SELECT height, block_hash FROM chain_position");
            if (!s.ok()) return sqlite_error(db, "chain_position");
            int rc = s.step();
            if (rc == SQLITE_DONE) return std::optional<ChainPosition>();
            if (rc != SQLITE_ROW) return sqlite_error(db, "chain_position");
            return std::optional<ChainPosition>(
                ChainPosition{static_cast<std::uint32_t>(s.integer(0)), s.array<32>(1)});
        });
    }

    Status set_chain_position(const ChainPosition& position) override {
        std::lock_guard lock(writer_.mutex);
        Statement s(writer_.db, "INSERT INTO chain_position (singleton, height, block_hash) VALUES (1, ?, ?) "
                                "ON CONFLICT (singleton) DO UPDATE SET height = excluded.height, "
                                "block_hash = excluded.block_hash");
        if (!s.ok()) return sqlite_error(writer_.db, "set_chain_position");
        s.bind(1, static_cast<std::int64_t>(position.height)).bind(2, position.block_hash);
        if (s.step() != SQLITE_DONE) return sqlite_error(writer_.db, "set_chain_position");
        return {};
    }

    Status ping() override {
        return with_reader([&](sqlite3* db) -> Status {
            Statement s(db, "SELECT 1");
            if (!s.ok() || s.step() != SQLITE_ROW) return sqlite_error(db, "ping");
            return {};
        });
    }

    Result<int> schema_version() override {
        std::lock_guard lock(writer_.mutex);
        return current_version(writer_.db);
    }

private:
    static UserRecord user_from(const Statement& s) {
        return UserRecord{s.array<33>(0), static_cast<std::uint32_t>(s.integer(1)),
                          static_cast<std::uint32_t>(s.integer(2)), static_cast<std::uint32_t>(s.integer(3))};
    }

    static AppointmentRecord appointment_from(const Statement& s) {
        AppointmentRecord a;
        a.locator = s.array<16>(0);
        a.user_id = s.array<33>(1);
        a.trigger = static_cast<TriggerKind>(s.integer(2));
        a.payload = static_cast<PayloadKind>(s.integer(3));
        a.to_self_delay = static_cast<std::uint32_t>(s.integer(4));
        a.start_block = static_cast<std::uint32_t>(s.integer(5));
        a.blob = s.blob(6);
        return a;
    }

    Status apply(sqlite3* db, const WriteBatch& batch) {
        if (!batch.users.empty()) {
            Statement s(db, "INSERT INTO users (user_id, available_slots, subscription_start, subscription_expiry) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                            "available_slots = excluded.available_slots, "
                            "subscription_start = excluded.subscription_start, "
                            "subscription_expiry = excluded.subscription_expiry");
            if (!s.ok()) return sqlite_error(db, "write users");
            for (const auto& u : batch.users) {
                s.bind(1, u.user_id).bind(2, u.available_slots).bind(3, u.subscription_start).bind(4, u.subscription_expiry);
                if (s.step() != SQLITE_DONE) return sqlite_error(db, "write user");
                s.reset();
            }
        }
        if (!batch.appointments.empty()) {
            Statement s(db, "INSERT INTO appointments (user_key, locator, trigger_kind, payload_kind, "
                            "to_self_delay, start_block, blob) SELECT user_key, ?, ?, ?, ?, ?, ? FROM users "
                            "WHERE user_id = ? ON CONFLICT (user_key, locator) DO UPDATE SET "
                            "trigger_kind = excluded.trigger_kind, payload_kind = excluded.payload_kind, "
                            "to_self_delay = excluded.to_self_delay, start_block = excluded.start_block, "
                            "blob = excluded.blob");
            if (!s.ok()) return sqlite_error(db, "write appointments");
            for (const auto& a : batch.appointments) {
                s.bind(1, a.locator).bind(2, static_cast<std::int64_t>(a.trigger))
                    .bind(3, static_cast<std::int64_t>(a.payload)).bind(4, a.to_self_delay)
                    .bind(5, a.start_block).bind(6, a.blob).bind(7, a.user_id);
                if (s.step() != SQLITE_DONE) return sqlite_error(db, "write appointment");
                if (sqlite3_changes(db) != 1) {
                    return make_error(ErrorCode::storage, "appointment for unknown user");
                }
                s.reset();
            }
        }
        if (auto ok = remove_keys(db, batch.removed_appointments, "appointments"); !ok) return ok;
        if (!batch.trackers.empty()) {
            Statement s(db, "INSERT INTO trackers (user_key, locator, dispute_txid, dispute_tx, penalty_txid, "
                            "penalty_tx, broadcast_height, confirmed_height, blob_size) SELECT user_key, ?, ?, ?, ?, ?, ?, ?, ? "
                            "FROM users WHERE user_id = ? ON CONFLICT (user_key, locator) DO UPDATE SET "
                            "dispute_txid = excluded.dispute_txid, dispute_tx = excluded.dispute_tx, "
                            "penalty_txid = excluded.penalty_txid, penalty_tx = excluded.penalty_tx, "
                            "broadcast_height = excluded.broadcast_height, confirmed_height = excluded.confirmed_height, "
                            "blob_size = excluded.blob_size");
            if (!s.ok()) return sqlite_error(db, "write trackers");
            for (const auto& t : batch.trackers) {
                s.bind(1, t.locator).bind(2, t.dispute_txid.bytes).bind(3, t.dispute_tx).bind(4, t.penalty_txid.bytes)
                    .bind(5, t.penalty_tx).bind(6, t.broadcast_height);
                if (t.confirmed_height) {
                    s.bind(7, static_cast<std::int64_t>(*t.confirmed_height));
                } else {
                    s.bind_null(7);
                }
                s.bind(8, t.blob_size).bind(9, t.user_id);
                if (s.step() != SQLITE_DONE) return sqlite_error(db, "write tracker");
                if (sqlite3_changes(db) != 1) return make_error(ErrorCode::storage, "tracker for unknown user");
                s.reset();
            }
        }
        if (auto ok = remove_keys(db, batch.removed_trackers, "trackers"); !ok) return ok;
        if (batch.chain_position) {
            Statement s(db, "INSERT INTO chain_position (singleton, height, block_hash) VALUES (1, ?, ?) "
                            "ON CONFLICT (singleton) DO UPDATE SET height = excluded.height, block_hash = excluded.block_hash");
            if (!s.ok()) return sqlite_error(db, "write chain position");
            s.bind(1, static_cast<std::int64_t>(batch.chain_position->height)).bind(2, batch.chain_position->block_hash);
            if (s.step() != SQLITE_DONE) return sqlite_error(db, "write chain position");
        }
        return {};
    }

    static Status remove_keys(sqlite3* db, const std::vector<AppointmentKey>& keys, const std::string& table) {
        if (keys.empty()) return {};
        Statement s(db, ("DELETE FROM " + table + " WHERE locator = ? AND user_key = "
                         "(SELECT user_key FROM users WHERE user_id = ?)").c_str());
        if (!s.ok()) return sqlite_error(db, "remove from " + table);
        for (const auto& k : keys) {
            s.bind(1, k.locator).bind(2, k.user_id);
            if (s.step() != SQLITE_DONE) return sqlite_error(db, "remove from " + table);
            s.reset();
        }
        return {};
    }

    template <class F>
    auto with_reader(F&& f) -> decltype(f(static_cast<sqlite3*>(nullptr))) {
        // Try each reader without blocking, then wait on one chosen round-robin.
        for (auto& reader : readers_) {
            std::unique_lock lock(reader.mutex, std::try_to_lock);
            if (lock.owns_lock()) return f(reader.db);
        }
        auto& reader = readers_[next_reader_++ % readers_.size()];
        std::lock_guard lock(reader.mutex);
        return f(reader.db);
    }

    std::string path_;
    Connection writer_;
    std::array<Connection, 4> readers_;
    std::atomic<std::size_t> next_reader_{0};
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
    auto db = open_connection(path, true);
    if (!db) return db.error();
    auto store = std::make_unique<SqliteStore>(path, *db);
    if (auto ok = migrate(*db); !ok) return ok.error();
    if (auto ok = store->open_readers(); !ok) return ok.error();
    return std::unique_ptr<Store>(std::move(store));
}

}  // namespace argus::store
