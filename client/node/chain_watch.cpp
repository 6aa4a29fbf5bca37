#include "client/node/chain_watch.h"

#include "client/backup/private_database.h"
#include "common/hex.h"
#include "log/log.h"

namespace argus::client {

using json = nlohmann::json;

namespace {
constexpr const char* file_name = "chain view";

Status exec(sqlite3* db, const char* sql) { return exec_sql(db, sql, file_name); }
Error db_error(sqlite3* db, const std::string& what) {
    return make_error(ErrorCode::storage, std::string(file_name) + ": " + what + ": " + sqlite3_errmsg(db));
}

// Block hashes travel as bitcoind displays them (reversed); Txid's parser
// does that reversal.
Result<Hash256> block_hash_from_display(const json& j) {
    if (!j.is_string()) return make_error(ErrorCode::invalid_argument, "block hash is not a string");
    auto txid = Txid::from_display_hex(j.get<std::string>());
    if (!txid) return make_error(ErrorCode::invalid_argument, "block hash is not 32 bytes of hex");
    return txid->bytes;
}
std::string display(const Hash256& hash) { return Txid{hash}.to_display_hex(); }

Error rpc_error(const std::string& method, const chain::RpcError& e) {
    return make_error(ErrorCode::unavailable, "bitcoind " + method + ": " + e.message);
}

ObservedClose close_of(const Stmt& s) {
    ObservedClose c;
    c.channel_id = s.col_text(0);
    c.funding = OutPoint{Txid{s.col_array<32>(1)}, static_cast<std::uint32_t>(s.col_int(2))};
    c.closing_txid = Txid{s.col_array<32>(3)};
    c.height = static_cast<std::uint32_t>(s.col_int(4));
    c.block_hash = s.col_array<32>(5);
    c.type = close_type_from_string(s.col_text(6)).value_or(CloseType::cooperative);
    if (!s.is_null(7)) c.commitment_number = static_cast<std::uint64_t>(s.col_int(7));
    if (!s.is_null(8)) c.penalty_txid = Txid{s.col_array<32>(8)};
    return c;
}
}  // namespace

struct ChainWatch::Db {
    sqlite3* db = nullptr;
    ~Db() { sqlite3_close_v2(db); }
};

ChainWatch::ChainWatch(Clock& clock, ChainWatchOptions options) : clock_(clock), options_(std::move(options)) {}

ChainWatch::~ChainWatch() { stop(); }

Result<std::unique_ptr<ChainWatch>> ChainWatch::open(const std::string& path, Clock& clock, ChainWatchOptions options) {
    auto opened = open_private_database(path);
    if (!opened) return opened.error();
    std::unique_ptr<ChainWatch> watch(new ChainWatch(clock, std::move(options)));
    watch->db_ = std::make_unique<Db>();
    watch->db_->db = *opened;
    sqlite3* db = watch->db_->db;
    // Schema version 1 (PRAGMA user_version). A file from a newer build is refused.
    {
        Stmt version(db, "PRAGMA user_version");
        if (version.step() != SQLITE_ROW) return db_error(db, "read schema version");
        if (version.col_int(0) > 1) return make_error(ErrorCode::storage, "chain view file is from a newer build");
    }
    const char* schema =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        "CREATE TABLE IF NOT EXISTS fundings (channel_id TEXT PRIMARY KEY, txid BLOB NOT NULL, vout INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, hash BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS closes (channel_id TEXT PRIMARY KEY, funding_txid BLOB NOT NULL, "
        "funding_vout INTEGER NOT NULL, closing_txid BLOB NOT NULL, height INTEGER NOT NULL, block_hash BLOB NOT NULL, "
        "type TEXT NOT NULL, commitnum INTEGER, penalty_txid BLOB);"
        "CREATE TABLE IF NOT EXISTS penalty_confirmations (channel_id TEXT NOT NULL, penalty_txid BLOB NOT NULL, "
        "height INTEGER NOT NULL, block_hash BLOB NOT NULL, PRIMARY KEY (channel_id, penalty_txid));"
        "PRAGMA user_version = 1;";
    if (auto ok = exec(db, schema); !ok) return ok.error();
    if (watch->options_.rpc) watch->rpc_ = std::make_unique<chain::BitcoindRpc>(*watch->options_.rpc);
    if (auto ok = watch->rebuild_view(); !ok) return ok.error();
    return watch;
}

// The view from the file and the lists handed over: at open, and after a
// block's transaction failed (so the view never runs ahead of the file).
Status ChainWatch::rebuild_view() {
    sqlite3* db = db_->db;
    ChainView view;
    {
        Stmt s(db, "SELECT channel_id, txid, vout FROM fundings");
        while (s.step() == SQLITE_ROW) {
            view.watch_funding(s.col_text(0), OutPoint{Txid{s.col_array<32>(1)}, static_cast<std::uint32_t>(s.col_int(2))});
        }
        if (!s.finished()) return db_error(db, "read fundings");
    }
    for (const auto& r : revoked_) view.add_revoked(r);
    for (const auto& [channel, txid] : penalties_) view.watch_penalty(channel, txid);
    std::optional<ChainTip> tip;
    {
        Stmt s(db, "SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1");
        if (s.step() == SQLITE_ROW) tip = ChainTip{static_cast<std::uint32_t>(s.col_int(0)), s.col_array<32>(1)};
        else if (s.rc != SQLITE_DONE) return db_error(db, "read tip");
    }
    std::vector<ObservedClose> closes;
    {
        Stmt s(db, "SELECT channel_id, funding_txid, funding_vout, closing_txid, height, block_hash, type, commitnum, "
                   "penalty_txid FROM closes");
        while (s.step() == SQLITE_ROW) closes.push_back(close_of(s));
        if (!s.finished()) return db_error(db, "read closes");
    }
    std::vector<PenaltyConfirmation> confirmations;
    {
        Stmt s(db, "SELECT channel_id, penalty_txid, height, block_hash FROM penalty_confirmations");
        while (s.step() == SQLITE_ROW) {
            confirmations.push_back({s.col_text(0), Txid{s.col_array<32>(1)}, static_cast<std::uint32_t>(s.col_int(2)),
                                     s.col_array<32>(3)});
        }
        if (!s.finished()) return db_error(db, "read penalty confirmations");
    }
    view.restore(tip, closes, confirmations);
    view_ = std::move(view);
    return {};
}

Status ChainWatch::watch_funding(const std::string& channel_id, const OutPoint& funding) {
    std::lock_guard lock(mutex_);
    Stmt s(db_->db,
           "INSERT INTO fundings (channel_id, txid, vout) VALUES (?, ?, ?) "
           "ON CONFLICT (channel_id) DO UPDATE SET txid = excluded.txid, vout = excluded.vout");
    s.text(1, channel_id).blob(2, funding.txid.bytes).integer(3, funding.index);
    if (s.step() != SQLITE_DONE) return db_error(db_->db, "record funding of " + channel_id);
    view_.watch_funding(channel_id, funding);
    return {};
}

void ChainWatch::add_revoked(const RevokedCommitment& revoked) {
    std::lock_guard lock(mutex_);
    revoked_.push_back(revoked);
    view_.add_revoked(revoked);
}

void ChainWatch::watch_penalty(const std::string& channel_id, const Txid& penalty_txid) {
    std::lock_guard lock(mutex_);
    penalties_.emplace_back(channel_id, penalty_txid);
    view_.watch_penalty(channel_id, penalty_txid);
}

Result<std::optional<Hash256>> ChainWatch::stored_hash(std::uint32_t height) {
    Stmt s(db_->db, "SELECT hash FROM blocks WHERE height = ?");
    s.integer(1, height);
    if (s.step() == SQLITE_ROW) return std::optional<Hash256>(s.col_array<32>(0));
    if (s.rc != SQLITE_DONE) return db_error(db_->db, "read block hash");
    return std::optional<Hash256>();
}

// Runs the event through the view and commits its actions with the block row,
// in one transaction; on failure the view is rebuilt from the file.
Status ChainWatch::apply(const ChainEvent& event, std::uint32_t height, const Hash256& hash, bool connect) {
    sqlite3* db = db_->db;
    std::vector<ChainAction> actions = view_.handle(event);
    auto write = [&]() -> Status {
        if (auto ok = exec(db, "BEGIN IMMEDIATE"); !ok) return ok;
        for (const auto& action : actions) {
            if (const auto* r = std::get_if<RecordClose>(&action)) {
                const ObservedClose& c = r->close;
                Stmt s(db,
                       "INSERT OR REPLACE INTO closes (channel_id, funding_txid, funding_vout, closing_txid, height, "
                       "block_hash, type, commitnum, penalty_txid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
                s.text(1, c.channel_id).blob(2, c.funding.txid.bytes).integer(3, c.funding.index);
                s.blob(4, c.closing_txid.bytes).integer(5, c.height).blob(6, c.block_hash).text(7, to_string(c.type));
                if (c.commitment_number) s.integer(8, static_cast<std::int64_t>(*c.commitment_number));
                else s.null(8);
                if (c.penalty_txid) s.blob(9, c.penalty_txid->bytes);
                else s.null(9);
                if (s.step() != SQLITE_DONE) return db_error(db, "record close");
            } else if (const auto* f = std::get_if<ForgetClose>(&action)) {
                Stmt s(db, "DELETE FROM closes WHERE channel_id = ?");
                s.text(1, f->channel_id);
                if (s.step() != SQLITE_DONE) return db_error(db, "forget close");
            } else if (const auto* p = std::get_if<RecordPenaltyConfirmation>(&action)) {
                const PenaltyConfirmation& c = p->confirmation;
                Stmt s(db,
                       "INSERT OR REPLACE INTO penalty_confirmations (channel_id, penalty_txid, height, block_hash) "
                       "VALUES (?, ?, ?, ?)");
                s.text(1, c.channel_id).blob(2, c.penalty_txid.bytes).integer(3, c.height).blob(4, c.block_hash);
                if (s.step() != SQLITE_DONE) return db_error(db, "record penalty confirmation");
            } else if (const auto* fp = std::get_if<ForgetPenaltyConfirmation>(&action)) {
                Stmt s(db, "DELETE FROM penalty_confirmations WHERE channel_id = ? AND penalty_txid = ?");
                s.text(1, fp->channel_id).blob(2, fp->penalty_txid.bytes);
                if (s.step() != SQLITE_DONE) return db_error(db, "forget penalty confirmation");
            }
        }
        if (connect) {
            Stmt s(db, "INSERT OR REPLACE INTO blocks (height, hash) VALUES (?, ?)");
            s.integer(1, height).blob(2, hash);
            if (s.step() != SQLITE_DONE) return db_error(db, "record block");
            Stmt old(db, "DELETE FROM blocks WHERE height < ?");
            old.integer(1, static_cast<std::int64_t>(height) - options_.reorg_window);
            if (old.step() != SQLITE_DONE) return db_error(db, "trim blocks");
        } else {
            Stmt s(db, "DELETE FROM blocks WHERE height >= ?");
            s.integer(1, height);
            if (s.step() != SQLITE_DONE) return db_error(db, "forget block");
        }
        return exec(db, "COMMIT");
    };
    Status written = write();
    if (!written) {
        if (auto rolled_back = exec(db, "ROLLBACK"); !rolled_back) {
            log_event(LogLevel::error, "chain_view_rollback_failed", {{"error", rolled_back.error().message}});
        }
        if (auto rebuilt = rebuild_view(); !rebuilt) {
            log_event(LogLevel::error, "chain_view_rebuild_failed", {{"error", rebuilt.error().message}});
        }
        return written;
    }
    for (const auto& action : actions) {
        if (options_.on_action) options_.on_action(action);
    }
    return {};
}

bool ChainWatch::blocks_read_beyond_window() {
    Stmt s(db_->db, "SELECT count(*) FROM blocks");
    return s.step() == SQLITE_ROW && s.col_int(0) >= static_cast<std::int64_t>(options_.reorg_window);
}

Status ChainWatch::poll_once() {
    if (!rpc_) return {};
    std::lock_guard lock(mutex_);
    if (stalled_) return make_error(ErrorCode::unavailable, "the chain view stopped at a reorg deeper than its window");
    auto count = rpc_->call("getblockcount");
    if (!count || !count->is_number_unsigned()) {
        bool was = reachable_.exchange(false);
        if (was) log_event(LogLevel::warn, "client_bitcoind_unreachable", {{"error", count ? "bad getblockcount" : count.error().message}});
        return count ? make_error(ErrorCode::unavailable, "bitcoind getblockcount: not a number")
                     : rpc_error("getblockcount", count.error());
    }
    if (!reachable_.exchange(true)) log_event(LogLevel::info, "client_bitcoind_reachable", {});
    const auto chain_height = count->get<std::uint32_t>();
    auto hash_at = [&](std::uint32_t height) -> Result<Hash256> {
        auto r = rpc_->call("getblockhash", json::array({height}));
        if (!r) return rpc_error("getblockhash", r.error());
        return block_hash_from_display(*r);
    };
    // Down to the fork: the tip's hash must be bitcoind's at that height.
    while (auto tip = view_.tip()) {
        if (tip->height <= chain_height) {
            auto there = hash_at(tip->height);
            if (!there) return there.error();
            if (*there == tip->hash) break;
        }
        auto parent = stored_hash(tip->height - 1);
        if (!parent) return parent.error();
        if (!*parent && tip->height > 0 && !blocks_read_beyond_window()) {
            // Below the first block this view read: nothing of ours is there,
            // so the new chain's block is as good a parent as any.
            auto theirs = hash_at(tip->height - 1);
            if (!theirs) return theirs.error();
            *parent = *theirs;
        }
        if (!*parent) {
            stalled_ = true;
            log_event(LogLevel::error, "client_chain_reorg_too_deep",
                      {{"height", std::to_string(tip->height)}, {"window", std::to_string(options_.reorg_window)}});
            return make_error(ErrorCode::unavailable, "reorg deeper than the chain view's window");
        }
        log_event(LogLevel::info, "client_block_disconnected",
                  {{"height", std::to_string(tip->height)}, {"hash", display(tip->hash)}});
        if (auto ok = apply(ChainBlockDisconnected{tip->height, tip->hash, **parent}, tip->height, tip->hash, false); !ok) {
            return ok;
        }
    }
    std::uint32_t next = view_.tip() ? view_.tip()->height + 1 : options_.start_height.value_or(chain_height);
    for (std::uint32_t read = 0; next <= chain_height && read < options_.max_blocks_per_poll; ++next, ++read) {
        auto hash = hash_at(next);
        if (!hash) return hash.error();
        auto raw = rpc_->call("getblock", json::array({display(*hash), 0}));
        if (!raw) return rpc_error("getblock", raw.error());
        if (!raw->is_string()) return make_error(ErrorCode::unavailable, "bitcoind getblock: not hex");
        auto bytes = parse_hex(raw->get<std::string>());
        if (!bytes) return make_error(ErrorCode::unavailable, "bitcoind getblock: not hex");
        auto block = parse_block(*bytes);
        if (!block) return make_error(ErrorCode::unavailable, "bitcoind getblock: " + block.error().message);
        if (block->header.hash() != *hash) return make_error(ErrorCode::unavailable, "bitcoind getblock: wrong block");
        auto tip = view_.tip();
        if (tip && block->header.previous_block != tip->hash) break;  // a reorg under way: the next poll finds the fork
        if (auto ok = apply(ChainBlockConnected{next, &*block}, next, *hash, true); !ok) return ok;
    }
    return {};
}

void ChainWatch::start() {
    if (!rpc_ || thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] {
        std::unique_lock lock(thread_mutex_);
        while (!stopping_) {
            lock.unlock();
            if (auto ok = poll_once(); !ok) {
                log_event(LogLevel::debug, "client_chain_poll_failed", {{"error", ok.error().message}});
            }
            lock.lock();
            clock_.wait_for(lock, wake_, options_.poll, [&] { return stopping_; });
        }
    });
}

void ChainWatch::stop() {
    {
        std::lock_guard lock(thread_mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::optional<ChainTip> ChainWatch::tip() {
    std::lock_guard lock(mutex_);
    return view_.tip();
}

std::vector<std::pair<std::string, OutPoint>> ChainWatch::fundings() {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::string, OutPoint>> out;
    Stmt s(db_->db, "SELECT channel_id, txid, vout FROM fundings ORDER BY channel_id");
    while (s.step() == SQLITE_ROW) {
        out.emplace_back(s.col_text(0), OutPoint{Txid{s.col_array<32>(1)}, static_cast<std::uint32_t>(s.col_int(2))});
    }
    return out;
}

ChainChannelStatus ChainWatch::status(const std::string& channel_id) {
    std::lock_guard lock(mutex_);
    ChainChannelStatus out;
    Stmt s(db_->db, "SELECT txid, vout FROM fundings WHERE channel_id = ?");
    s.text(1, channel_id);
    if (s.step() == SQLITE_ROW) out.funding = OutPoint{Txid{s.col_array<32>(0)}, static_cast<std::uint32_t>(s.col_int(1))};
    auto it = view_.closes().find(channel_id);
    if (it != view_.closes().end()) {
        out.close = it->second;
        auto tip = view_.tip();
        if (tip && tip->height >= it->second.height) out.close_confirmations = tip->height - it->second.height + 1;
    }
    return out;
}

std::uint32_t ChainWatch::penalty_confirmations(const std::string& channel_id, const Txid& penalty_txid) {
    std::lock_guard lock(mutex_);
    return view_.penalty_confirmations(channel_id, penalty_txid);
}

}  // namespace argus::client
