#include "client/backup/backup_queue.h"

#include <sqlite3.h>

#include <cstring>
#include <iterator>
#include <map>
#include <mutex>

#include "client/backup/private_database.h"
#include "log/log.h"
#include "common/hex.h"

namespace argus::client {

const char* to_string(DeliveryStatus s) {
    switch (s) {
        case DeliveryStatus::pending: return "pending";
        case DeliveryStatus::acked: return "acked";
        case DeliveryStatus::failed: return "failed";
    }
    return "unknown";
}

namespace {
struct Migration {
    int version;
    const char* sql;
};

// Never edit a released migration: add the next one. Migration 1 keeps IF
// NOT EXISTS because builds before versioning created its tables at every
// open and left user_version at 0.
const Migration migrations[] = {
    {1, R"sql(
CREATE TABLE IF NOT EXISTS towers (
    tower_id BLOB PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL,
    standing TEXT NOT NULL DEFAULT 'active', misbehavior TEXT NOT NULL DEFAULT '',
    registered INTEGER NOT NULL DEFAULT 0, available_slots INTEGER NOT NULL DEFAULT 0,
    subscription_expiry INTEGER NOT NULL DEFAULT 0, last_seen_height INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS backups (
    locator BLOB PRIMARY KEY, commitment_txid BLOB NOT NULL, encrypted_blob BLOB NOT NULL,
    to_self_delay INTEGER NOT NULL, channel_id TEXT NOT NULL, commitment_number INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    tower_id BLOB NOT NULL REFERENCES towers ON DELETE CASCADE,
    locator BLOB NOT NULL REFERENCES backups ON DELETE CASCADE,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL,
    last_error TEXT NOT NULL DEFAULT '', start_block INTEGER, user_signature TEXT, tower_signature TEXT,
    PRIMARY KEY (tower_id, locator));
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (tower_id, status, next_attempt_ms);
)sql"},
    // The breaches towers reported (teos "dispute_responded"), one per backup.
    // tower_id names the reporting tower and outlives its removal.
    {2, R"sql(
CREATE TABLE breaches (
    locator BLOB PRIMARY KEY REFERENCES backups, channel_id TEXT NOT NULL, commitment_number INTEGER NOT NULL,
    dispute_txid BLOB NOT NULL, penalty_txid BLOB NOT NULL, tower_id BLOB NOT NULL, reported_ms INTEGER NOT NULL);
CREATE INDEX breaches_channel ON breaches (channel_id);
)sql"},
    // Penalty kits: each backup's kit (encrypted; NULL: none) and what each
    // tower advertised at its last registration.
    {3, R"sql(
ALTER TABLE backups ADD COLUMN kit_blob BLOB;
ALTER TABLE towers ADD COLUMN kit_max_blob INTEGER NOT NULL DEFAULT 0;
)sql"},
};
static_assert(std::size(migrations) == backup_queue_schema_version);

Error db_error(sqlite3* db, const std::string& what) {
    return make_error(ErrorCode::storage, "backup queue: " + what + ": " + sqlite3_errmsg(db));
}

Status exec(sqlite3* db, const char* sql) { return exec_sql(db, sql, "backup queue"); }
}  // namespace

struct BackupQueue::Impl {
    sqlite3* db = nullptr;
    std::mutex mutex;
    ~Impl() { sqlite3_close_v2(db); }

    // Runs `body` in one IMMEDIATE transaction; a locked or full database is an error, never a half-write.
    template <class F>
    Status transaction(F&& body) {
        if (auto ok = exec(db, "BEGIN IMMEDIATE"); !ok) return ok;
        Status result = body();
        if (result) result = exec(db, "COMMIT");
        if (!result) rollback(result.error());
        return result;
    }

    Status migrate();

    // A failed ROLLBACK is logged, not returned: the caller already reports `cause`.
    void rollback(const Error& cause) {
        if (auto ok = exec(db, "ROLLBACK"); !ok) {
            log_event(LogLevel::error, "backup_queue_rollback_failed",
                             {{"cause", cause.message}, {"error", ok.error().message}});
        }
    }
};

BackupQueue::BackupQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BackupQueue::~BackupQueue() = default;

Result<std::unique_ptr<BackupQueue>> BackupQueue::open(const std::string& path) {
    auto opened = open_private_database(path);
    if (!opened) return make_error(ErrorCode::storage, "backup queue: " + opened.error().message);
    auto impl = std::make_unique<Impl>();
    impl->db = *opened;
    for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
        if (auto ok = exec(impl->db, sql); !ok) return ok.error();
    }
    if (auto ok = impl->migrate(); !ok) return ok.error();
    return std::unique_ptr<BackupQueue>(new BackupQueue(std::move(impl)));
}

Status BackupQueue::Impl::migrate() {
    int current = 0;
    {
        Stmt version(db, "PRAGMA user_version");
        if (version.step() != SQLITE_ROW) return db_error(db, "read schema version");
        current = static_cast<int>(version.col_int(0));
    }
    if (current > backup_queue_schema_version) {
        return make_error(ErrorCode::storage, "backup queue: schema version " + std::to_string(current) +
                                                  " is newer than this build's " +
                                                  std::to_string(backup_queue_schema_version));
    }
    for (const auto& m : migrations) {
        if (m.version <= current) continue;
        auto applied = transaction([&]() -> Status {
            if (auto ok = exec(db, m.sql); !ok) return ok;
            return exec(db, ("PRAGMA user_version = " + std::to_string(m.version)).c_str());
        });
        if (!applied) {
            return make_error(ErrorCode::storage, "backup queue: migration " + std::to_string(m.version) +
                                                      " failed: " + applied.error().message);
        }
    }
    return {};
}

Status BackupQueue::add_tower(const TowerAddress& tower, std::int64_t now_ms) {
    std::lock_guard lock(impl_->mutex);
    sqlite3* db = impl_->db;
    return impl_->transaction([&]() -> Status {
        Stmt t(db, "INSERT INTO towers (tower_id, host, port) VALUES (?, ?, ?) ON CONFLICT (tower_id) DO UPDATE SET "
                   "host = excluded.host, port = excluded.port");
        t.blob(1, tower.id.bytes()).text(2, tower.host).integer(3, tower.port);
        if (t.step() != SQLITE_DONE) return db_error(db, "add tower");
        Stmt d(db, "INSERT OR IGNORE INTO deliveries (tower_id, locator, status, next_attempt_ms) "
                   "SELECT ?, locator, 'pending', ? FROM backups");
        d.blob(1, tower.id.bytes()).integer(2, now_ms);
        if (d.step() != SQLITE_DONE) return db_error(db, "replicate backups");
        return {};
    });
}

Status BackupQueue::remove_tower(const PublicKey& tower) {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "DELETE FROM towers WHERE tower_id = ?");
    s.blob(1, tower.bytes());
    if (s.step() != SQLITE_DONE) return db_error(impl_->db, "remove tower");
    if (sqlite3_changes(impl_->db) == 0) return make_error(ErrorCode::not_found, "no such tower");
    return {};
}

Result<bool> BackupQueue::enqueue(const BackupRecord& b, std::int64_t now_ms) {
    std::lock_guard lock(impl_->mutex);
    sqlite3* db = impl_->db;
    bool inserted = false;
    auto status = impl_->transaction([&]() -> Status {
        Stmt s(db, "INSERT OR IGNORE INTO backups (locator, commitment_txid, encrypted_blob, to_self_delay, channel_id, "
                   "commitment_number, kit_blob) VALUES (?, ?, ?, ?, ?, ?, ?)");
        s.blob(1, b.locator).blob(2, b.commitment_txid.bytes).blob(3, b.encrypted_blob).integer(4, b.to_self_delay)
            .text(5, b.channel_id).integer(6, static_cast<std::int64_t>(b.commitment_number));
        if (b.kit_blob.empty()) {
            s.null(7);
        } else {
            s.blob(7, b.kit_blob);
        }
        if (s.step() != SQLITE_DONE) return db_error(db, "enqueue");
        inserted = sqlite3_changes(db) == 1;
        Stmt d(db, "INSERT OR IGNORE INTO deliveries (tower_id, locator, status, next_attempt_ms) "
                   "SELECT tower_id, ?, 'pending', ? FROM towers WHERE standing = 'active'");
        d.blob(1, b.locator).integer(2, now_ms);
        if (d.step() != SQLITE_DONE) return db_error(db, "enqueue deliveries");
        return {};
    });
    if (!status) return status.error();
    return inserted;
}

Result<std::vector<TowerRecord>> BackupQueue::towers() {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "SELECT tower_id, host, port, standing, misbehavior, registered, available_slots, "
                      "subscription_expiry, last_seen_height, kit_max_blob FROM towers ORDER BY host, port");
    std::vector<TowerRecord> out;
    while (s.step() == SQLITE_ROW) {
        auto id = PublicKey::parse(s.col_blob(0));
        if (!id) continue;
        TowerRecord t{{*id, s.col_text(1), static_cast<std::uint16_t>(s.col_int(2))}, s.col_text(3), s.col_text(4),
                      s.col_int(5) != 0, static_cast<std::uint32_t>(s.col_int(6)), static_cast<std::uint32_t>(s.col_int(7)),
                      static_cast<std::uint32_t>(s.col_int(8)), static_cast<std::uint32_t>(s.col_int(9))};
        out.push_back(std::move(t));
    }
    if (!s.finished()) return db_error(impl_->db, "list towers");
    return out;
}

Result<std::vector<Delivery>> BackupQueue::due(const PublicKey& tower, std::int64_t now_ms, std::size_t limit) {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "SELECT b.locator, b.commitment_txid, b.encrypted_blob, b.to_self_delay, b.channel_id, "
                      "b.commitment_number, d.attempts, b.kit_blob FROM deliveries d JOIN backups b USING (locator) "
                      "WHERE d.tower_id = ? AND d.status = 'pending' AND d.next_attempt_ms <= ? "
                      "ORDER BY d.next_attempt_ms LIMIT ?");
    s.blob(1, tower.bytes()).integer(2, now_ms).integer(3, static_cast<std::int64_t>(limit));
    std::vector<Delivery> out;
    while (s.step() == SQLITE_ROW) {
        Delivery d;
        d.backup.locator = s.col_array<16>(0);
        d.backup.commitment_txid.bytes = s.col_array<32>(1);
        d.backup.encrypted_blob = s.col_blob(2);
        d.backup.to_self_delay = static_cast<std::uint32_t>(s.col_int(3));
        d.backup.channel_id = s.col_text(4);
        d.backup.commitment_number = static_cast<std::uint64_t>(s.col_int(5));
        d.attempts = static_cast<std::uint32_t>(s.col_int(6));
        d.backup.kit_blob = s.col_blob(7);
        out.push_back(std::move(d));
    }
    if (!s.finished()) return db_error(impl_->db, "due deliveries");
    return out;
}

Status BackupQueue::mark_acked(const PublicKey& tower, const Locator& locator, const AppointmentReceipt& r) {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "UPDATE deliveries SET status = 'acked', attempts = attempts + 1, last_error = '', start_block = ?, "
                      "user_signature = ?, tower_signature = ? WHERE tower_id = ? AND locator = ?");
    s.integer(1, r.start_block).text(2, r.user_signature).text(3, r.tower_signature).blob(4, tower.bytes()).blob(5, locator);
    if (s.step() != SQLITE_DONE) return db_error(impl_->db, "mark acked");
    Stmt t(impl_->db, "UPDATE towers SET available_slots = ?, subscription_expiry = ?, last_seen_height = ? WHERE tower_id = ?");
    t.integer(1, r.available_slots).integer(2, r.subscription_expiry).integer(3, r.start_block).blob(4, tower.bytes());
    if (t.step() != SQLITE_DONE) return db_error(impl_->db, "update tower slots");
    return {};
}

Status BackupQueue::mark_retry(const PublicKey& tower, const Locator& locator, const std::string& error, std::int64_t next_ms) {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_ms = ? "
                      "WHERE tower_id = ? AND locator = ?");
    s.text(1, error).integer(2, next_ms).blob(3, tower.bytes()).blob(4, locator);
    if (s.step() != SQLITE_DONE) return db_error(impl_->db, "mark retry");
    return {};
}

Status BackupQueue::mark_failed(const PublicKey& tower, const Locator& locator, const std::string& error) {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = ? "
                      "WHERE tower_id = ? AND locator = ?");
    s.text(1, error).blob(2, tower.bytes()).blob(3, locator);
    if (s.step() != SQLITE_DONE) return db_error(impl_->db, "mark failed");
    return {};
}

Status BackupQueue::set_registration(const PublicKey& tower, const RegistrationReceipt& r) {
    if (auto ok = set_slots(tower, r.available_slots, r.subscription_expiry, r.subscription_start); !ok) return ok;
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "UPDATE towers SET kit_max_blob = ? WHERE tower_id = ?");
    s.integer(1, r.kit_max_blob).blob(2, tower.bytes());
    if (s.step() != SQLITE_DONE) return db_error(impl_->db, "set kit capability");
    return {};
}

Status BackupQueue::set_slots(const PublicKey& tower, std::uint32_t slots, std::uint32_t expiry, std::uint32_t height) {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "UPDATE towers SET registered = 1, available_slots = ?, subscription_expiry = ?, "
                      "last_seen_height = max(last_seen_height, ?) WHERE tower_id = ?");
    s.integer(1, slots).integer(2, expiry).integer(3, height).blob(4, tower.bytes());
    if (s.step() != SQLITE_DONE) return db_error(impl_->db, "set registration");
    return {};
}

Status BackupQueue::mark_misbehaving(const PublicKey& tower, const std::string& why) {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "UPDATE towers SET standing = 'misbehaving', misbehavior = ? WHERE tower_id = ?");
    s.text(1, why).blob(2, tower.bytes());
    if (s.step() != SQLITE_DONE) return db_error(impl_->db, "mark misbehaving");
    return {};
}

Status BackupQueue::retry_now(std::int64_t now_ms) {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "UPDATE deliveries SET next_attempt_ms = ? WHERE status = 'pending'");
    s.integer(1, now_ms);
    if (s.step() != SQLITE_DONE) return db_error(impl_->db, "retry now");
    return {};
}

Result<std::vector<Locator>> BackupQueue::acked_locators(const PublicKey& tower) {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "SELECT locator FROM deliveries WHERE tower_id = ? AND status = 'acked' "
                      "AND locator NOT IN (SELECT locator FROM breaches)");
    s.blob(1, tower.bytes());
    std::vector<Locator> out;
    while (s.step() == SQLITE_ROW) out.push_back(s.col_array<16>(0));
    if (!s.finished()) return db_error(impl_->db, "acknowledged locators");
    return out;
}

Result<std::vector<TowerStatus>> BackupQueue::tower_status() {
    auto list = towers();
    if (!list) return list.error();
    std::lock_guard lock(impl_->mutex);
    std::vector<TowerStatus> out;
    for (auto& t : *list) {
        TowerStatus st{t, 0, 0, 0};
        Stmt s(impl_->db, "SELECT status, count(*) FROM deliveries WHERE tower_id = ? GROUP BY status");
        s.blob(1, t.address.id.bytes());
        while (s.step() == SQLITE_ROW) {
            std::string status = s.col_text(0);
            auto n = static_cast<std::size_t>(s.col_int(1));
            if (status == "pending") st.pending = n;
            if (status == "acked") st.acked = n;
            if (status == "failed") st.failed = n;
        }
        if (!s.finished()) return db_error(impl_->db, "tower status");
        out.push_back(std::move(st));
    }
    return out;
}

Result<std::vector<BackupView>> BackupQueue::backups() {
    std::lock_guard lock(impl_->mutex);
    std::vector<BackupView> out;
    Stmt s(impl_->db, "SELECT locator, commitment_txid, to_self_delay, channel_id, commitment_number FROM backups "
                      "ORDER BY channel_id, commitment_number");
    while (s.step() == SQLITE_ROW) {
        BackupView v;
        v.backup.locator = s.col_array<16>(0);
        v.backup.commitment_txid.bytes = s.col_array<32>(1);
        v.backup.to_self_delay = static_cast<std::uint32_t>(s.col_int(2));
        v.backup.channel_id = s.col_text(3);
        v.backup.commitment_number = static_cast<std::uint64_t>(s.col_int(4));
        Stmt d(impl_->db, "SELECT tower_id, status FROM deliveries WHERE locator = ?");
        d.blob(1, v.backup.locator);
        while (d.step() == SQLITE_ROW) v.deliveries.emplace_back(to_hex(d.col_blob(0)), d.col_text(1));
        if (!d.finished()) return db_error(impl_->db, "list deliveries");
        out.push_back(std::move(v));
    }
    if (!s.finished()) return db_error(impl_->db, "list backups");
    return out;
}

Result<std::vector<BackupRecord>> BackupQueue::breach_check_candidates(const PublicKey& tower, const Locator& after,
                                                                     std::size_t limit) {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "SELECT b.locator, b.commitment_txid, b.encrypted_blob, b.to_self_delay, b.channel_id, "
                      "b.commitment_number, b.kit_blob FROM deliveries d JOIN backups b USING (locator) "
                      "WHERE d.tower_id = ? AND d.status = 'acked' AND b.locator > ? AND NOT EXISTS "
                      "(SELECT 1 FROM breaches r WHERE r.locator = b.locator OR (b.channel_id != '' AND r.channel_id = b.channel_id)) "
                      "ORDER BY b.locator LIMIT ?");
    s.blob(1, tower.bytes()).blob(2, after).integer(3, static_cast<std::int64_t>(limit));
    std::vector<BackupRecord> out;
    while (s.step() == SQLITE_ROW) {
        BackupRecord b;
        b.locator = s.col_array<16>(0);
        b.commitment_txid.bytes = s.col_array<32>(1);
        b.encrypted_blob = s.col_blob(2);
        b.to_self_delay = static_cast<std::uint32_t>(s.col_int(3));
        b.channel_id = s.col_text(4);
        b.commitment_number = static_cast<std::uint64_t>(s.col_int(5));
        b.kit_blob = s.col_blob(6);
        out.push_back(std::move(b));
    }
    if (!s.finished()) return db_error(impl_->db, "breach check candidates");
    return out;
}

Result<bool> BackupQueue::record_breach(const BreachRecord& r) {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "INSERT OR IGNORE INTO breaches (locator, channel_id, commitment_number, dispute_txid, penalty_txid, "
                      "tower_id, reported_ms) VALUES (?, ?, ?, ?, ?, ?, ?)");
    s.blob(1, r.locator).text(2, r.channel_id).integer(3, static_cast<std::int64_t>(r.commitment_number))
        .blob(4, r.dispute_txid.bytes).blob(5, r.penalty_txid.bytes).blob(6, r.reported_by.bytes()).integer(7, r.reported_ms);
    if (s.step() != SQLITE_DONE) return db_error(impl_->db, "record breach");
    return sqlite3_changes(impl_->db) == 1;
}

namespace {
std::optional<BreachRecord> read_breach(const Stmt& s, int first) {
    auto tower = PublicKey::parse(s.col_blob(first + 5));
    if (!tower) return std::nullopt;
    BreachRecord r{.locator = s.col_array<16>(first),
                   .channel_id = s.col_text(first + 1),
                   .commitment_number = static_cast<std::uint64_t>(s.col_int(first + 2)),
                   .dispute_txid = Txid{s.col_array<32>(first + 3)},
                   .penalty_txid = Txid{s.col_array<32>(first + 4)},
                   .reported_by = *tower,
                   .reported_ms = s.col_int(first + 6)};
    return r;
}
}  // namespace

Result<std::vector<BreachRecord>> BackupQueue::breaches() {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "SELECT locator, channel_id, commitment_number, dispute_txid, penalty_txid, tower_id, reported_ms "
                      "FROM breaches ORDER BY rowid");
    std::vector<BreachRecord> out;
    while (s.step() == SQLITE_ROW) {
        if (auto r = read_breach(s, 0)) out.push_back(std::move(*r));
    }
    if (!s.finished()) return db_error(impl_->db, "list breaches");
    return out;
}

Result<std::vector<ChannelSummary>> BackupQueue::channels() {
    std::lock_guard lock(impl_->mutex);
    sqlite3* db = impl_->db;
    std::vector<ChannelSummary> out;
    std::map<std::string, std::size_t> index;
    Stmt c(db, "SELECT channel_id, count(*), max(commitment_number) FROM backups GROUP BY channel_id ORDER BY channel_id");
    while (c.step() == SQLITE_ROW) {
        ChannelSummary summary;
        summary.channel_id = c.col_text(0);
        summary.backups = static_cast<std::size_t>(c.col_int(1));
        summary.highest_commitment_number = static_cast<std::uint64_t>(c.col_int(2));
        index[summary.channel_id] = out.size();
        out.push_back(std::move(summary));
    }
    if (!c.finished()) return db_error(db, "list channels");
    auto find = [&](const std::string& id) -> ChannelSummary* {
        auto it = index.find(id);
        return it == index.end() ? nullptr : &out[it->second];
    };
    Stmt d(db, "SELECT b.channel_id, d.tower_id, d.status, count(*), max(b.commitment_number) "
               "FROM deliveries d JOIN backups b USING (locator) GROUP BY b.channel_id, d.tower_id, d.status "
               "ORDER BY b.channel_id, d.tower_id");
    while (d.step() == SQLITE_ROW) {
        ChannelSummary* summary = find(d.col_text(0));
        if (summary == nullptr) continue;
        std::string tower = to_hex(d.col_blob(1));
        if (summary->towers.empty() || summary->towers.back().tower != tower) {
            ChannelTowerSummary t;
            t.tower = tower;
            summary->towers.push_back(std::move(t));
        }
        auto& t = summary->towers.back();
        std::string status = d.col_text(2);
        auto n = static_cast<std::size_t>(d.col_int(3));
        if (status == "pending") t.pending = n;
        if (status == "failed") t.failed = n;
        if (status == "acked") {
            t.acked = n;
            t.last_acked_commitment_number = static_cast<std::uint64_t>(d.col_int(4));
        }
    }
    if (!d.finished()) return db_error(db, "channel deliveries");
    Stmt r(db, "SELECT locator, channel_id, commitment_number, dispute_txid, penalty_txid, tower_id, reported_ms "
               "FROM breaches ORDER BY rowid");
    while (r.step() == SQLITE_ROW) {
        auto breach = read_breach(r, 0);
        if (!breach) continue;
        ChannelSummary* summary = find(breach->channel_id);
        if (summary != nullptr && !summary->breach) summary->breach = std::move(*breach);
    }
    if (!r.finished()) return db_error(db, "channel breaches");
    return out;
}

Result<std::size_t> BackupQueue::pending_count() {
    std::lock_guard lock(impl_->mutex);
    Stmt s(impl_->db, "SELECT count(*) FROM deliveries WHERE status = 'pending'");
    if (s.step() != SQLITE_ROW) return db_error(impl_->db, "pending count");
    return static_cast<std::size_t>(s.col_int(0));
}

}  // namespace argus::client
