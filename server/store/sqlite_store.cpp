// SQLite backend: the embedded default for a personal tower.
//
// Durability: WAL with synchronous=FULL, so every COMMIT fsyncs the WAL before
// write() returns; an acknowledged appointment survives kill -9 and power loss.
// (synchronous=NORMAL would survive kill -9 but could lose the last commits on
// power loss.) Group commit in the caller amortises the fsync over many requests.
#include <sqlite3.h>

#include <array>
#include <condition_variable>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <thread>
#include <unistd.h>
#include <memory>
#include <string_view>
#include <type_traits>
#include <mutex>

#include "common/check.h"
#include "server/store/effects_tracker.h"
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
        // An empty span has no data pointer, which SQLite would bind as NULL.
        if (b.empty()) {
            sqlite3_bind_zeroblob(stmt_, i, 0);
        } else {
            sqlite3_bind_blob(stmt_, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
        }
        return *this;
    }
    Statement& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(stmt_, i, v);
        return *this;
    }
    Statement& bind_text(int i, std::string_view text) {
        sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
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
    std::string text(int col) const {
        const unsigned char* p = sqlite3_column_text(stmt_, col);
        return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
    }
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

// A failed ROLLBACK leaves SQLite to roll back when the connection next
// begins; it is reported, not hidden.
void rollback(sqlite3* db) {
    if (auto ok = exec(db, "ROLLBACK"); !ok) {
        std::fprintf(stderr, "argus store: sqlite rollback failed: %s\n", ok.error().message.c_str());
    }
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
            rollback(db);
            return make_error(ErrorCode::storage,
                              "migration " + m.name + " failed: " + ok.error().message);
        }
    }
    return {};
}

// WAL checkpoints off the commit path. SQLite's automatic checkpoint runs in
// the committing connection: every 1,000 pages, a commit also copies the WAL
// into the database file and fsyncs it (perf, 64 Electrum clients: the
// committer's reads and a good part of its writes and fsyncs). Here the
// writer's WAL hook (which replaces the automatic checkpoint) only wakes a
// thread that checkpoints on a connection of its own, PASSIVE, so neither the
// writer nor a reader ever waits for it. If the WAL still grows to
// `inline_frames` (that thread behind or failing), the writer checkpoints
// itself after its commit, as SQLite would have.
class Checkpointer {
public:
    static constexpr int wake_frames = 1000;     // SQLite's default automatic checkpoint
    static constexpr int inline_frames = 16000;  // 64 MiB of WAL with 4 KiB pages

    Checkpointer() = default;
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;
    ~Checkpointer() { stop(); }

    Status start(const std::string& path, sqlite3* writer) {
        auto db = open_connection(path, false);
        if (!db) return db.error();
        db_ = *db;
        thread_ = std::thread([this] { run(); });
        sqlite3_wal_hook(writer, &Checkpointer::hook, this);
        writer_ = writer;
        return {};
    }

    void stop() {
        if (writer_) sqlite3_wal_hook(writer_, nullptr, nullptr);
        writer_ = nullptr;
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
        sqlite3_close_v2(db_);
        db_ = nullptr;
    }

    std::uint64_t checkpoints() const { return checkpoints_.load(); }

private:
    // On the writer's thread, after each commit, with the WAL's length in pages.
    static int hook(void* self, sqlite3* db, const char*, int frames) {
        auto* c = static_cast<Checkpointer*>(self);
        if (frames >= inline_frames) {
            // The commit has happened whatever this returns; a checkpoint that
            // fails here leaves a longer WAL, retried after the next commit.
            sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        } else if (frames >= wake_frames) {
            {
                std::lock_guard lock(c->mutex_);
                c->pending_ = true;
            }
            c->wake_.notify_one();
        }
        return SQLITE_OK;
    }

    void run() {
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return pending_ || stopping_; });
                if (stopping_) return;
                pending_ = false;
            }
            // SQLITE_BUSY (another checkpoint under way) or an I/O error: the
            // WAL keeps its pages and the next commit asks again (and the
            // writer takes over at inline_frames).
            if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) == SQLITE_OK) {
                ++checkpoints_;
            }
        }
    }

    sqlite3* db_ = nullptr;
    sqlite3* writer_ = nullptr;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool pending_ = false;
    bool stopping_ = false;
    std::atomic<std::uint64_t> checkpoints_{0};
    std::thread thread_;
};

class SqliteStore final : public Store {
public:
    SqliteStore(std::string path, sqlite3* writer) : path_(std::move(path)) { writer_.db = writer; }

    Status open_readers() {
        for (auto& reader : readers_) {
            auto db = open_connection(path_, false);
            if (!db) return db.error();
            reader.db = *db;
        }
        return checkpointer_.start(path_, writer_.db);
    }

    std::string backend_name() const override { return "sqlite"; }

    Result<WriteEffects> write(const WriteBatch& batch) override {
        std::lock_guard lock(writer_.mutex);
        sqlite3* db = writer_.db;
        if (auto ok = exec(db, "BEGIN IMMEDIATE"); !ok) return ok.error();
        auto effects = apply(db, batch);
        if (effects) {
            if (auto ok = adjust_count(db, static_cast<std::int64_t>(effects->inserted.size()) -
                                               static_cast<std::int64_t>(effects->removed.size()));
                !ok) {
                effects = ok.error();
            }
        }
        if (!effects) {
            rollback(db);
            return effects.error();
        }
        if (auto ok = exec(db, "COMMIT"); !ok) {
            rollback(db);
            return ok.error();
        }
        return effects;
    }

    static Status adjust_count(sqlite3* db, std::int64_t delta) {
        if (delta == 0) return {};
        Statement s(db, "UPDATE appointment_count SET appointments = appointments + ?");
        if (!s.ok()) return sqlite_error(db, "count appointments");
        s.bind(1, delta);
        if (s.step() != SQLITE_DONE) return sqlite_error(db, "count appointments");
        return {};
    }

    Status bulk_load_appointments(std::span<const AppointmentRecord> appointments) override {
        std::lock_guard lock(writer_.mutex);
        sqlite3* db = writer_.db;
        if (auto ok = exec(db, "BEGIN IMMEDIATE"); !ok) return ok;
        auto load = [&]() -> Status {
            Statement insert(db, "INSERT INTO appointments (user_key, locator, trigger_kind, payload_kind, to_self_delay, "
                                 "start_block, blob) SELECT user_key, ?, ?, ?, ?, ?, ? FROM users WHERE user_id = ?");
            if (!insert.ok()) return sqlite_error(db, "bulk load");
            for (const auto& a : appointments) {
                insert.bind(1, a.locator).bind(2, static_cast<std::int64_t>(a.trigger))
                    .bind(3, static_cast<std::int64_t>(a.payload)).bind(4, a.to_self_delay)
                    .bind(5, a.start_block).bind(6, a.blob).bind(7, a.user_id);
                int rc = insert.step();
                insert.reset();
                if (rc != SQLITE_DONE) return sqlite_error(db, "bulk load");
                if (sqlite3_changes(db) != 1) return make_error(ErrorCode::not_found, "bulk load: appointment of an unknown user");
            }
            return {};
        };
        if (auto ok = load(); !ok) {
            rollback(db);
            return ok;
        }
        if (auto ok = adjust_count(db, static_cast<std::int64_t>(appointments.size())); !ok) {
            rollback(db);
            return ok;
        }
        if (auto ok = exec(db, "COMMIT"); !ok) {
            rollback(db);
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

    Status for_each_locator_prefix(const std::function<void(std::span<const Locator>)>& visit) override {
        return with_reader([&](sqlite3* db) -> Status {
            Statement s(db, "SELECT locator FROM appointments");
            if (!s.ok()) return sqlite_error(db, "for_each_locator");
            constexpr std::size_t batch_size = 16'384;
            std::vector<Locator> batch;
            batch.reserve(batch_size);
            int rc;
            while ((rc = s.step()) == SQLITE_ROW) {
                batch.push_back(s.array<16>(0));
                if (batch.size() == batch_size) {
                    visit(batch);
                    batch.clear();
                }
            }
            if (rc != SQLITE_DONE) return sqlite_error(db, "for_each_locator");
            if (!batch.empty()) visit(batch);
            return {};
        });
    }

    Result<StoreCounts> counts() override {
        return with_reader([&](sqlite3* db) -> Result<StoreCounts> {
            Statement s(db, "SELECT (SELECT count(*) FROM users), (SELECT appointments FROM appointment_count)");
            if (!s.ok() || s.step() != SQLITE_ROW) return sqlite_error(db, "counts");
            return StoreCounts{static_cast<std::uint64_t>(s.integer(0)), static_cast<std::uint64_t>(s.integer(1))};
        });
    }

    Result<std::vector<TrackerRecord>> load_trackers() override {
        return with_reader([&](sqlite3* db) -> Result<std::vector<TrackerRecord>> {
            Statement s(db, "SELECT t.locator, u.user_id, t.dispute_txid, t.dispute_tx, t.penalty_txid, t.penalty_tx, "
                            "t.broadcast_height, t.confirmed_height, t.blob_size, t.waiting_for_fee_until, t.kit_state "
                            "FROM trackers t JOIN users u USING (user_key)");
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
                if (!s.is_null(9)) t.waiting_for_fee_until = static_cast<std::uint32_t>(s.integer(9));
                if (!s.is_null(10)) t.kit_state = s.blob(10);
                out.push_back(std::move(t));
            }
            if (rc != SQLITE_DONE) return sqlite_error(db, "load_trackers");
            return out;
        });
    }

    Result<std::vector<ElectrumAccountRecord>> load_electrum_accounts() override {
        return with_reader([&](sqlite3* db) -> Result<std::vector<ElectrumAccountRecord>> {
            Statement s(db, "SELECT e.username, u.user_id, e.password_hash FROM electrum_accounts e "
                            "JOIN users u USING (user_key)");
            if (!s.ok()) return sqlite_error(db, "load_electrum_accounts");
            std::vector<ElectrumAccountRecord> out;
            int rc;
            while ((rc = s.step()) == SQLITE_ROW) out.push_back({s.text(0), s.array<33>(1), s.text(2)});
            if (rc != SQLITE_DONE) return sqlite_error(db, "load_electrum_accounts");
            return out;
        });
    }

    Result<std::vector<ElectrumChannelRecord>> load_electrum_channels() override {
        return with_reader([&](sqlite3* db) -> Result<std::vector<ElectrumChannelRecord>> {
            Statement s(db, "SELECT u.user_id, c.funding_txid, c.funding_vout, c.funding_address, c.max_ctn "
                            "FROM electrum_channels c JOIN users u USING (user_key)");
            if (!s.ok()) return sqlite_error(db, "load_electrum_channels");
            std::vector<ElectrumChannelRecord> out;
            int rc;
            while ((rc = s.step()) == SQLITE_ROW) {
                ElectrumChannelRecord c;
                c.account = s.array<33>(0);
                c.funding_txid.bytes = s.array<32>(1);
                c.funding_vout = static_cast<std::uint32_t>(s.integer(2));
                c.funding_address = s.text(3);
                c.max_ctn = s.integer(4);
                out.push_back(std::move(c));
            }
            if (rc != SQLITE_DONE) return sqlite_error(db, "load_electrum_channels");
            return out;
        });
    }

    Result<std::vector<ChannelCloseRecord>> load_channel_closes() override {
        return with_reader([&](sqlite3* db) -> Result<std::vector<ChannelCloseRecord>> {
            Statement s(db, "SELECT funding_txid, funding_vout, closing_txid, closed_height, close_type, penalty_txid "
                            "FROM electrum_channel_closes");
            if (!s.ok()) return sqlite_error(db, "load_channel_closes");
            std::vector<ChannelCloseRecord> out;
            int rc;
            while ((rc = s.step()) == SQLITE_ROW) {
                ChannelCloseRecord c;
                c.funding_txid.bytes = s.array<32>(0);
                c.funding_vout = static_cast<std::uint32_t>(s.integer(1));
                c.closing_txid.bytes = s.array<32>(2);
                c.height = static_cast<std::uint32_t>(s.integer(3));
                c.type = static_cast<CloseType>(s.integer(4));
                if (!s.is_null(5)) c.penalty_txid = Txid{s.array<32>(5)};
                out.push_back(c);
            }
            if (rc != SQLITE_DONE) return sqlite_error(db, "load_channel_closes");
            return out;
        });
    }

    Result<std::vector<SessionRecord>> load_sessions() override {
        return with_reader([&](sqlite3* db) -> Result<std::vector<SessionRecord>> {
            Statement s(db, "SELECT u.user_id, w.blob_type, w.max_updates, w.reward_base, w.reward_rate, "
                            "w.sweep_fee_rate, w.last_applied, w.client_last_applied, w.reward_script "
                            "FROM wtwire_sessions w JOIN users u USING (user_key)");
            if (!s.ok()) return sqlite_error(db, "load_sessions");
            std::vector<SessionRecord> out;
            int rc;
            while ((rc = s.step()) == SQLITE_ROW) {
                SessionRecord r;
                r.account = s.array<33>(0);
                r.blob_type = static_cast<std::uint16_t>(s.integer(1));
                r.max_updates = static_cast<std::uint16_t>(s.integer(2));
                r.reward_base = static_cast<std::uint32_t>(s.integer(3));
                r.reward_rate = static_cast<std::uint32_t>(s.integer(4));
                r.sweep_fee_rate = static_cast<std::uint64_t>(s.integer(5));
                r.last_applied = static_cast<std::uint16_t>(s.integer(6));
                r.client_last_applied = static_cast<std::uint16_t>(s.integer(7));
                r.reward_script = s.blob(8);
                out.push_back(std::move(r));
            }
            if (rc != SQLITE_DONE) return sqlite_error(db, "load_sessions");
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

    // One sqlite3_backup_step(-1) on a connection of its own: the whole copy
    // is one read transaction, so it is one consistent snapshot, and in WAL
    // mode the writer goes on meanwhile. The copy is written beside the
    // destination, made self-contained (journal_mode=DELETE), synced, read
    // back and only then renamed into place.
    Result<BackupInfo> backup(const std::string& destination) override {
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::path dest(destination);
        if (destination.empty() || !dest.is_absolute()) {
            return make_error(ErrorCode::invalid_argument, "backup path must be absolute: '" + destination + "'");
        }
        if (fs::exists(dest, ec) || fs::is_symlink(dest, ec)) {
            return make_error(ErrorCode::invalid_argument, destination + " exists: a backup never overwrites a file");
        }
        if (!fs::is_directory(dest.parent_path(), ec)) {
            return make_error(ErrorCode::invalid_argument,
                              "backup directory " + dest.parent_path().string() + " does not exist");
        }
        std::string partial = destination + ".partial";
        fs::remove(partial, ec);  // what an interrupted backup left
        auto source = open_connection(path_, false);
        if (!source) return source.error();
        Connection src;
        src.db = *source;
        Connection dst;
        if (sqlite3_open_v2(partial.c_str(), &dst.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
            Error e = sqlite_error(dst.db, "cannot create " + partial);
            fs::remove(partial, ec);
            return e;
        }
        auto failed = [&](Error e) -> Result<BackupInfo> {
            sqlite3_close_v2(dst.db);
            dst.db = nullptr;
            fs::remove(partial, ec);
            fs::remove(partial + "-journal", ec);
            return e;
        };
        sqlite3_backup* copy = sqlite3_backup_init(dst.db, "main", src.db, "main");
        if (copy == nullptr) return failed(sqlite_error(dst.db, "backup"));
        int rc = SQLITE_OK;
        for (int attempt = 0; attempt < 100; ++attempt) {
            rc = sqlite3_backup_step(copy, -1);
            if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        sqlite3_backup_finish(copy);
        if (rc != SQLITE_DONE) return failed(sqlite_error(dst.db, "backup step"));
        if (auto ok = exec(dst.db, "PRAGMA journal_mode=DELETE"); !ok) return failed(ok.error());
        BackupInfo info;
        info.path = destination;
        {
            Statement check(dst.db, "PRAGMA quick_check");
            if (!check.ok() || check.step() != SQLITE_ROW) return failed(sqlite_error(dst.db, "backup quick_check"));
            if (std::string verdict = check.text(0); verdict != "ok") {
                return failed(make_error(ErrorCode::storage, "backup copy fails quick_check: " + verdict));
            }
        }
        {
            Statement s(dst.db, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM appointments), "
                                "(SELECT coalesce(max(version), 0) FROM schema_migrations)");
            if (!s.ok() || s.step() != SQLITE_ROW) return failed(sqlite_error(dst.db, "reading the backup"));
            info.counts = StoreCounts{static_cast<std::uint64_t>(s.integer(0)), static_cast<std::uint64_t>(s.integer(1))};
            info.schema_version = static_cast<int>(s.integer(2));
        }
        {
            Statement s(dst.db, "SELECT height, block_hash FROM chain_position");
            if (!s.ok()) return failed(sqlite_error(dst.db, "reading the backup"));
            int row = s.step();
            if (row == SQLITE_ROW) {
                info.chain_position = ChainPosition{static_cast<std::uint32_t>(s.integer(0)), s.array<32>(1)};
            } else if (row != SQLITE_DONE) {
                return failed(sqlite_error(dst.db, "reading the backup"));
            }
        }
        if (sqlite3_close(dst.db) != SQLITE_OK) return failed(sqlite_error(dst.db, "closing the backup"));
        dst.db = nullptr;
        if (auto ok = sync_path(partial, O_RDONLY); !ok) return failed(ok.error());
        fs::rename(partial, dest, ec);
        if (ec) return failed(make_error(ErrorCode::storage, "cannot rename the backup into place: " + ec.message()));
        if (auto ok = sync_path(dest.parent_path().string(), O_RDONLY | O_DIRECTORY); !ok) return ok.error();
        info.bytes = fs::file_size(dest, ec);
        return info;
    }

private:
    static Status sync_path(const std::string& path, int flags) {
        int fd = ::open(path.c_str(), flags | O_CLOEXEC);
        if (fd < 0) return make_error(ErrorCode::storage, "cannot open " + path + " to sync it");
        int rc = ::fsync(fd);
        ::close(fd);
        if (rc != 0) return make_error(ErrorCode::storage, "fsync " + path + " failed");
        return {};
    }

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

    // The writer's statements, prepared once per batch on first use.
    struct Statements {
        explicit Statements(sqlite3* connection) : db(connection) {}
        Statement& get(std::unique_ptr<Statement>& slot, const char* sql) {
            if (!slot) slot = std::make_unique<Statement>(db, sql);
            return *slot;
        }
        sqlite3* db;
        std::unique_ptr<Statement> put_user, insert_appointment, update_appointment, remove_appointment, put_tracker,
            remove_tracker, put_session, user_appointments, remove_user, chain_position, put_electrum_account,
            put_electrum_channel, put_channel_close, remove_channel_close, add_slots;
    };

    // Applies the operations in order. Each appointment operation reports
    // whether the row existed before it and exists after it.
    Result<WriteEffects> apply(sqlite3* db, const WriteBatch& batch) {
        Statements st(db);
        EffectsTracker effects;
        for (const auto& operation : batch.operations) {
            Status ok = std::visit(
                [&](const auto& op) -> Status {
                    using Op = std::decay_t<decltype(op)>;
                    if constexpr (std::is_same_v<Op, PutUser>) {
                        return put_user(st, op.user);
                    } else if constexpr (std::is_same_v<Op, PutAppointment>) {
                        return put_appointment(st, op.appointment, effects);
                    } else if constexpr (std::is_same_v<Op, RemoveAppointment>) {
                        return remove_appointment(st, op.key, effects);
                    } else if constexpr (std::is_same_v<Op, PutTracker>) {
                        return put_tracker(st, op.tracker);
                    } else if constexpr (std::is_same_v<Op, RemoveTracker>) {
                        return remove_tracker(st, op.key);
                    } else if constexpr (std::is_same_v<Op, PutSession>) {
                        return put_session(st, op.session);
                    } else if constexpr (std::is_same_v<Op, RemoveUser>) {
                        return remove_user(st, op.user, effects);
                    } else if constexpr (std::is_same_v<Op, PutElectrumAccount>) {
                        return put_electrum_account(st, op.account);
                    } else if constexpr (std::is_same_v<Op, PutElectrumChannel>) {
                        return put_electrum_channel(st, op.channel);
                    } else if constexpr (std::is_same_v<Op, PutChannelClose>) {
                        return put_channel_close(st, op.close);
                    } else if constexpr (std::is_same_v<Op, RemoveChannelClose>) {
                        return remove_channel_close(st, op);
                    } else if constexpr (std::is_same_v<Op, AddSlots>) {
                        return add_slots(st, op);
                    } else {
                        static_assert(std::is_same_v<Op, SetChainPosition>);
                        return set_position(st, op.position);
                    }
                },
                operation);
            if (!ok) return ok.error();
        }
        return effects.finish();
    }

    static Status put_user(Statements& st, const UserRecord& u) {
        Statement& s = st.get(st.put_user,
                              "INSERT INTO users (user_id, available_slots, subscription_start, subscription_expiry) "
                              "VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                              "available_slots = excluded.available_slots, "
                              "subscription_start = excluded.subscription_start, "
                              "subscription_expiry = excluded.subscription_expiry");
        if (!s.ok()) return sqlite_error(st.db, "write users");
        s.bind(1, u.user_id).bind(2, u.available_slots).bind(3, u.subscription_start).bind(4, u.subscription_expiry);
        int rc = s.step();
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "write user");
        return {};
    }

    static Status add_slots(Statements& st, const AddSlots& a) {
        Statement& s = st.get(st.add_slots,
                              "UPDATE users SET available_slots = min(available_slots + ?, 4294967295) WHERE user_id = ?");
        if (!s.ok()) return sqlite_error(st.db, "write users");
        s.bind(1, a.slots).bind(2, a.user);
        int rc = s.step();
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "add slots");
        return {};
    }

    // Insert, else update: two statements so the row's prior existence is known.
    static Status put_appointment(Statements& st, const AppointmentRecord& a, EffectsTracker& effects) {
        Statement& insert = st.get(st.insert_appointment,
                                   "INSERT INTO appointments (user_key, locator, trigger_kind, payload_kind, "
                                   "to_self_delay, start_block, blob) SELECT user_key, ?, ?, ?, ?, ?, ? FROM users "
                                   "WHERE user_id = ? ON CONFLICT (user_key, locator) DO NOTHING");
        if (!insert.ok()) return sqlite_error(st.db, "write appointments");
        insert.bind(1, a.locator).bind(2, static_cast<std::int64_t>(a.trigger))
            .bind(3, static_cast<std::int64_t>(a.payload)).bind(4, a.to_self_delay)
            .bind(5, a.start_block).bind(6, a.blob).bind(7, a.user_id);
        int rc = insert.step();
        insert.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "write appointment");
        if (sqlite3_changes(st.db) == 1) {
            effects.observed(effects_key(a.user_id, a.locator), a.locator, false, true);
            return {};
        }
        Statement& update = st.get(st.update_appointment,
                                   "UPDATE appointments SET trigger_kind = ?, payload_kind = ?, to_self_delay = ?, "
                                   "start_block = ?, blob = ? WHERE locator = ? AND user_key = "
                                   "(SELECT user_key FROM users WHERE user_id = ?)");
        if (!update.ok()) return sqlite_error(st.db, "write appointments");
        update.bind(1, static_cast<std::int64_t>(a.trigger)).bind(2, static_cast<std::int64_t>(a.payload))
            .bind(3, a.to_self_delay).bind(4, a.start_block).bind(5, a.blob).bind(6, a.locator).bind(7, a.user_id);
        rc = update.step();
        update.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "write appointment");
        if (sqlite3_changes(st.db) != 1) return make_error(ErrorCode::storage, "appointment for unknown user");
        effects.observed(effects_key(a.user_id, a.locator), a.locator, true, true);
        return {};
    }

    static Status remove_appointment(Statements& st, const AppointmentKey& k, EffectsTracker& effects) {
        Statement& s = st.get(st.remove_appointment,
                              "DELETE FROM appointments WHERE locator = ? AND user_key = "
                              "(SELECT user_key FROM users WHERE user_id = ?)");
        if (!s.ok()) return sqlite_error(st.db, "remove appointment");
        s.bind(1, k.locator).bind(2, k.user_id);
        int rc = s.step();
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "remove appointment");
        if (sqlite3_changes(st.db) == 1) effects.observed(effects_key(k.user_id, k.locator), k.locator, true, false);
        return {};
    }

    static Status put_tracker(Statements& st, const TrackerRecord& t) {
        Statement& s = st.get(st.put_tracker,
                              "INSERT INTO trackers (user_key, locator, dispute_txid, dispute_tx, penalty_txid, "
                              "penalty_tx, broadcast_height, confirmed_height, blob_size, waiting_for_fee_until, kit_state) "
                              "SELECT user_key, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
                              "FROM users WHERE user_id = ? ON CONFLICT (user_key, locator) DO UPDATE SET "
                              "dispute_txid = excluded.dispute_txid, dispute_tx = excluded.dispute_tx, "
                              "penalty_txid = excluded.penalty_txid, penalty_tx = excluded.penalty_tx, "
                              "broadcast_height = excluded.broadcast_height, confirmed_height = excluded.confirmed_height, "
                              "blob_size = excluded.blob_size, waiting_for_fee_until = excluded.waiting_for_fee_until, "
                              "kit_state = excluded.kit_state");
        if (!s.ok()) return sqlite_error(st.db, "write trackers");
        s.bind(1, t.locator).bind(2, t.dispute_txid.bytes).bind(3, t.dispute_tx).bind(4, t.penalty_txid.bytes)
            .bind(5, t.penalty_tx).bind(6, t.broadcast_height);
        if (t.confirmed_height) {
            s.bind(7, static_cast<std::int64_t>(*t.confirmed_height));
        } else {
            s.bind_null(7);
        }
        s.bind(8, t.blob_size);
        if (t.waiting_for_fee_until) {
            s.bind(9, static_cast<std::int64_t>(*t.waiting_for_fee_until));
        } else {
            s.bind_null(9);
        }
        if (t.kit_state.empty()) {
            s.bind_null(10);
        } else {
            s.bind(10, t.kit_state);
        }
        s.bind(11, t.user_id);
        int rc = s.step();
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "write tracker");
        // A tracker whose user was removed meanwhile (expired, deleted by the
        // operator, or a wtwire DeleteSession) is not written (0 rows).
        return {};
    }

    static Status remove_tracker(Statements& st, const AppointmentKey& k) {
        Statement& s = st.get(st.remove_tracker,
                              "DELETE FROM trackers WHERE locator = ? AND user_key = "
                              "(SELECT user_key FROM users WHERE user_id = ?)");
        if (!s.ok()) return sqlite_error(st.db, "remove tracker");
        s.bind(1, k.locator).bind(2, k.user_id);
        int rc = s.step();
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "remove tracker");
        return {};
    }

    // The user's appointments (reported one by one), then the user; its
    // trackers go with it (ON DELETE CASCADE).
    static Status remove_user(Statements& st, const UserId& user, EffectsTracker& effects) {
        Statement& s = st.get(st.user_appointments,
                              "DELETE FROM appointments WHERE user_key = (SELECT user_key FROM users WHERE user_id = ?) "
                              "RETURNING locator");
        if (!s.ok()) return sqlite_error(st.db, "remove user");
        s.bind(1, user);
        int rc;
        while ((rc = s.step()) == SQLITE_ROW) {
            Locator locator = s.array<16>(0);
            effects.observed(effects_key(user, locator), locator, true, false);
        }
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "remove user");
        Statement& u = st.get(st.remove_user, "DELETE FROM users WHERE user_id = ?");
        if (!u.ok()) return sqlite_error(st.db, "remove user");
        u.bind(1, user);
        rc = u.step();
        u.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "remove user");
        return {};
    }

    static Status put_session(Statements& st, const SessionRecord& r) {
        Statement& s = st.get(st.put_session,
                              "INSERT INTO wtwire_sessions (user_key, blob_type, max_updates, reward_base, reward_rate, "
                              "sweep_fee_rate, last_applied, client_last_applied, reward_script) "
                              "SELECT user_key, ?, ?, ?, ?, ?, ?, ?, ? FROM users WHERE user_id = ? "
                              "ON CONFLICT (user_key) DO UPDATE SET blob_type = excluded.blob_type, "
                              "max_updates = excluded.max_updates, reward_base = excluded.reward_base, "
                              "reward_rate = excluded.reward_rate, sweep_fee_rate = excluded.sweep_fee_rate, "
                              "last_applied = excluded.last_applied, "
                              "client_last_applied = excluded.client_last_applied, "
                              "reward_script = excluded.reward_script");
        if (!s.ok()) return sqlite_error(st.db, "write sessions");
        s.bind(1, std::int64_t{r.blob_type}).bind(2, std::int64_t{r.max_updates}).bind(3, std::int64_t{r.reward_base})
            .bind(4, std::int64_t{r.reward_rate}).bind(5, static_cast<std::int64_t>(r.sweep_fee_rate))
            .bind(6, std::int64_t{r.last_applied}).bind(7, std::int64_t{r.client_last_applied})
            .bind(8, r.reward_script).bind(9, r.account);
        int rc = s.step();
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "write session");
        if (sqlite3_changes(st.db) != 1) return make_error(ErrorCode::storage, "session for unknown user");
        return {};
    }

    static Status put_electrum_account(Statements& st, const ElectrumAccountRecord& a) {
        Statement& s = st.get(st.put_electrum_account,
                              "INSERT INTO electrum_accounts (user_key, username, password_hash) "
                              "SELECT user_key, ?, ? FROM users WHERE user_id = ? "
                              "ON CONFLICT (user_key) DO UPDATE SET username = excluded.username, "
                              "password_hash = excluded.password_hash");
        if (!s.ok()) return sqlite_error(st.db, "write electrum accounts");
        s.bind_text(1, a.username).bind_text(2, a.password_hash).bind(3, a.account);
        int rc = s.step();
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "write electrum account");
        if (sqlite3_changes(st.db) != 1) return make_error(ErrorCode::storage, "electrum account for unknown user");
        return {};
    }

    static Status put_electrum_channel(Statements& st, const ElectrumChannelRecord& c) {
        Statement& s = st.get(st.put_electrum_channel,
                              "INSERT INTO electrum_channels (user_key, funding_txid, funding_vout, funding_address, "
                              "max_ctn) SELECT user_key, ?, ?, ?, ? FROM users WHERE user_id = ? "
                              "ON CONFLICT (user_key, funding_txid, funding_vout) DO UPDATE SET "
                              "funding_address = excluded.funding_address, max_ctn = excluded.max_ctn");
        if (!s.ok()) return sqlite_error(st.db, "write electrum channels");
        s.bind(1, c.funding_txid.bytes).bind(2, std::int64_t{c.funding_vout}).bind_text(3, c.funding_address)
            .bind(4, c.max_ctn).bind(5, c.account);
        int rc = s.step();
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "write electrum channel");
        if (sqlite3_changes(st.db) != 1) return make_error(ErrorCode::storage, "electrum channel for unknown user");
        return {};
    }

    static Status put_channel_close(Statements& st, const ChannelCloseRecord& c) {
        Statement& s = st.get(st.put_channel_close,
                              "INSERT INTO electrum_channel_closes (funding_txid, funding_vout, closing_txid, "
                              "closed_height, close_type, penalty_txid) VALUES (?, ?, ?, ?, ?, ?) "
                              "ON CONFLICT (funding_txid, funding_vout) DO UPDATE SET closing_txid = excluded.closing_txid, "
                              "closed_height = excluded.closed_height, close_type = excluded.close_type, "
                              "penalty_txid = excluded.penalty_txid");
        if (!s.ok()) return sqlite_error(st.db, "write channel closes");
        s.bind(1, c.funding_txid.bytes).bind(2, std::int64_t{c.funding_vout}).bind(3, c.closing_txid.bytes)
            .bind(4, std::int64_t{c.height}).bind(5, static_cast<std::int64_t>(c.type));
        if (c.penalty_txid) {
            s.bind(6, c.penalty_txid->bytes);
        } else {
            s.bind_null(6);
        }
        int rc = s.step();
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "write channel close");
        return {};
    }

    static Status remove_channel_close(Statements& st, const RemoveChannelClose& r) {
        Statement& s = st.get(st.remove_channel_close,
                              "DELETE FROM electrum_channel_closes WHERE funding_txid = ? AND funding_vout = ?");
        if (!s.ok()) return sqlite_error(st.db, "remove channel closes");
        s.bind(1, r.funding_txid.bytes).bind(2, std::int64_t{r.funding_vout});
        int rc = s.step();
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "remove channel close");
        return {};
    }

    static Status set_position(Statements& st, const ChainPosition& position) {
        Statement& s = st.get(st.chain_position,
                              "INSERT INTO chain_position (singleton, height, block_hash) VALUES (1, ?, ?) "
                              "ON CONFLICT (singleton) DO UPDATE SET height = excluded.height, "
                              "block_hash = excluded.block_hash");
        if (!s.ok()) return sqlite_error(st.db, "write chain position");
        s.bind(1, static_cast<std::int64_t>(position.height)).bind(2, position.block_hash);
        int rc = s.step();
        s.reset();
        if (rc != SQLITE_DONE) return sqlite_error(st.db, "write chain position");
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
    Checkpointer checkpointer_;  // stops before the connections close
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
