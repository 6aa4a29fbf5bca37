// PostgreSQL backend (libpqxx 6.4): towers as a service, 10^8+ appointments.
//
// Writes go through one connection, reads through a small pool. A batch is one
// transaction of ordered operations, each run of one kind a multi-row
// statement, all sent in two round trips (WriteTransaction), so group commit
// pays one WAL flush and two round trips for many appointments. A lost connection (a
// PostgreSQL restart) is reported as `unavailable` and re-opened on next use.
#include <libpq-fe.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <array>
#include <optional>
#include <unordered_map>
#include <atomic>
#include <span>
#include <type_traits>
#include <unordered_set>
#include <mutex>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>

#include "common/hex.h"
#include "server/store/copy_binary.h"
#include "server/store/effects_tracker.h"
#include "server/store/migrations.h"
#include "server/store/store.h"

namespace argus::store {

namespace {

std::string bytea(ByteSpan b) { return "'\\x" + to_hex(b) + "'::bytea"; }
std::string param(ByteSpan b) { return "\\x" + to_hex(b); }

template <std::size_t N>
ByteArray<N> array_from(const pqxx::field& f) {
    pqxx::binarystring b(f);
    ByteArray<N> out{};
    if (b.size() == N) std::copy(b.data(), b.data() + N, out.begin());
    return out;
}

// The locator as migration 7 stores it: its first and last 8 bytes as
// big-endian signed bigints (loc_hi, loc_lo).
std::int64_t be64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return static_cast<std::int64_t>(v);
}
std::int64_t loc_hi(const Locator& l) { return be64(l.data()); }
std::int64_t loc_lo(const Locator& l) { return be64(l.data() + 8); }
Locator locator_of(std::int64_t hi, std::int64_t lo) {
    Locator l{};
    auto h = static_cast<std::uint64_t>(hi), w = static_cast<std::uint64_t>(lo);
    for (int i = 7; i >= 0; --i) {
        l[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(h);
        l[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(w);
        h >>= 8;
        w >>= 8;
    }
    return l;
}
Locator locator_from(const pqxx::field& hi, const pqxx::field& lo) {
    return locator_of(hi.as<std::int64_t>(), lo.as<std::int64_t>());
}

// Appointments are partitioned by start_block in ranges of this many blocks
// (migration 7 names them appointments_h<first block>).
constexpr std::uint32_t appointment_partition_blocks = 144;
std::uint32_t partition_of(std::uint32_t start_block) {
    return start_block / appointment_partition_blocks * appointment_partition_blocks;
}

Bytes bytes_from(const pqxx::field& f) {
    pqxx::binarystring b(f);
    return Bytes(b.data(), b.data() + b.size());
}

struct Connection {
    std::unique_ptr<pqxx::connection> conn;
    std::mutex mutex;
    bool put_appointments_prepared = false;  // this conn has the statement below
};

// The appointments' insert, prepared once per connection (SQL PREPARE, so
// that it can be EXECUTEd inside a pipeline) and given the rows as arrays:
// PostgreSQL then parses, analyses and plans it once instead of at every
// batch, where a VALUES list of a few dozen rows cost it more than the
// insert itself. Each row's user is found by its own index lookup.
constexpr const char* put_appointments_statement = "argus_put_appointments";
const std::string put_appointments_prepare =
    std::string("PREPARE ") + put_appointments_statement +
    " (text[], bigint[], bigint[], integer[], bigint[], smallint[], smallint[], text[]) AS "
    "INSERT INTO appointments (loc_hi, loc_lo, user_key, start_block, to_self_delay, trigger_kind, payload_kind, blob) "
    "SELECT s.loc_hi, s.loc_lo, s.user_key, s.start_block, s.to_self_delay, s.trigger_kind, s.payload_kind, "
    "decode(s.blob, 'hex') FROM (SELECT v.*, (SELECT u.user_key FROM users u WHERE u.user_id = decode(v.user_id, 'hex')) "
    "AS user_key FROM unnest($1, $2, $3, $4, $5, $6, $7, $8) AS v(user_id, loc_hi, loc_lo, start_block, to_self_delay, "
    "trigger_kind, payload_kind, blob)) s WHERE s.user_key IS NOT NULL RETURNING user_key, loc_hi, loc_lo";

// Every write transaction holds this advisory lock shared; opening the store
// takes it exclusively once (and lets go), which waits until every write
// transaction already under way has ended. A tower killed right after sending
// COMMIT leaves its transaction running in PostgreSQL; without the barrier a
// restarted tower could load users before that commit lands and then write
// over it (seen: a killed tower's last appointment stored without its slot
// charge, after the restarted one's registration overwrote the user).
constexpr long long write_barrier_key = postgres_write_barrier_key;

// One write transaction, sent in as few round trips as its statements'
// dependencies allow. Each statement is queued with the check of its result;
// flush() sends everything queued as one multi-statement query (a
// pqxx::pipeline) and runs the checks in queue order, stopping at the first
// that fails. BEGIN travels with the first flush and COMMIT with the last,
// which is sent only once every check has passed, so a batch costs two round
// trips instead of one per statement. Code that needs a result before it can
// build its next statement flushes first. Not committed: rolled back (and the
// connection closed if even that fails, so it is opened afresh).
class WriteTransaction {
public:
    using Check = std::function<Status(const pqxx::result&)>;

    explicit WriteTransaction(pqxx::connection& c) : connection_(c), session_(c) { queued_.push_back({"BEGIN", nullptr}); }
    ~WriteTransaction() {
        if (finished_) return;
        try {
            session_.exec("ROLLBACK");
        } catch (...) {
            try {
                connection_.disconnect();
            } catch (...) {
            }
        }
    }
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;

    void add(std::string sql, Check check = nullptr) { queued_.push_back({std::move(sql), std::move(check)}); }
    std::string quote(const std::string& text) { return session_.quote(text); }
    // For a statement that must run now: flush() first.
    pqxx::transaction_base& session() { return session_; }

    Status flush() {
        if (queued_.empty()) return {};
        auto queued = std::move(queued_);
        queued_.clear();
        std::vector<pqxx::result> results;
        results.reserve(queued.size());
        if (queued.size() == 1) {
            results.push_back(session_.exec(queued.front().sql));
        } else {
            pqxx::pipeline pipe(session_);
            pipe.retain(static_cast<int>(queued.size()));  // nothing leaves before complete(): one round trip
            std::vector<pqxx::pipeline::query_id> ids;
            ids.reserve(queued.size());
            for (const auto& q : queued) ids.push_back(pipe.insert(q.sql));
            pipe.complete();
            for (auto id : ids) results.push_back(pipe.retrieve(id));
        }
        for (std::size_t i = 0; i < queued.size(); ++i) {
            if (!queued[i].check) continue;
            if (auto ok = queued[i].check(results[i]); !ok) return ok;
        }
        return {};
    }

    // The remaining statements and COMMIT in one round trip. A connection
    // lost here leaves the commit in doubt: reported as `unavailable`.
    Status commit() {
        for (const auto& q : queued_) {
            if (q.check) {
                // A check after COMMIT could not undo anything: checked first.
                if (auto ok = flush(); !ok) return ok;
                break;
            }
        }
        add("COMMIT");
        try {
            if (auto ok = flush(); !ok) return ok;
        } catch (const pqxx::broken_connection& e) {
            throw pqxx::in_doubt_error(e.what());
        }
        finished_ = true;
        return {};
    }

private:
    struct Statement {
        std::string sql;
        Check check;
    };
    pqxx::connection& connection_;
    pqxx::nontransaction session_;
    std::vector<Statement> queued_;
    bool finished_ = false;
};

// A libpq connection for the start-up scan of the locators: libpqxx 6.4
// has no binary COPY of a query. Errors are typed: `unavailable` when the
// connection is gone, `storage` when the server refused.
class LocatorScan {
public:
    explicit LocatorScan(std::string conninfo) : conninfo_(std::move(conninfo)) {}

    Status connect() {
        conn_.reset(PQconnectdb(conninfo_.c_str()));
        if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) return failure("locator scan connection");
        return {};
    }

    Status command(const std::string& sql) {
        ResultPtr r(PQexec(conn_.get(), sql.c_str()), &PQclear);
        if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) return failure("locator scan (" + sql + ")");
        return {};
    }

    // A statement whose failure changes nothing: under a savepoint, so that
    // the transaction goes on after it. Returns whether it ran; a lost
    // connection shows in the next command.
    bool try_command(const std::string& sql) {
        if (!command("SAVEPOINT try_command")) return false;
        ResultPtr r(PQexec(conn_.get(), sql.c_str()), &PQclear);
        bool ran = r && (PQresultStatus(r.get()) == PGRES_COMMAND_OK || PQresultStatus(r.get()) == PGRES_TUPLES_OK);
        return command(ran ? "RELEASE SAVEPOINT try_command" : "ROLLBACK TO SAVEPOINT try_command") && ran;
    }

    // The first column of every row, as text.
    Result<std::vector<std::string>> values(const std::string& sql) {
        ResultPtr r(PQexec(conn_.get(), sql.c_str()), &PQclear);
        if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) return failure("locator scan (" + sql + ")");
        std::vector<std::string> out;
        for (int row = 0; row < PQntuples(r.get()); ++row) out.emplace_back(PQgetvalue(r.get(), row, 0));
        return out;
    }

    // Runs a COPY ... TO STDOUT (FORMAT binary) of one bigint column (a
    // locator's first 8 bytes) and visits the locators in batches.
    Status copy_locators(const std::string& sql, const std::function<void(std::span<const Locator>)>& visit) {
        ResultPtr started(PQexec(conn_.get(), sql.c_str()), &PQclear);
        if (!started || PQresultStatus(started.get()) != PGRES_COPY_OUT) return failure("locator scan (" + sql + ")");
        BigintCopyDecoder decoder;
        constexpr std::size_t batch_size = 16'384;
        std::vector<std::int64_t> values;
        std::vector<Locator> batch;
        values.reserve(batch_size);
        batch.reserve(batch_size);
        auto flush = [&] {
            for (std::int64_t hi : values) batch.push_back(locator_of(hi, 0));
            values.clear();
            visit(batch);
            batch.clear();
        };
        for (;;) {
            char* buffer = nullptr;
            int length = PQgetCopyData(conn_.get(), &buffer, 0);
            if (length < 0) break;  // -1: the copy is complete; -2: failed (the result says why)
            std::unique_ptr<char, decltype(&PQfreemem)> owned(buffer, &PQfreemem);
            auto decoded =
                decoder.feed(ByteSpan(reinterpret_cast<const std::uint8_t*>(buffer), static_cast<std::size_t>(length)), values);
            if (!decoded) {
                conn_.reset();  // closing the connection ends the COPY on the server
                return make_error(decoded.error().code, "postgres: locator scan: " + decoded.error().message);
            }
            if (values.size() >= batch_size) flush();
        }
        ResultPtr end(PQgetResult(conn_.get()), &PQclear);
        if (!end || PQresultStatus(end.get()) != PGRES_COMMAND_OK) return failure("locator scan (COPY)");
        // Drained, so that the connection takes the next command.
        while (PGresult* more = PQgetResult(conn_.get())) PQclear(more);
        if (!decoder.finished()) return make_error(ErrorCode::truncated, "postgres: locator scan: COPY ended without its trailer");
        if (!values.empty()) flush();
        return {};
    }

private:
    using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

    Error failure(const std::string& what) const {
        bool connected = conn_ && PQstatus(conn_.get()) == CONNECTION_OK;
        std::string detail = conn_ ? PQerrorMessage(conn_.get()) : "no connection";
        while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
        return make_error(connected ? ErrorCode::storage : ErrorCode::unavailable,
                          "postgres: " + what + (detail.empty() ? "" : ": " + detail));
    }

    std::string conninfo_;
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn_{nullptr, &PQfinish};
};

class PostgresStore final : public Store {
    std::set<std::uint32_t> partitions_;  // appointment partitions known to exist; under the writer's mutex

public:
    PostgresStore(std::string conninfo, const PostgresStoreOptions& options)
        : conninfo_(std::move(conninfo)),
          options_(options),
          readers_(options.read_connections == 0 ? 1 : options.read_connections) {}

    std::string backend_name() const override { return "postgres"; }

    Status migrate() {
        return with(writer_, [&](pqxx::connection& c) -> Status {
            pqxx::work tx(c);
            tx.exec0("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL)");
            // Serialise concurrent starts of several towers on one database.
            tx.exec0("LOCK TABLE schema_migrations IN EXCLUSIVE MODE");
            int version = tx.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0].as<int>();
            const auto& migrations = postgres_migrations();
            int known = migrations.empty() ? 0 : migrations.back().version;
            if (version > known) {
                return make_error(ErrorCode::storage,
                                  "database schema version " + std::to_string(version) +
                                      " is newer than this build knows (" + std::to_string(known) +
                                      "); upgrade Argus");
            }
            for (const auto& m : migrations) {
                if (m.version <= version) continue;
                tx.exec(m.sql);
                tx.exec0("INSERT INTO schema_migrations (version, name) VALUES (" + std::to_string(m.version) +
                         ", " + tx.quote(m.name) + ")");
            }
            // The write barrier (see write_barrier_key): nothing is read
            // before the writes of a previous, killed tower have ended.
            tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(write_barrier_key) + ")");
            tx.commit();
            return {};
        });
    }

    // Operations take effect in order. For few round trips they are applied in
    // phases: a phase gathers consecutive operations as long as none touches a
    // key that an operation of another kind in the phase touched (and nothing
    // touches a user being removed), so applying the phase kind by kind (users,
    // appointments, removals, trackers, tracker removals, user removals,
    // position), each kind as one multi-row statement with the last operation
    // per key winning, leaves what applying them one by one would. Group commit
    // of API writes (put user, put appointment, ...) is one phase.
    Result<WriteEffects> write(const WriteBatch& batch) override { return write_on(writer_, batch); }

    bool writes_apart() const override { return true; }
    // On the remover's connection: users' removals only, so no partition is
    // created or looked up (partitions_ is the writer's).
    Result<WriteEffects> write_apart(const WriteBatch& batch) override {
        for (const auto& op : batch.operations) {
            if (!std::holds_alternative<RemoveUser>(op)) {
                return make_error(ErrorCode::invalid_argument, "write_apart takes only user removals");
            }
        }
        return write_on(remover_, batch);
    }

    Result<WriteEffects> write_on(Connection& connection, const WriteBatch& batch) {
        if (batch.empty()) return WriteEffects{};
        return with(connection, [&](pqxx::connection& c) -> Result<WriteEffects> {
            create_partitions_first(c, batch);
            if (!connection.put_appointments_prepared) {
                pqxx::nontransaction(c).exec0(put_appointments_prepare);
                connection.put_appointments_prepared = true;
            }
            WriteTransaction tx(c);
            tx.add("SELECT pg_advisory_xact_lock_shared(" + std::to_string(write_barrier_key) + ")");
            if (batch.fence_epoch) {
                // FOR SHARE: a takeover's epoch increment waits for this
                // transaction, and this one sees any increment committed before.
                std::uint64_t fence = *batch.fence_epoch;
                tx.add("SELECT epoch FROM tower_leader WHERE singleton FOR SHARE", [fence](const pqxx::result& r) -> Status {
                    std::uint64_t epoch = r.empty() ? 0 : r[0][0].as<std::uint64_t>();
                    if (epoch == fence) return {};
                    return make_error(ErrorCode::fenced, "the watcher's epoch " + std::to_string(fence) +
                                                             " is over: the group is at epoch " + std::to_string(epoch));
                });
            }
            EffectsTracker effects;
            std::set<std::uint32_t> created;
            PartitionScope partitions{partitions_, created};
            Phase phase;
            for (const auto& op : batch.operations) {
                if (!phase.admits(op)) {
                    if (auto ok = apply(tx, phase, effects, partitions); !ok) return ok.error();
                    phase = Phase{};
                }
                phase.add(op);
            }
            if (auto ok = apply(tx, phase, effects, partitions); !ok) return ok.error();
            if (auto ok = tx.flush(); !ok) return ok.error();  // every check has run: the effects are known
            WriteEffects out = effects.finish();
            adjust_count(tx, static_cast<long long>(out.inserted.size()) - static_cast<long long>(out.removed.size()));
            if (options_.feed_origin != 0) append_feed(tx, batch, out);
            if (auto ok = tx.commit(); !ok) return ok.error();
            partitions_.insert(created.begin(), created.end());
            return out;
        });
    }

    Status bulk_load_appointments(std::span<const AppointmentRecord> appointments) override {
        if (appointments.empty()) return {};
        std::unordered_set<std::string> keys_seen;
        for (const auto& a : appointments) {
            if (!keys_seen.insert(effects_key(a.user_id, a.locator)).second) {
                return make_error(ErrorCode::invalid_argument, "bulk load: an appointment key appears twice");
            }
        }
        return with(writer_, [&](pqxx::connection& c) -> Status {
            pqxx::work tx(c);
            tx.exec("SELECT pg_advisory_xact_lock_shared(" + std::to_string(write_barrier_key) + ")");
            std::map<UserId, long long> keys;
            for (const auto& a : appointments) keys.emplace(a.user_id, -1);
            std::ostringstream sql;
            sql << "SELECT u.user_id, u.user_key FROM users u JOIN (VALUES ";
            std::size_t i = 0;
            for (const auto& entry : keys) sql << (i++ ? "," : "") << "(" << bytea(entry.first) << ")";
            sql << ") AS v(user_id) ON u.user_id = v.user_id";
            for (const auto& row : tx.exec(sql.str())) keys[array_from<33>(row[0])] = row[1].as<long long>();
            for (const auto& entry : keys) {
                if (entry.second < 0) return make_error(ErrorCode::not_found, "bulk load: appointment of an unknown user");
            }
            std::set<std::uint32_t> created;
            PartitionScope partitions{partitions_, created};
            std::vector<std::uint32_t> starts;
            for (const auto& a : appointments) starts.push_back(a.start_block);
            std::sort(starts.begin(), starts.end());
            starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
            ensure_partitions(tx, starts, partitions);
            // COPY text format; stream_to escapes each field, so "\x..." reaches bytea's hex input.
            pqxx::stream_to copy(tx, "appointments",
                                 std::vector<std::string>{"loc_hi", "loc_lo", "user_key", "start_block", "to_self_delay",
                                                          "trigger_kind", "payload_kind", "blob"});
            for (const auto& a : appointments) {
                copy << std::make_tuple(static_cast<long long>(loc_hi(a.locator)), static_cast<long long>(loc_lo(a.locator)),
                                        keys[a.user_id], static_cast<long long>(a.start_block),
                                        static_cast<long long>(a.to_self_delay), static_cast<int>(a.trigger),
                                        static_cast<int>(a.payload), "\\x" + to_hex(a.blob));
            }
            copy.complete();
            tx.exec0("UPDATE appointment_count SET appointments = appointments + " + std::to_string(appointments.size()));
            tx.commit();
            partitions_.insert(created.begin(), created.end());
            return {};
        });
    }

    Result<std::vector<UserRecord>> load_users() override {
        return read<std::vector<UserRecord>>([&](pqxx::work& tx) {
            std::vector<UserRecord> out;
            for (const auto& row : tx.exec("SELECT user_id, available_slots, subscription_start, subscription_expiry FROM users")) {
                out.push_back(user_from(row));
            }
            return out;
        });
    }

    Result<std::optional<UserRecord>> get_user(const UserId& user) override {
        return read<std::optional<UserRecord>>([&](pqxx::work& tx) {
            auto r = tx.exec_params("SELECT user_id, available_slots, subscription_start, subscription_expiry "
                                    "FROM users WHERE user_id = $1::bytea", param(user));
            return r.empty() ? std::optional<UserRecord>() : std::optional<UserRecord>(user_from(r[0]));
        });
    }

    Result<std::optional<AppointmentRecord>> get_appointment(const AppointmentKey& key) override {
        return read_one<std::optional<AppointmentRecord>>([&](pqxx::transaction_base& tx) {
            auto r = tx.exec_prepared("get_appointment", pqxx::binarystring(key.user_id.data(), key.user_id.size()),
                                      static_cast<long long>(loc_hi(key.locator)), static_cast<long long>(loc_lo(key.locator)));
            return r.empty() ? std::optional<AppointmentRecord>() : std::optional<AppointmentRecord>(appointment_from(r[0]));
        });
    }

    Result<std::optional<std::size_t>> get_blob_size(const AppointmentKey& key) override {
        return read_one<std::optional<std::size_t>>([&](pqxx::transaction_base& tx) {
            auto r = tx.exec_prepared("get_blob_size", pqxx::binarystring(key.user_id.data(), key.user_id.size()),
                                      static_cast<long long>(loc_hi(key.locator)), static_cast<long long>(loc_lo(key.locator)));
            return r.empty() ? std::optional<std::size_t>() : std::optional<std::size_t>(r[0][0].as<std::size_t>());
        });
    }

    Result<std::vector<AppointmentRecord>> find_by_locator(const Locator& locator) override {
        return read<std::vector<AppointmentRecord>>([&](pqxx::work& tx) {
            std::vector<AppointmentRecord> out;
            for (const auto& row : tx.exec_prepared("find_by_locator", static_cast<long long>(loc_hi(locator)),
                                                    static_cast<long long>(loc_lo(locator)))) {
                out.push_back(appointment_from(row));
            }
            return out;
        });
    }

    // One statement for all of them: with a generic plan, each partition's
    // loc_hi index is probed once for the whole array, in one round trip.
    Result<std::vector<AppointmentRecord>> find_by_locators(std::span<const Locator> locators) override {
        std::vector<AppointmentRecord> out;
        if (locators.empty()) return out;
        std::set<std::pair<std::int64_t, std::int64_t>> wanted;
        std::string array = "{";
        for (const auto& l : locators) {
            if (wanted.emplace(loc_hi(l), loc_lo(l)).second) {
                array += (array.size() > 1 ? "," : "") + std::to_string(loc_hi(l));
            }
        }
        array += "}";
        return read_one<std::vector<AppointmentRecord>>([&](pqxx::nontransaction& tx) {
            for (const auto& row : tx.exec_prepared("find_by_locators", array)) {
                // loc_hi selects; the exact pair is checked here.
                if (wanted.count({row[0].as<std::int64_t>(), row[1].as<std::int64_t>()})) out.push_back(appointment_from(row));
            }
            return out;
        });
    }

    Result<std::vector<Locator>> user_locators(const UserId& user) override {
        return read<std::vector<Locator>>([&](pqxx::work& tx) {
            std::vector<Locator> out;
            for (const auto& row : tx.exec_params(
                     "SELECT a.loc_hi, a.loc_lo FROM appointments a JOIN users u USING (user_key) "
                     "WHERE u.user_id = $1::bytea", param(user))) {
                out.push_back(locator_from(row[0], row[1]));
            }
            std::sort(out.begin(), out.end());
            return out;
        });
    }

    // Binary COPYs of loc_hi from its indexes (an index-only scan reads a
    // tenth of the table's pages) on libpq connections of their own, two
    // partitions at a time, in one snapshot (exported by the first, imported
    // by the second): rows stream while the last ones are indexed, where a
    // cursor's FETCH waited a round trip per batch and parsed text (2.3x
    // slower at 10^7; two scans side by side take another 1.5x off:
    // docs/performance.md). Memory stays flat over 10^8 rows.
    //
    // From a cold cache (PostgreSQL and the machine restarted) a scan is a
    // walk of B-tree leaves written in random key order: random reads. When
    // the database has the pg_prewarm extension, each scan first reads its
    // partition's loc_hi index into the operating system's cache in file
    // order (pg_prewarm 'read': sequential), then copies it from there. Best
    // effort, under a savepoint: when the pre-read fails, the scan reads the
    // index itself.
    Status for_each_locator_prefix(const std::function<void(std::span<const Locator>)>& visit) override {
        constexpr std::size_t scans = 2;
        std::vector<LocatorScan> connections;
        for (std::size_t i = 0; i < scans; ++i) connections.emplace_back(conninfo_);
        std::string snapshot, prewarm_function;
        std::vector<std::string> partitions, locator_indexes;
        for (std::size_t i = 0; i < scans; ++i) {
            LocatorScan& c = connections[i];
            if (auto ok = c.connect(); !ok) return ok;
            if (auto ok = c.command("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !ok) return ok;
            if (i == 0) {
                auto exported = c.values("SELECT pg_export_snapshot()");
                if (!exported) return exported.error();
                snapshot = exported->at(0);
                auto names = c.values("SELECT format('%I.%I', n.nspname, k.relname) FROM pg_inherits i "
                                      "JOIN pg_class k ON k.oid = i.inhrelid JOIN pg_namespace n ON n.oid = k.relnamespace "
                                      "WHERE i.inhparent = 'appointments'::regclass ORDER BY 1");
                if (!names) return names.error();
                partitions = std::move(*names);
                // Each partition's B-tree on loc_hi (its OID, "" when none), in the same order.
                auto indexes = c.values(
                    "SELECT coalesce((SELECT x.indexrelid::text FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid "
                    "JOIN pg_am am ON am.oid = ic.relam JOIN pg_attribute a ON a.attrelid = x.indrelid "
                    "AND a.attnum = x.indkey[0] WHERE x.indrelid = k.oid AND x.indnatts = 1 AND a.attname = 'loc_hi' "
                    "AND am.amname = 'btree' LIMIT 1), '') FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid "
                    "JOIN pg_namespace n ON n.oid = k.relnamespace WHERE i.inhparent = 'appointments'::regclass "
                    "ORDER BY format('%I.%I', n.nspname, k.relname)");
                if (!indexes) return indexes.error();
                locator_indexes = std::move(*indexes);
                auto prewarm = c.values("SELECT format('%I.pg_prewarm', n.nspname) FROM pg_extension e "
                                        "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_prewarm'");
                if (!prewarm) return prewarm.error();
                if (!prewarm->empty() && locator_indexes.size() == partitions.size()) prewarm_function = prewarm->front();
            } else if (auto ok = c.command("SET TRANSACTION SNAPSHOT '" + snapshot + "'"); !ok) {
                return ok;
            }
            if (auto ok = c.command("SET LOCAL enable_seqscan = off"); !ok) return ok;
        }
        // Each scan takes the next partition; the visits are one at a time.
        std::mutex visit_mutex;
        std::atomic<std::size_t> next{0};
        std::vector<Status> outcome(scans);
        std::atomic<bool> prewarm_works{!prewarm_function.empty()};
        auto scan = [&](std::size_t i) {
            for (std::size_t p; (p = next++) < partitions.size();) {
                if (prewarm_works && !locator_indexes[p].empty() &&
                    !connections[i].try_command("SELECT " + prewarm_function + "(" + locator_indexes[p] +
                                                "::oid::regclass, 'read')")) {
                    prewarm_works = false;  // e.g. not allowed to run it: not tried again
                }
                outcome[i] = connections[i].copy_locators(
                    "COPY (SELECT loc_hi FROM " + partitions[p] + ") TO STDOUT (FORMAT binary)",
                    [&](std::span<const Locator> batch) {
                        std::lock_guard lock(visit_mutex);
                        visit(batch);
                    });
                if (!outcome[i]) {
                    next = partitions.size();  // the other stops at its next partition
                    return;
                }
            }
        };
        try {
            std::thread second([&] { scan(1); });
            scan(0);
            second.join();
        } catch (const std::system_error&) {  // no thread to be had: one scan takes every partition
            scan(0);
        }
        for (const Status& s : outcome) {
            if (!s) return s;
        }
        for (LocatorScan& c : connections) {
            if (auto ok = c.command("COMMIT"); !ok) return ok;
        }
        return {};
    }

    Result<StoreCounts> counts() override {
        return read<StoreCounts>([&](pqxx::work& tx) {
            auto r = tx.exec1("SELECT (SELECT count(*) FROM users), (SELECT appointments FROM appointment_count)");
            return StoreCounts{r[0].as<std::uint64_t>(), r[1].as<std::uint64_t>()};
        });
    }

    Result<std::vector<TrackerRecord>> load_trackers() override {
        return read<std::vector<TrackerRecord>>([&](pqxx::work& tx) {
            std::vector<TrackerRecord> out;
            for (const auto& row : tx.exec(tracker_columns)) out.push_back(tracker_from(row));
            return out;
        });
    }

    Result<std::vector<ElectrumAccountRecord>> load_electrum_accounts() override {
        return read<std::vector<ElectrumAccountRecord>>([&](pqxx::work& tx) {
            std::vector<ElectrumAccountRecord> out;
            for (const auto& row : tx.exec("SELECT e.username, u.user_id, e.password_hash FROM electrum_accounts e "
                                           "JOIN users u USING (user_key)")) {
                out.push_back({row[0].as<std::string>(), array_from<33>(row[1]), row[2].as<std::string>()});
            }
            return out;
        });
    }

    Result<std::vector<ElectrumChannelRecord>> load_electrum_channels() override {
        return read<std::vector<ElectrumChannelRecord>>([&](pqxx::work& tx) {
            std::vector<ElectrumChannelRecord> out;
            for (const auto& row : tx.exec("SELECT u.user_id, c.funding_txid, c.funding_vout, c.funding_address, "
                                           "c.max_ctn FROM electrum_channels c JOIN users u USING (user_key)")) {
                out.push_back(channel_from(row));
            }
            return out;
        });
    }

    Result<std::vector<ChannelCloseRecord>> load_channel_closes() override {
        return read<std::vector<ChannelCloseRecord>>([&](pqxx::work& tx) {
            std::vector<ChannelCloseRecord> out;
            for (const auto& row : tx.exec("SELECT funding_txid, funding_vout, closing_txid, closed_height, close_type, "
                                           "penalty_txid FROM electrum_channel_closes")) {
                ChannelCloseRecord c;
                c.funding_txid.bytes = array_from<32>(row[0]);
                c.funding_vout = row[1].as<std::uint32_t>();
                c.closing_txid.bytes = array_from<32>(row[2]);
                c.height = row[3].as<std::uint32_t>();
                c.type = static_cast<CloseType>(row[4].as<int>());
                if (!row[5].is_null()) c.penalty_txid = Txid{array_from<32>(row[5])};
                out.push_back(c);
            }
            return out;
        });
    }

    Result<std::vector<SessionRecord>> load_sessions() override {
        return read<std::vector<SessionRecord>>([&](pqxx::work& tx) {
            std::vector<SessionRecord> out;
            for (const auto& row : tx.exec("SELECT u.user_id, w.blob_type, w.max_updates, w.reward_base, w.reward_rate, "
                                           "w.sweep_fee_rate, w.last_applied, w.client_last_applied, w.reward_script "
                                           "FROM wtwire_sessions w JOIN users u USING (user_key)")) {
                out.push_back(session_from(row));
            }
            return out;
        });
    }

    Result<std::optional<ChainPosition>> chain_position() override {
        return read<std::optional<ChainPosition>>([&](pqxx::work& tx) {
            auto r = tx.exec("SELECT height, block_hash FROM chain_position");
            if (r.empty()) return std::optional<ChainPosition>();
            return std::optional<ChainPosition>(ChainPosition{r[0][0].as<std::uint32_t>(), array_from<32>(r[0][1])});
        });
    }

    Status set_chain_position(const ChainPosition& position) override {
        return with(writer_, [&](pqxx::connection& c) -> Status {
            pqxx::work tx(c);
            tx.exec_params("INSERT INTO chain_position (singleton, height, block_hash) VALUES (true, $1, $2::bytea) "
                           "ON CONFLICT (singleton) DO UPDATE SET height = excluded.height, block_hash = excluded.block_hash",
                           static_cast<long long>(position.height), param(position.block_hash));
            tx.commit();
            return {};
        });
    }

    Status ping() override {
        auto r = read<int>([&](pqxx::work& tx) { return tx.exec1("SELECT 1")[0].as<int>(); });
        if (!r) return r.error();
        return {};
    }

    Result<BackupInfo> backup(const std::string&) override {
        return make_error(ErrorCode::unsupported,
                          "a PostgreSQL store is backed up with PostgreSQL's own tools (pg_basebackup, continuous "
                          "archiving for point-in-time recovery): see docs/operations.md, Backup and restore");
    }

    Result<int> schema_version() override {
        return read<int>([&](pqxx::work& tx) {
            return tx.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0].as<int>();
        });
    }

    Result<std::optional<VersionedUser>> get_user_versioned(const UserId& user) override {
        return read_one<std::optional<VersionedUser>>([&](pqxx::transaction_base& tx) {
            auto r = tx.exec_prepared("get_user_versioned", pqxx::binarystring(user.data(), user.size()));
            if (r.empty()) return std::optional<VersionedUser>();
            return std::optional<VersionedUser>(VersionedUser{user_from(r[0]), r[0][4].as<std::uint64_t>()});
        });
    }

    Result<std::vector<VersionedUser>> load_users_versioned() override {
        return read<std::vector<VersionedUser>>([&](pqxx::work& tx) {
            std::vector<VersionedUser> out;
            for (const auto& row : tx.exec("SELECT user_id, available_slots, subscription_start, subscription_expiry, "
                                           "version FROM users")) {
                out.push_back(VersionedUser{user_from(row), row[4].as<std::uint64_t>()});
            }
            return out;
        });
    }

    Result<std::vector<UserId>> outdated_users(std::uint32_t height, std::uint32_t expiry_delta) override {
        return read<std::vector<UserId>>([&](pqxx::work& tx) {
            std::vector<UserId> out;
            for (const auto& row : tx.exec_params(
                     "SELECT user_id FROM users WHERE subscription_expiry <> 0 AND subscription_expiry + $1 <= $2 "
                     "AND get_byte(user_id, 0) NOT IN (18, 19)",
                     static_cast<std::int64_t>(expiry_delta), static_cast<std::int64_t>(height))) {
                out.push_back(array_from<33>(row[0]));
            }
            return out;
        });
    }

    Result<std::optional<SessionRecord>> get_session(const UserId& account) override {
        return read<std::optional<SessionRecord>>([&](pqxx::work& tx) {
            auto r = tx.exec_params("SELECT u.user_id, w.blob_type, w.max_updates, w.reward_base, w.reward_rate, "
                                    "w.sweep_fee_rate, w.last_applied, w.client_last_applied, w.reward_script "
                                    "FROM wtwire_sessions w JOIN users u USING (user_key) WHERE u.user_id = $1::bytea",
                                    param(account));
            if (r.empty()) return std::optional<SessionRecord>();
            return std::optional<SessionRecord>(session_from(r[0]));
        });
    }

    Result<std::optional<TrackerRecord>> get_tracker(const AppointmentKey& key) override {
        return read<std::optional<TrackerRecord>>([&](pqxx::work& tx) {
            auto r = tx.exec_params(std::string(tracker_columns) + " WHERE u.user_id = $1::bytea AND t.locator = $2::bytea",
                                    param(key.user_id), param(key.locator));
            if (r.empty()) return std::optional<TrackerRecord>();
            return std::optional<TrackerRecord>(tracker_from(r[0]));
        });
    }

    Result<std::vector<ElectrumChannelRecord>> electrum_channels_of(const UserId& account) override {
        return read<std::vector<ElectrumChannelRecord>>([&](pqxx::work& tx) {
            std::vector<ElectrumChannelRecord> out;
            for (const auto& row : tx.exec_params("SELECT u.user_id, c.funding_txid, c.funding_vout, c.funding_address, "
                                                  "c.max_ctn FROM electrum_channels c JOIN users u USING (user_key) "
                                                  "WHERE u.user_id = $1::bytea", param(account))) {
                out.push_back(channel_from(row));
            }
            return out;
        });
    }

    Result<std::vector<FeedEntry>> read_feed(std::uint64_t after, std::size_t limit) override {
        if (options_.feed_origin == 0) return Store::read_feed(after, limit);
        return read<std::vector<FeedEntry>>([&](pqxx::work& tx) {
            return feed_from(tx.exec_params("SELECT seq, origin, kind, loc_hi, loc_lo, user_id FROM appointment_feed "
                                            "WHERE seq > $1 ORDER BY seq LIMIT $2",
                                            static_cast<std::int64_t>(after), static_cast<std::int64_t>(limit)));
        });
    }

    Result<std::vector<FeedEntry>> read_others_feed(std::uint64_t after, std::size_t limit) override {
        if (options_.feed_origin == 0) return Store::read_others_feed(after, limit);
        return read<std::vector<FeedEntry>>([&](pqxx::work& tx) {
            return feed_from(tx.exec_params("SELECT seq, origin, kind, loc_hi, loc_lo, user_id FROM appointment_feed "
                                            "WHERE seq > $1 AND origin <> $2 ORDER BY seq LIMIT $3",
                                            static_cast<std::int64_t>(after),
                                            static_cast<std::int64_t>(options_.feed_origin),
                                            static_cast<std::int64_t>(limit)));
        });
    }

    Result<std::vector<FeedEntry>> recent_feed(std::chrono::seconds age, std::size_t limit) override {
        if (options_.feed_origin == 0) return Store::recent_feed(age, limit);
        return read<std::vector<FeedEntry>>([&](pqxx::work& tx) {
            return feed_from(tx.exec_params("SELECT seq, origin, kind, loc_hi, loc_lo, user_id FROM appointment_feed "
                                            "WHERE kind = 3 AND created_at > now() - make_interval(secs => $1) "
                                            "ORDER BY seq LIMIT $2",
                                            static_cast<std::int64_t>(age.count()), static_cast<std::int64_t>(limit)));
        });
    }

    Result<FeedBounds> feed_bounds() override {
        if (options_.feed_origin == 0) return Store::feed_bounds();
        return read<FeedBounds>([&](pqxx::work& tx) {
            auto r = tx.exec1("SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM appointment_feed");
            return FeedBounds{r[0].as<std::uint64_t>(), r[1].as<std::uint64_t>()};
        });
    }

    Status wait_for_feed(std::chrono::milliseconds timeout) override {
        if (options_.feed_origin == 0) return Store::wait_for_feed(timeout);
        std::lock_guard lock(listener_mutex_);
        try {
            if (!listener_ || !listener_->is_open()) {
                receiver_.reset();
                listener_ = std::make_unique<pqxx::connection>(conninfo_);
                receiver_ = std::make_unique<FeedReceiver>(*listener_);
            }
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
            listener_->await_notification(static_cast<long>(us / 1'000'000), static_cast<long>(us % 1'000'000));
            return {};
        } catch (const std::exception& e) {
            receiver_.reset();
            listener_.reset();
            return make_error(ErrorCode::unavailable, std::string("postgres feed listener: ") + e.what());
        }
    }

    Result<std::uint64_t> prune_feed(std::chrono::seconds age) override {
        if (options_.feed_origin == 0) return Store::prune_feed(age);
        // On a reader connection: API commits never wait for it.
        return with(readers_[next_reader_++ % readers_.size()], [&](pqxx::connection& c) -> Result<std::uint64_t> {
            pqxx::work tx(c);
            auto r = tx.exec_params("DELETE FROM appointment_feed WHERE created_at < now() - make_interval(secs => $1)",
                                    static_cast<std::int64_t>(age.count()));
            tx.commit();
            return static_cast<std::uint64_t>(r.affected_rows());
        });
    }

    Result<std::optional<std::pair<std::uint64_t, std::string>>> leader_epoch() override {
        using Value = std::optional<std::pair<std::uint64_t, std::string>>;
        return read<Value>([&](pqxx::work& tx) {
            auto r = tx.exec("SELECT epoch, holder FROM tower_leader");
            if (r.empty()) return Value();
            return Value(std::make_pair(r[0][0].as<std::uint64_t>(), r[0][1].as<std::string>()));
        });
    }

private:
    using Run = std::vector<const WriteOperation*>;

    struct FeedReceiver final : pqxx::notification_receiver {
        explicit FeedReceiver(pqxx::connection& c) : pqxx::notification_receiver(c, postgres_feed_channel) {}
        void operator()(const std::string&, int) override {}
    };

    static std::vector<FeedEntry> feed_from(const pqxx::result& r) {
        std::vector<FeedEntry> out;
        out.reserve(r.size());
        for (const auto& row : r) {
            FeedEntry e;
            e.seq = row[0].as<std::uint64_t>();
            e.origin = static_cast<std::uint64_t>(row[1].as<std::int64_t>());
            e.kind = static_cast<FeedEntry::Kind>(row[2].as<int>());
            e.locator = locator_from(row[3], row[4]);
            if (!row[5].is_null()) {
                pqxx::binarystring b(row[5]);
                if (e.kind == FeedEntry::Kind::watched && b.size() == 36) {
                    OutPoint o;
                    std::copy(b.data(), b.data() + 32, o.txid.bytes.begin());
                    o.index = 0;
                    for (int i = 3; i >= 0; --i) o.index = (o.index << 8) | static_cast<std::uint8_t>(b.data()[32 + i]);
                    e.outpoint = o;
                } else if (b.size() == 33) {
                    e.user = array_from<33>(row[5]);
                }
            }
            out.push_back(e);
        }
        return out;
    }

    static constexpr const char* tracker_columns =
        "SELECT t.locator, u.user_id, t.dispute_txid, t.dispute_tx, t.penalty_txid, "
        "t.penalty_tx, t.broadcast_height, t.confirmed_height, t.blob_size, t.waiting_for_fee_until, "
        "t.kit_state FROM trackers t JOIN users u USING (user_key)";

    static TrackerRecord tracker_from(const pqxx::row& row) {
        TrackerRecord t;
        t.locator = array_from<16>(row[0]);
        t.user_id = array_from<33>(row[1]);
        t.dispute_txid.bytes = array_from<32>(row[2]);
        t.dispute_tx = bytes_from(row[3]);
        t.penalty_txid.bytes = array_from<32>(row[4]);
        t.penalty_tx = bytes_from(row[5]);
        t.broadcast_height = row[6].as<std::uint32_t>();
        if (!row[7].is_null()) t.confirmed_height = row[7].as<std::uint32_t>();
        t.blob_size = row[8].as<std::uint32_t>();
        if (!row[9].is_null()) t.waiting_for_fee_until = row[9].as<std::uint32_t>();
        if (!row[10].is_null()) t.kit_state = bytes_from(row[10]);
        return t;
    }

    static SessionRecord session_from(const pqxx::row& row) {
        SessionRecord r;
        r.account = array_from<33>(row[0]);
        r.blob_type = row[1].as<std::uint16_t>();
        r.max_updates = row[2].as<std::uint16_t>();
        r.reward_base = row[3].as<std::uint32_t>();
        r.reward_rate = row[4].as<std::uint32_t>();
        r.sweep_fee_rate = row[5].as<std::uint64_t>();
        r.last_applied = row[6].as<std::uint16_t>();
        r.client_last_applied = row[7].as<std::uint16_t>();
        r.reward_script = bytes_from(row[8]);
        return r;
    }

    static ElectrumChannelRecord channel_from(const pqxx::row& row) {
        ElectrumChannelRecord c;
        c.account = array_from<33>(row[0]);
        c.funding_txid.bytes = array_from<32>(row[1]);
        c.funding_vout = row[2].as<std::uint32_t>();
        c.funding_address = row[3].as<std::string>();
        c.max_ctn = row[4].as<std::int64_t>();
        return c;
    }

    struct Phase {
        std::array<Run, std::variant_size_v<WriteOperation>> by_kind;
        std::unordered_map<std::string, std::size_t> kind_of_key;  // appointment/tracker key -> kind
        std::unordered_set<std::string> users_touched;
        std::unordered_set<std::string> users_removed;

        static std::string user_key(const UserId& u) { return std::string(u.begin(), u.end()); }
        static std::optional<std::pair<std::string, UserId>> keyed(const WriteOperation& op) {
            auto key = [](char table, const AppointmentKey& k) {
                return std::make_pair(table + effects_key(k.user_id, k.locator), k.user_id);
            };
            if (auto* a = std::get_if<PutAppointment>(&op)) return key('a', {a->appointment.locator, a->appointment.user_id});
            if (auto* r = std::get_if<RemoveAppointment>(&op)) return key('a', r->key);
            if (auto* t = std::get_if<PutTracker>(&op)) return key('t', {t->tracker.locator, t->tracker.user_id});
            if (auto* r = std::get_if<RemoveTracker>(&op)) return key('t', r->key);
            if (auto* s = std::get_if<PutSession>(&op)) return key('s', {Locator{}, s->session.account});
            if (auto* e = std::get_if<PutElectrumAccount>(&op)) return key('e', {Locator{}, e->account.account});
            auto outpoint_key = [&](char table, const Txid& txid, std::uint32_t vout) {
                Locator l{};  // the outpoint's first txid bytes and its vout name the row
                std::copy_n(txid.bytes.begin(), 12, l.begin());
                for (int i = 0; i < 4; ++i) l[12 + i] = static_cast<std::uint8_t>(vout >> (8 * i));
                return key(table, {l, UserId{}});
            };
            if (auto* c = std::get_if<PutChannelClose>(&op)) return outpoint_key('x', c->close.funding_txid, c->close.funding_vout);
            if (auto* r = std::get_if<RemoveChannelClose>(&op)) return outpoint_key('x', r->funding_txid, r->funding_vout);
            if (auto* c = std::get_if<PutElectrumChannel>(&op)) {
                Locator channel{};  // the funding outpoint's first bytes and its vout name the row
                std::copy_n(c->channel.funding_txid.bytes.begin(), 12, channel.begin());
                for (int i = 0; i < 4; ++i) channel[12 + i] = static_cast<std::uint8_t>(c->channel.funding_vout >> (8 * i));
                return key('c', {channel, c->channel.account});
            }
            return std::nullopt;
        }
        std::unordered_set<std::string> users_refunded;  // AddSlots: ordered against PutUser by phases
        bool admits(const WriteOperation& op) const {
            if (auto* u = std::get_if<PutUser>(&op)) {
                auto k = user_key(u->user.user_id);
                return !users_removed.count(k) && !users_refunded.count(k);
            }
            if (auto* a = std::get_if<AddSlots>(&op)) return !users_touched.count(user_key(a->user));
            if (auto* r = std::get_if<RemoveUser>(&op)) return !users_touched.count(user_key(r->user));
            if (auto k = keyed(op)) {
                if (users_removed.count(user_key(k->second))) return false;
                auto it = kind_of_key.find(k->first);
                return it == kind_of_key.end() || it->second == op.index();
            }
            return true;  // the chain position: the last one wins
        }
        void add(const WriteOperation& op) {
            by_kind[op.index()].push_back(&op);
            if (auto* u = std::get_if<PutUser>(&op)) users_touched.insert(user_key(u->user.user_id));
            if (auto* r = std::get_if<RemoveUser>(&op)) users_removed.insert(user_key(r->user));
            if (auto* a = std::get_if<AddSlots>(&op)) {
                users_touched.insert(user_key(a->user));
                users_refunded.insert(user_key(a->user));
            }
            if (auto k = keyed(op)) {
                kind_of_key.emplace(k->first, op.index());
                users_touched.insert(user_key(k->second));
            }
        }
    };

    template <class Op>
    static const Run& of(const Phase& phase) {
        return phase.by_kind[variant_index<Op>()];
    }
    template <class Op, std::size_t I = 0>
    static constexpr std::size_t variant_index() {
        if constexpr (std::is_same_v<std::variant_alternative_t<I, WriteOperation>, Op>) {
            return I;
        } else {
            return variant_index<Op, I + 1>();
        }
    }

    // Partitions known to exist (guarded by the writer connection's mutex),
    // and those a transaction under way created.
    struct PartitionScope {
        const std::set<std::uint32_t>& known;
        std::set<std::uint32_t>& created;
    };
    // New partitions are created in transactions of their own, before the
    // write: CREATE ... PARTITION OF locks the parent table, and taken inside
    // a write that already holds user rows it can deadlock with another
    // tower's write of the same users. Another process creating the same
    // partition at once is not an error.
    void create_partitions_first(pqxx::connection& c, const WriteBatch& batch) {
        std::set<std::uint32_t> wanted;
        for (const auto& op : batch.operations) {
            if (auto* a = std::get_if<PutAppointment>(&op)) {
                std::uint32_t first = partition_of(a->appointment.start_block);
                if (!partitions_.count(first)) wanted.insert(first);
            }
        }
        for (std::uint32_t first : wanted) {
            std::string name = "appointments_h" + std::to_string(first);
            try {
                pqxx::work p(c);
                if (p.exec1("SELECT to_regclass(" + p.quote(name) + ") IS NULL")[0].as<bool>()) {
                    p.exec0("CREATE TABLE IF NOT EXISTS " + name + " PARTITION OF appointments FOR VALUES FROM (" +
                            std::to_string(first) + ") TO (" +
                            std::to_string(static_cast<std::uint64_t>(first) + appointment_partition_blocks) + ")");
                }
                p.commit();
                partitions_.insert(first);
            } catch (const pqxx::broken_connection&) {
                throw;
            } catch (const pqxx::sql_error&) {
                // Created by another tower meanwhile (or refused): the write's
                // own check below creates it or fails with the reason.
            }
        }
    }

    static void ensure_partitions(pqxx::transaction_base& tx, const std::vector<std::uint32_t>& start_blocks, PartitionScope& scope) {
        for (std::uint32_t start : start_blocks) {
            std::uint32_t first = partition_of(start);
            if (scope.known.count(first) || scope.created.count(first)) continue;
            std::string name = "appointments_h" + std::to_string(first);
            if (tx.exec1("SELECT to_regclass(" + tx.quote(name) + ") IS NULL")[0].as<bool>()) {
                tx.exec0("CREATE TABLE " + name + " PARTITION OF appointments FOR VALUES FROM (" + std::to_string(first) +
                         ") TO (" + std::to_string(static_cast<std::uint64_t>(first) + appointment_partition_blocks) + ")");
            }
            scope.created.insert(first);
        }
    }

    static Status apply(WriteTransaction& tx, const Phase& phase, EffectsTracker& effects, PartitionScope& partitions) {
        // Every statement is queued with the check of its result (see
        // WriteTransaction); only a missing partition needs a round trip here.
        if (!of<PutUser>(phase).empty()) put_users(tx, of<PutUser>(phase));
        if (!of<AddSlots>(phase).empty()) add_slots(tx, of<AddSlots>(phase));
        if (!of<PutSession>(phase).empty()) put_sessions(tx, of<PutSession>(phase));
        if (!of<PutAppointment>(phase).empty()) {
            if (auto ok = put_appointments(tx, of<PutAppointment>(phase), effects, partitions); !ok) return ok;
        }
        if (!of<RemoveAppointment>(phase).empty()) remove_appointments(tx, of<RemoveAppointment>(phase), effects);
        if (!of<PutTracker>(phase).empty()) put_trackers(tx, of<PutTracker>(phase));
        if (!of<RemoveTracker>(phase).empty()) remove_trackers(tx, of<RemoveTracker>(phase));
        for (const auto* op : of<PutElectrumAccount>(phase)) {
            const auto& a = std::get<PutElectrumAccount>(*op).account;
            tx.add("INSERT INTO electrum_accounts (user_key, username, password_hash) SELECT user_key, " +
                       tx.quote(a.username) + "::text, " + tx.quote(a.password_hash) + "::text FROM users WHERE user_id = " +
                       bytea(a.account) +
                       " ON CONFLICT (user_key) DO UPDATE SET username = excluded.username, "
                       "password_hash = excluded.password_hash",
                   [](const pqxx::result& r) -> Status {
                       if (r.affected_rows() != 1) return make_error(ErrorCode::storage, "electrum account for unknown user");
                       return {};
                   });
        }
        if (!of<PutElectrumChannel>(phase).empty()) {
            // One statement for the batch (an Electrum sync sends a sweep per
            // call, each moving its channel's max_ctn): the last state per row.
            auto unique = last_per_key<PutElectrumChannel>(of<PutElectrumChannel>(phase), [](const PutElectrumChannel& op) {
                const auto& c = op.channel;
                return std::string(c.account.begin(), c.account.end()) +
                       std::string(c.funding_txid.bytes.begin(), c.funding_txid.bytes.end()) + std::to_string(c.funding_vout);
            });
            std::ostringstream sql;
            sql << "INSERT INTO electrum_channels (user_key, funding_txid, funding_vout, funding_address, max_ctn) "
                   "SELECT u.user_key, v.funding_txid, v.funding_vout, v.funding_address, v.max_ctn FROM (VALUES ";
            for (std::size_t i = 0; i < unique.size(); ++i) {
                const auto& c = unique[i]->channel;
                sql << (i ? "," : "") << "(" << bytea(c.account) << "," << bytea(c.funding_txid.bytes) << ","
                    << c.funding_vout << "::bigint," << tx.quote(c.funding_address) << "::text," << c.max_ctn
                    << "::bigint)";
            }
            sql << ") AS v(user_id, funding_txid, funding_vout, funding_address, max_ctn) "
                   "JOIN users u ON u.user_id = v.user_id "
                   "ON CONFLICT (user_key, funding_txid, funding_vout) DO UPDATE SET "
                   "funding_address = excluded.funding_address, max_ctn = excluded.max_ctn";
            tx.add(sql.str(), [rows = unique.size()](const pqxx::result& r) -> Status {
                if (r.affected_rows() != rows) return make_error(ErrorCode::storage, "electrum channel for unknown user");
                return {};
            });
        }
        for (const auto* op : of<PutChannelClose>(phase)) {
            const auto& c = std::get<PutChannelClose>(*op).close;
            std::string penalty = c.penalty_txid ? bytea(c.penalty_txid->bytes) : std::string("NULL::bytea");
            tx.add("INSERT INTO electrum_channel_closes (funding_txid, funding_vout, closing_txid, closed_height, "
                   "close_type, penalty_txid) VALUES (" + bytea(c.funding_txid.bytes) + ", " + std::to_string(c.funding_vout) +
                   ", " + bytea(c.closing_txid.bytes) + ", " + std::to_string(c.height) + ", " +
                   std::to_string(static_cast<int>(c.type)) + ", " + penalty +
                   ") ON CONFLICT (funding_txid, funding_vout) DO UPDATE SET closing_txid = excluded.closing_txid, "
                   "closed_height = excluded.closed_height, close_type = excluded.close_type, "
                   "penalty_txid = excluded.penalty_txid");
        }
        for (const auto* op : of<RemoveChannelClose>(phase)) {
            const auto& r = std::get<RemoveChannelClose>(*op);
            tx.add("DELETE FROM electrum_channel_closes WHERE funding_txid = " + bytea(r.funding_txid.bytes) +
                   " AND funding_vout = " + std::to_string(r.funding_vout));
        }
        for (const auto* op : of<RemoveUser>(phase)) remove_user(tx, std::get<RemoveUser>(*op).user, effects);
        if (!of<SetChainPosition>(phase).empty()) {
            const auto& position = std::get<SetChainPosition>(*of<SetChainPosition>(phase).back()).position;
            tx.add("INSERT INTO chain_position (singleton, height, block_hash) VALUES (true, " +
                   std::to_string(position.height) + ", " + bytea(position.block_hash) +
                   ") ON CONFLICT (singleton) DO UPDATE SET height = excluded.height, block_hash = excluded.block_hash");
        }
        return {};
    }

    static void adjust_count(WriteTransaction& tx, long long delta) {
        if (delta != 0) tx.add("UPDATE appointment_count SET appointments = appointments + " + std::to_string(delta));
    }

    static std::string row_key(const pqxx::field& user_key, const Locator& locator) {
        auto k = user_key.as<std::int64_t>();
        return effects_key(ByteSpan(reinterpret_cast<const std::uint8_t*>(&k), sizeof k), locator);
    }

    // The last operation of a run per key, in run order.
    template <class Op, class KeyOf>
    static std::vector<const Op*> last_per_key(const Run& run, KeyOf key_of) {
        std::unordered_set<std::string> seen;
        std::vector<const Op*> out;
        for (auto it = run.rbegin(); it != run.rend(); ++it) {
            const Op& op = std::get<Op>(**it);
            if (seen.insert(key_of(op)).second) out.push_back(&op);
        }
        std::reverse(out.begin(), out.end());
        return out;
    }

    // Users in a run: the last state per user is written; a user whose first
    // operation in the run carries an expected version is written only at
    // that version (0: only if absent). Each operation moves the version by one.
    static void put_users(WriteTransaction& tx, const Run& run) {
        struct Plan {
            const PutUser* last = nullptr;
            std::optional<std::uint64_t> expected;
        };
        std::map<std::string, Plan> plans;
        std::vector<std::string> order;
        for (const auto* op : run) {
            const PutUser& u = std::get<PutUser>(*op);
            std::string key(u.user.user_id.begin(), u.user.user_id.end());
            auto [it, fresh] = plans.try_emplace(key);
            if (fresh) {
                it->second.expected = u.expected_version;
                order.push_back(key);
            }
            it->second.last = &u;
        }
        std::ostringstream plain, versioned;
        std::size_t plain_rows = 0, versioned_rows = 0;
        for (const auto& key : order) {
            const Plan& p = plans[key];
            const auto& u = p.last->user;
            std::ostringstream& sql = p.expected ? versioned : plain;
            std::size_t& rows = p.expected ? versioned_rows : plain_rows;
            sql << (rows++ ? "," : "") << "(" << bytea(u.user_id) << "," << u.available_slots << "::bigint,"
                << u.subscription_start << "::bigint," << u.subscription_expiry << "::bigint";
            if (p.expected) {
                // The last operation's new version: the chain's end.
                sql << "," << static_cast<std::int64_t>(p.last->new_version) << "::bigint,"
                    << static_cast<std::int64_t>(*p.expected) << "::bigint";
            }
            sql << ")";
        }
        if (plain_rows > 0) {
            tx.add("INSERT INTO users (user_id, available_slots, subscription_start, subscription_expiry, version) "
                     "SELECT v.*, " + std::string(random_version) + " FROM (VALUES " + plain.str() +
                     ") AS v ON CONFLICT (user_id) DO UPDATE SET available_slots = excluded.available_slots, "
                     "subscription_start = excluded.subscription_start, "
                     "subscription_expiry = excluded.subscription_expiry, version = excluded.version");
        }
        if (versioned_rows > 0) {
            tx.add(
                "WITH v(user_id, slots, start, expiry, next, expected) AS (VALUES " + versioned.str() +
                "), upd AS (UPDATE users u SET available_slots = v.slots, subscription_start = v.start, "
                "subscription_expiry = v.expiry, version = v.next FROM v "
                "WHERE v.expected <> 0 AND u.user_id = v.user_id AND u.version = v.expected RETURNING 1), "
                "ins AS (INSERT INTO users (user_id, available_slots, subscription_start, subscription_expiry, version) "
                "SELECT user_id, slots, start, expiry, next FROM v WHERE v.expected = 0 "
                "ON CONFLICT (user_id) DO NOTHING RETURNING 1) "
                "SELECT (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins)",
                [versioned_rows](const pqxx::result& r) -> Status {
                    if (r[0][0].as<std::size_t>() != versioned_rows) {
                        return make_error(ErrorCode::conflict, "a user was written by another tower of the group meanwhile");
                    }
                    return {};
                });
        }
    }

    static void add_slots(WriteTransaction& tx, const Run& run) {
        std::map<UserId, std::uint64_t> total;
        for (const auto* op : run) {
            const auto& a = std::get<AddSlots>(*op);
            total[a.user] += a.slots;
        }
        std::ostringstream sql;
        std::size_t i = 0;
        for (const auto& [user, slots] : total) {
            sql << (i++ ? "," : "") << "(" << bytea(user) << "," << slots << "::bigint)";
        }
        tx.add("UPDATE users u SET available_slots = LEAST(u.available_slots + v.slots, 4294967295), "
                 "version = " + std::string(random_version) + " FROM (VALUES " + sql.str() +
                 ") AS v(user_id, slots) WHERE u.user_id = v.user_id");
    }

    // A version no tower expects: random, non-zero (an unversioned write or a refund).
    static constexpr const char* random_version = "(1 + floor(random() * 9.2e18))::bigint";

    // The feed: what this write changed, for the group's other towers. The
    // exclusive lock until commit makes seq order commit order.
    void append_feed(WriteTransaction& tx, const WriteBatch& batch, const WriteEffects& effects) {
        std::ostringstream rows;
        std::size_t n = 0;
        auto origin = static_cast<std::int64_t>(options_.feed_origin);
        auto row = [&](FeedEntry::Kind kind, const Locator& l, const UserId* user) {
            rows << (n++ ? "," : "") << "(" << origin << "::bigint," << static_cast<int>(kind) << "::smallint," << loc_hi(l)
                 << "::bigint," << loc_lo(l) << "::bigint," << (user ? bytea(*user) : std::string("NULL::bytea")) << ")";
        };
        for (const auto& l : effects.inserted) row(FeedEntry::Kind::entered, l, nullptr);
        for (const auto& l : effects.removed) row(FeedEntry::Kind::left, l, nullptr);
        std::unordered_set<std::string> stored;
        for (auto it = batch.operations.rbegin(); it != batch.operations.rend(); ++it) {
            if (auto* a = std::get_if<PutAppointment>(&*it)) {
                if (stored.insert(effects_key(a->appointment.user_id, a->appointment.locator)).second) {
                    row(FeedEntry::Kind::stored, a->appointment.locator, &a->appointment.user_id);
                }
            }
        }
        for (const auto& op : batch.operations) {
            if (auto* c = std::get_if<PutElectrumChannel>(&op)) {
                // The outpoint travels in user_id: txid (internal order) || vout (LE).
                Bytes outpoint(c->channel.funding_txid.bytes.begin(), c->channel.funding_txid.bytes.end());
                for (int i = 0; i < 4; ++i) outpoint.push_back(static_cast<std::uint8_t>(c->channel.funding_vout >> (8 * i)));
                rows << (n++ ? "," : "") << "(" << origin << "::bigint," << static_cast<int>(FeedEntry::Kind::watched)
                     << "::smallint,0::bigint,0::bigint," << bytea(outpoint) << ")";
            }
        }
        if (n == 0) return;
        tx.add("SELECT pg_advisory_xact_lock(" + std::to_string(postgres_feed_lock_key) + ")");
        tx.add("INSERT INTO appointment_feed (origin, kind, loc_hi, loc_lo, user_id) VALUES " + rows.str());
        tx.add(std::string("NOTIFY ") + postgres_feed_channel);
    }

    // A write the tower knows to be new is inserted as is; any other first
    // deletes the row it replaces (in whichever partition it is), so the
    // RETURNING of that delete tells an update from an insert.
    static Status put_appointments(WriteTransaction& tx, const Run& run, EffectsTracker& effects, PartitionScope& partitions) {
        auto unique = last_per_key<PutAppointment>(run, [](const PutAppointment& op) {
            return effects_key(op.appointment.user_id, op.appointment.locator);
        });
        std::vector<std::uint32_t> starts;
        for (const auto* op : unique) starts.push_back(op->appointment.start_block);
        bool missing = std::any_of(starts.begin(), starts.end(), [&](std::uint32_t start) {
            std::uint32_t first = partition_of(start);
            return !partitions.known.count(first) && !partitions.created.count(first);
        });
        if (missing) {
            // Created inside this transaction (create_partitions_first could
            // not): the statements before it go first.
            if (auto ok = tx.flush(); !ok) return ok;
            ensure_partitions(tx.session(), starts, partitions);
        }
        auto replaced = std::make_shared<std::unordered_set<std::string>>();
        std::ostringstream del;
        std::size_t maybe = 0;
        for (const auto* op : unique) {
            if (op->known_new) continue;
            const auto& a = op->appointment;
            del << (maybe++ ? "," : "") << "(" << bytea(a.user_id) << "," << loc_hi(a.locator) << "::bigint,"
                << loc_lo(a.locator) << "::bigint)";
        }
        if (maybe > 0) {
            tx.add("DELETE FROM appointments a USING users u, (VALUES " + del.str() +
                       ") AS v(user_id, loc_hi, loc_lo) WHERE u.user_id = v.user_id AND a.user_key = u.user_key "
                       "AND a.loc_hi = v.loc_hi AND a.loc_lo = v.loc_lo RETURNING a.user_key, a.loc_hi, a.loc_lo",
                   [replaced](const pqxx::result& r) -> Status {
                       for (const auto& row : r) replaced->insert(row_key(row[0], locator_from(row[1], row[2])));
                       return {};
                   });
        }
        // Array literals of hex and numbers: nothing in them needs quoting.
        std::array<std::string, 8> columns;
        for (auto& c : columns) c = "'{";
        for (std::size_t i = 0; i < unique.size(); ++i) {
            const auto& a = unique[i]->appointment;
            const char* sep = i ? "," : "";
            columns[0].append(sep).append(to_hex(a.user_id));
            columns[1].append(sep).append(std::to_string(loc_hi(a.locator)));
            columns[2].append(sep).append(std::to_string(loc_lo(a.locator)));
            columns[3].append(sep).append(std::to_string(a.start_block));
            columns[4].append(sep).append(std::to_string(a.to_self_delay));
            columns[5].append(sep).append(std::to_string(static_cast<int>(a.trigger)));
            columns[6].append(sep).append(std::to_string(static_cast<int>(a.payload)));
            columns[7].append(sep).append(to_hex(a.blob));
        }
        std::string sql = std::string("EXECUTE ") + put_appointments_statement + " (";
        for (std::size_t c = 0; c < columns.size(); ++c) sql.append(c ? ", " : "").append(columns[c]).append("}'");
        sql += ")";
        // The DELETE's check (before this one) has filled `replaced`.
        tx.add(std::move(sql), [replaced, rows = unique.size(), &effects](const pqxx::result& r) -> Status {
            if (r.size() != rows) return make_error(ErrorCode::storage, "appointment for unknown user");
            for (const auto& row : r) {
                Locator locator = locator_from(row[1], row[2]);
                std::string key = row_key(row[0], locator);
                effects.observed(key, locator, replaced->count(key) > 0, true);
            }
            return {};
        });
        return {};
    }

    static void put_sessions(WriteTransaction& tx, const Run& run) {
        auto unique = last_per_key<PutSession>(run, [](const PutSession& op) {
            return std::string(op.session.account.begin(), op.session.account.end());
        });
        std::ostringstream sql;
        sql << "INSERT INTO wtwire_sessions (user_key, blob_type, max_updates, reward_base, reward_rate, "
               "sweep_fee_rate, last_applied, client_last_applied, reward_script) SELECT u.user_key, v.blob_type, "
               "v.max_updates, v.reward_base, v.reward_rate, v.sweep_fee_rate, v.last_applied, "
               "v.client_last_applied, v.reward_script FROM (VALUES ";
        for (std::size_t i = 0; i < unique.size(); ++i) {
            const auto& r = unique[i]->session;
            sql << (i ? "," : "") << "(" << bytea(r.account) << "," << r.blob_type << "::integer," << r.max_updates
                << "::integer," << r.reward_base << "::bigint," << r.reward_rate << "::bigint,"
                << static_cast<std::int64_t>(r.sweep_fee_rate) << "::bigint," << r.last_applied << "::integer,"
                << r.client_last_applied << "::integer," << bytea(r.reward_script) << ")";
        }
        sql << ") AS v(user_id, blob_type, max_updates, reward_base, reward_rate, sweep_fee_rate, last_applied, "
               "client_last_applied, reward_script) JOIN users u ON u.user_id = v.user_id "
               "ON CONFLICT (user_key) DO UPDATE SET blob_type = excluded.blob_type, "
               "max_updates = excluded.max_updates, reward_base = excluded.reward_base, "
               "reward_rate = excluded.reward_rate, sweep_fee_rate = excluded.sweep_fee_rate, "
               "last_applied = excluded.last_applied, client_last_applied = excluded.client_last_applied, "
               "reward_script = excluded.reward_script";
        tx.add(sql.str(), [rows = unique.size()](const pqxx::result& r) -> Status {
            if (r.affected_rows() != rows) return make_error(ErrorCode::storage, "session for unknown user");
            return {};
        });
    }

    static void put_trackers(WriteTransaction& tx, const Run& run) {
        auto unique = last_per_key<PutTracker>(run, [](const PutTracker& op) {
            return effects_key(op.tracker.user_id, op.tracker.locator);
        });
        std::ostringstream sql;
        sql << "INSERT INTO trackers (user_key, locator, dispute_txid, dispute_tx, penalty_txid, penalty_tx, "
               "broadcast_height, confirmed_height, blob_size, waiting_for_fee_until, kit_state) SELECT u.user_key, "
               "v.locator, v.dispute_txid, v.dispute_tx, v.penalty_txid, v.penalty_tx, v.broadcast_height, "
               "v.confirmed_height, v.blob_size, v.waiting_for_fee_until, v.kit_state FROM (VALUES ";
        for (std::size_t i = 0; i < unique.size(); ++i) {
            const auto& t = unique[i]->tracker;
            sql << (i ? "," : "") << "(" << bytea(t.user_id) << "," << bytea(t.locator) << ","
                << bytea(t.dispute_txid.bytes) << "," << bytea(t.dispute_tx) << "," << bytea(t.penalty_txid.bytes)
                << "," << bytea(t.penalty_tx) << "," << t.broadcast_height << "::integer,"
                << (t.confirmed_height ? std::to_string(*t.confirmed_height) : std::string("NULL"))
                << "::integer," << t.blob_size << "::integer,"
                << (t.waiting_for_fee_until ? std::to_string(*t.waiting_for_fee_until) : std::string("NULL"))
                << "::integer," << (t.kit_state.empty() ? std::string("NULL") : bytea(t.kit_state)) << "::bytea)";
        }
        sql << ") AS v(user_id, locator, dispute_txid, dispute_tx, penalty_txid, penalty_tx, broadcast_height, "
               "confirmed_height, blob_size, waiting_for_fee_until, kit_state) JOIN users u ON u.user_id = v.user_id "
               "ON CONFLICT (user_key, locator) DO UPDATE SET dispute_txid = excluded.dispute_txid, "
               "dispute_tx = excluded.dispute_tx, penalty_txid = excluded.penalty_txid, "
               "penalty_tx = excluded.penalty_tx, broadcast_height = excluded.broadcast_height, "
               "confirmed_height = excluded.confirmed_height, blob_size = excluded.blob_size, "
               "waiting_for_fee_until = excluded.waiting_for_fee_until, kit_state = excluded.kit_state";
        // A tracker whose user was removed meanwhile (expired, deleted by the
        // operator, or a wtwire DeleteSession) is not written: the JOIN drops it.
        tx.add(sql.str());
    }

    static void remove_appointments(WriteTransaction& tx, const Run& run, EffectsTracker& effects) {
        std::ostringstream sql;
        sql << "DELETE FROM appointments a USING users u, (VALUES ";
        for (std::size_t i = 0; i < run.size(); ++i) {
            const AppointmentKey& k = std::get<RemoveAppointment>(*run[i]).key;
            sql << (i ? "," : "") << "(" << bytea(k.user_id) << "," << loc_hi(k.locator) << "::bigint,"
                << loc_lo(k.locator) << "::bigint)";
        }
        sql << ") AS v(user_id, loc_hi, loc_lo) WHERE u.user_id = v.user_id AND a.user_key = u.user_key "
               "AND a.loc_hi = v.loc_hi AND a.loc_lo = v.loc_lo RETURNING a.user_key, a.loc_hi, a.loc_lo";
        tx.add(sql.str(), [&effects](const pqxx::result& r) -> Status {
            for (const auto& row : r) {
                Locator locator = locator_from(row[1], row[2]);
                effects.observed(row_key(row[0], locator), locator, true, false);
            }
            return {};
        });
    }

    static void remove_trackers(WriteTransaction& tx, const Run& run) {
        std::ostringstream sql;
        sql << "DELETE FROM trackers a USING users u, (VALUES ";
        for (std::size_t i = 0; i < run.size(); ++i) {
            const AppointmentKey& k = std::get<RemoveTracker>(*run[i]).key;
            sql << (i ? "," : "") << "(" << bytea(k.user_id) << "," << bytea(k.locator) << ")";
        }
        sql << ") AS v(user_id, locator) WHERE u.user_id = v.user_id AND a.user_key = u.user_key "
               "AND a.locator = v.locator";
        tx.add(sql.str());
    }

    // The user's row locked first, so no other transaction (another tower's,
    // or a write() beside a write_apart()) can add to the user until this one
    // ends; then its appointments (each reported), then the user; trackers,
    // sessions and channels cascade.
    static void remove_user(WriteTransaction& tx, const UserId& user, EffectsTracker& effects) {
        // Three statements in order (one round trip): the lock is taken first.
        std::string id = bytea(user);
        tx.add("SELECT user_key FROM users WHERE user_id = " + id + " FOR UPDATE");
        tx.add("DELETE FROM appointments WHERE user_key = (SELECT user_key FROM users WHERE user_id = " + id +
                   ") RETURNING user_key, loc_hi, loc_lo",
               [&effects](const pqxx::result& r) -> Status {
                   for (const auto& row : r) {
                       Locator locator = locator_from(row[1], row[2]);
                       effects.observed(row_key(row[0], locator), locator, true, false);
                   }
                   return {};
               });
        tx.add("DELETE FROM users WHERE user_id = " + id);
    }

    static UserRecord user_from(const pqxx::row& row) {
        return UserRecord{array_from<33>(row[0]), row[1].as<std::uint32_t>(), row[2].as<std::uint32_t>(),
                          row[3].as<std::uint32_t>()};
    }

    static AppointmentRecord appointment_from(const pqxx::row& row) {
        AppointmentRecord a;
        a.locator = locator_from(row[0], row[1]);
        a.user_id = array_from<33>(row[2]);
        a.trigger = static_cast<TriggerKind>(row[3].as<int>());
        a.payload = static_cast<PayloadKind>(row[4].as<int>());
        a.to_self_delay = row[5].as<std::uint32_t>();
        a.start_block = row[6].as<std::uint32_t>();
        a.blob = bytes_from(row[7]);
        return a;
    }

    template <class F>
    auto with(Connection& connection, F&& f) -> decltype(f(std::declval<pqxx::connection&>())) {
        std::lock_guard lock(connection.mutex);
        try {
            if (!connection.conn || !connection.conn->is_open()) {
                connection.put_appointments_prepared = false;
                connection.conn = std::make_unique<pqxx::connection>(conninfo_);
                prepare_statements(*connection.conn);
                if ((&connection == &writer_ || &connection == &remover_) && options_.feed_origin != 0) {
                    connection.conn->set_variable("idle_in_transaction_session_timeout",
                                                  std::to_string(options_.idle_in_transaction.count()));
                }
            }
            return f(*connection.conn);
        } catch (const pqxx::broken_connection& e) {
            connection.conn.reset();
            return make_error(ErrorCode::unavailable, std::string("postgres connection lost: ") + e.what());
        } catch (const pqxx::in_doubt_error& e) {
            connection.conn.reset();
            return make_error(ErrorCode::unavailable, std::string("postgres commit in doubt: ") + e.what());
        } catch (const std::exception& e) {
            return make_error(ErrorCode::storage, std::string("postgres: ") + e.what());
        }
    }

    // Lookups of appointments by locator cannot be pruned to one partition:
    // planned once per connection (a generic plan over every partition), not
    // at each call, which costs more than the lookup with 100 partitions.
    static void prepare_statements(pqxx::connection& c) {
        c.set_variable("plan_cache_mode", "force_generic_plan");
        c.prepare("find_by_locator",
                  "SELECT a.loc_hi, a.loc_lo, u.user_id, a.trigger_kind, a.payload_kind, a.to_self_delay, a.start_block, "
                  "a.blob FROM appointments a JOIN users u USING (user_key) WHERE a.loc_hi = $1 AND a.loc_lo = $2");
        c.prepare("find_by_locators",
                  "SELECT a.loc_hi, a.loc_lo, u.user_id, a.trigger_kind, a.payload_kind, a.to_self_delay, a.start_block, "
                  "a.blob FROM appointments a JOIN users u USING (user_key) WHERE a.loc_hi = ANY($1::bigint[])");
        // Plan the block lookup now (about 10 ms with 100 partitions), not
        // in the first block that has a candidate. Before the migrations (the
        // writer's first connection) there is nothing to plan yet.
        try {
            pqxx::nontransaction(c).exec_prepared("find_by_locators", "{}");
        } catch (const pqxx::broken_connection&) {
            throw;
        } catch (const pqxx::sql_error&) {
        }
        c.prepare("get_appointment",
                  "SELECT a.loc_hi, a.loc_lo, u.user_id, a.trigger_kind, a.payload_kind, a.to_self_delay, a.start_block, "
                  "a.blob FROM appointments a JOIN users u USING (user_key) WHERE u.user_id = $1 AND a.loc_hi = $2 "
                  "AND a.loc_lo = $3");
        c.prepare("get_user_versioned",
                  "SELECT user_id, available_slots, subscription_start, subscription_expiry, version FROM users "
                  "WHERE user_id = $1");
        c.prepare("get_blob_size",
                  "SELECT octet_length(a.blob) FROM appointments a JOIN users u USING (user_key) "
                  "WHERE u.user_id = $1 AND a.loc_hi = $2 AND a.loc_lo = $3");
    }

    // One statement, one round trip (no BEGIN/COMMIT): the request path's lookups.
    template <class T, class F>
    Result<T> read_one(F&& f) {
        Connection& c = readers_[next_reader_++ % readers_.size()];
        return with(c, [&](pqxx::connection& conn) -> Result<T> {
            pqxx::nontransaction tx(conn);
            return f(tx);
        });
    }

    template <class T, class F>
    Result<T> read(F&& f) {
        Connection& c = readers_[next_reader_++ % readers_.size()];
        return with(c, [&](pqxx::connection& conn) -> Result<T> {
            pqxx::work tx(conn);
            T value = f(tx);
            tx.commit();
            return value;
        });
    }

    std::string conninfo_;
    PostgresStoreOptions options_;
    Connection writer_;
    Connection remover_;  // write_apart
    std::mutex listener_mutex_;
    std::unique_ptr<pqxx::connection> listener_;
    std::unique_ptr<FeedReceiver> receiver_;
    std::vector<Connection> readers_;
    std::atomic<std::size_t> next_reader_{0};
};

}  // namespace

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& connection_string,
                                                   std::size_t read_connections) {
    PostgresStoreOptions options;
    options.read_connections = read_connections;
    return open_postgres_store(connection_string, options);
}

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& connection_string,
                                                   const PostgresStoreOptions& options) {
    auto store = std::make_unique<PostgresStore>(connection_string, options);
    if (auto ok = store->migrate(); !ok) return ok.error();
    return std::unique_ptr<Store>(std::move(store));
}

namespace {

class PostgresLeaderLease final : public LeaderLease {
public:
    PostgresLeaderLease(std::string conninfo, std::string holder, std::chrono::milliseconds lease)
        : conninfo_(std::move(conninfo)), holder_(std::move(holder)), lease_(lease) {}

    Result<std::optional<std::uint64_t>> try_acquire() override {
        try {
            if (!conn_ || !conn_->is_open()) {
                conn_ = std::make_unique<pqxx::connection>(conninfo_);
                // The server ends this session, freeing the lock, when its
                // holder goes quiet (paused) or its peer vanishes (keepalives).
                conn_->set_variable("idle_session_timeout", std::to_string(lease_.count()));
                conn_->set_variable("tcp_keepalives_idle", "1");
                conn_->set_variable("tcp_keepalives_interval", "1");
                conn_->set_variable("tcp_keepalives_count", "3");
            }
            {
                pqxx::nontransaction n(*conn_);
                if (!n.exec1("SELECT pg_try_advisory_lock(" + std::to_string(postgres_leader_lock_key) + ")")[0].as<bool>()) {
                    return std::optional<std::uint64_t>();
                }
            }
            pqxx::work tx(*conn_);
            tx.exec0("SET LOCAL lock_timeout = '10s'");
            auto r = tx.exec_params1(
                "INSERT INTO tower_leader (singleton, epoch, holder) VALUES (true, 1, $1) ON CONFLICT (singleton) "
                "DO UPDATE SET epoch = tower_leader.epoch + 1, holder = excluded.holder, since = now() RETURNING epoch",
                holder_);
            tx.commit();
            return std::optional<std::uint64_t>(r[0].as<std::uint64_t>());
        } catch (const std::exception& e) {
            conn_.reset();  // the session ends, and any lock it took with it
            return make_error(ErrorCode::unavailable, std::string("leader lease: ") + e.what());
        }
    }

    Status heartbeat() override {
        if (!conn_) return make_error(ErrorCode::unavailable, "leader lease: not held");
        try {
            pqxx::nontransaction n(*conn_);
            n.exec1("SELECT 1");
            return {};
        } catch (const std::exception& e) {
            conn_.reset();
            return make_error(ErrorCode::unavailable, std::string("leader lease lost: ") + e.what());
        }
    }

    void release() override { conn_.reset(); }

private:
    std::string conninfo_;
    std::string holder_;
    std::chrono::milliseconds lease_;
    std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace

Result<std::unique_ptr<LeaderLease>> open_postgres_leader_lease(const std::string& connection_string, std::string holder,
                                                                std::chrono::milliseconds lease) {
    if (lease < std::chrono::milliseconds(1000)) {
        return make_error(ErrorCode::invalid_argument, "the leader lease must be at least 1000 ms");
    }
    return std::unique_ptr<LeaderLease>(std::make_unique<PostgresLeaderLease>(connection_string, std::move(holder), lease));
}

}  // namespace argus::store
