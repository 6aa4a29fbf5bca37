#include "client/node/channel_material.h"

#include <sqlite3.h>

#include <cstring>
#include <limits>

#include "client/backup/private_database.h"
#include "log/log.h"
#include "common/bech32.h"
#include "common/hex.h"
#include "common/watchtower_crypto.h"

namespace argus::client {

using json = nlohmann::json;

struct ChannelBook::Db {
    sqlite3* db = nullptr;
    ~Db() { sqlite3_close_v2(db); }
};

namespace {
Error bad(const std::string& why) { return make_error(ErrorCode::invalid_argument, why); }

Error db_error(sqlite3* db, const std::string& what) {
    return make_error(ErrorCode::storage, "channel book: " + what + ": " + sqlite3_errmsg(db));
}

Status exec(sqlite3* db, const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        std::string text = message ? message : sqlite3_errmsg(db);
        sqlite3_free(message);
        return make_error(ErrorCode::storage, std::string("channel book: ") + text);
    }
    return {};
}

struct Statement {
    sqlite3_stmt* s = nullptr;
    int prepared;
    Statement(sqlite3* db, const char* sql) : prepared(sqlite3_prepare_v2(db, sql, -1, &s, nullptr)) {}
    ~Statement() { sqlite3_finalize(s); }
    explicit operator bool() const { return prepared == SQLITE_OK; }
};

Result<std::string> string_of(const json& j, const std::string& name) {
    if (!j.contains(name) || !j[name].is_string()) return bad("missing string field `" + name + "`");
    return j[name].get<std::string>();
}

Result<PrivateKey> secret_of(const json& j, const std::string& name) {
    auto s = string_of(j, name);
    if (!s) return s.error();
    auto bytes = parse_hex(*s);
    if (!bytes) return bad("`" + name + "` is not hex");
    auto key = PrivateKey::from_bytes(*bytes);
    secure_wipe(bytes->data(), bytes->size());
    if (!key) return bad("`" + name + "` is not a valid secret key");
    return key;
}

Result<PublicKey> point_of(const json& j, const std::string& object, const std::string& name) {
    auto s = string_of(j, name);
    if (!s) return bad("missing string field `" + object + "." + name + "`");
    auto bytes = parse_hex(*s);
    if (!bytes) return bad("`" + object + "." + name + "` is not hex");
    auto key = PublicKey::parse(*bytes);
    if (!key) return bad("`" + object + "." + name + "` is not a public key");
    return key;
}

template <class T>
Result<T> number_of(const json& j, const char* name, T fallback, bool required) {
    if (!j.contains(name)) {
        if (required) return bad(std::string("missing field `") + name + "`");
        return fallback;
    }
    bool non_negative = j[name].is_number_unsigned() || (j[name].is_number_integer() && j[name].get<std::int64_t>() >= 0);
    if (!non_negative || j[name].get<std::uint64_t>() > std::numeric_limits<T>::max()) {
        return bad(std::string("`") + name + "` must be an unsigned integer in range");
    }
    return j[name].get<T>();
}

Result<bool> flag_of(const json& j, const char* name, bool fallback) {
    if (!j.contains(name)) return fallback;
    if (!j[name].is_boolean()) return bad(std::string("`") + name + "` must be true or false");
    return j[name].get<bool>();
}

Result<ChannelState> state_of(const json& j, std::uint64_t commitment_number) {
    if (!j.is_object()) return bad("`state` must be an object");
    ChannelState s;
    s.commitment_number = commitment_number;
    auto local = number_of<std::uint64_t>(j, "local_msat", 0, true);
    auto remote = number_of<std::uint64_t>(j, "remote_msat", 0, true);
    auto feerate = number_of<std::uint32_t>(j, "feerate_per_kw", 253, false);
    if (!local) return local.error();
    if (!remote) return remote.error();
    if (!feerate) return feerate.error();
    s.local_msat = *local;
    s.remote_msat = *remote;
    s.feerate_per_kw = *feerate;
    if (j.contains("htlcs")) {
        if (!j["htlcs"].is_array()) return bad("`htlcs` must be an array");
        for (const auto& h : j["htlcs"]) {
            bolt3::Htlc htlc;
            auto direction = string_of(h, "direction");
            if (!direction || (*direction != "offered" && *direction != "received")) {
                return bad("htlc `direction` must be \"offered\" or \"received\" (as seen by the wallet)");
            }
            htlc.direction = *direction == "offered" ? bolt3::HtlcDirection::offered : bolt3::HtlcDirection::received;
            auto amount = number_of<std::uint64_t>(h, "amount_msat", 0, true);
            auto expiry = number_of<std::uint32_t>(h, "cltv_expiry", 0, true);
            auto hash = string_of(h, "payment_hash");
            if (!amount) return amount.error();
            if (!expiry) return expiry.error();
            if (!hash) return hash.error();
            auto hash_bytes = parse_hex_array<32>(*hash);
            if (!hash_bytes) return bad("htlc `payment_hash` must be 32 bytes of hex");
            htlc.amount_msat = *amount;
            htlc.cltv_expiry = *expiry;
            htlc.payment_hash = *hash_bytes;
            s.htlcs.push_back(htlc);
        }
    }
    return s;
}

// The only local secret a justice transaction needs; any other one in a
// request is refused by name rather than kept.
constexpr const char* needed_secret = "revocation_basepoint";

Status refuse_unneeded_secrets(const json& local_secrets) {
    for (const auto& [name, value] : local_secrets.items()) {
        if (name == needed_secret) continue;
        return bad("`local_secrets." + name + "` is not needed and must not be sent: the client keeps only "
                   "`local_secrets.revocation_basepoint` (send public keys in `local_basepoints`)");
    }
    return {};
}

std::string hex_of(const PublicKey& key) { return to_hex(key.bytes()); }

// Migration 1: version 0 stored the material as posted, with the funding,
// payment, delayed-payment and HTLC secrets. Keep the revocation basepoint
// secret and replace the others by their public keys.
Result<json> reduce_version_0_material(json material) {
    if (!material.is_object() || !material.contains("local_secrets") || !material["local_secrets"].is_object()) {
        return bad("no `local_secrets` object");
    }
    json& secrets = material["local_secrets"];
    if (!material.contains("local_basepoints")) {
        json points = json::object();
        const std::pair<const char*, const char*> names[] = {
            {"funding", "funding"}, {"payment_basepoint", "payment"}, {"htlc_basepoint", "htlc"}};
        for (const auto& [secret_name, point_name] : names) {
            auto key = secret_of(secrets, secret_name);
            if (!key) return key.error();
            points[point_name] = hex_of(key->public_key());
        }
        material["local_basepoints"] = points;
    }
    json kept = json::object();
    if (secrets.contains(needed_secret)) kept[needed_secret] = secrets[needed_secret];
    material["local_secrets"] = kept;
    return material;
}
}  // namespace

Status ChannelBook::open(const std::string& path) {
    auto opened = open_private_database(path);
    if (!opened) return opened.error();
    db_ = std::make_shared<Db>();
    db_->db = *opened;
    // secure_delete: pages freed by an update or delete are zeroed, so a
    // rewritten row leaves no old secret behind in the file.
    const char* schema =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
        "CREATE TABLE IF NOT EXISTS channels (channel_id TEXT PRIMARY KEY, material TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS revocations (channel_id TEXT NOT NULL, commitment_number INTEGER NOT NULL, "
        "secret BLOB NOT NULL, PRIMARY KEY (channel_id, commitment_number));";
    if (auto ok = exec(db_->db, schema); !ok) return ok;
    if (auto ok = migrate(); !ok) return ok;
    return load();
}

Status ChannelBook::migrate() {
    sqlite3* db = db_->db;
    int current = 0;
    {
        Statement version(db, "PRAGMA user_version");
        if (!version || sqlite3_step(version.s) != SQLITE_ROW) return db_error(db, "read schema version");
        current = sqlite3_column_int(version.s, 0);
    }
    if (current > channel_book_schema_version) {
        return make_error(ErrorCode::storage, "channel book has schema version " + std::to_string(current) +
                                                  ", newer than this binary's " +
                                                  std::to_string(channel_book_schema_version));
    }
    if (current == channel_book_schema_version) return {};
    if (auto ok = exec(db, "BEGIN IMMEDIATE"); !ok) return ok;
    auto rewrite = [&]() -> Status {
        std::vector<std::pair<std::string, std::string>> rows;
        {
            Statement s(db, "SELECT channel_id, material FROM channels");
            if (!s) return db_error(db, "read channels");
            while (sqlite3_step(s.s) == SQLITE_ROW) {
                rows.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s.s, 0)),
                                  reinterpret_cast<const char*>(sqlite3_column_text(s.s, 1)));
            }
        }
        for (auto& [id, text] : rows) {
            auto reduced = reduce_version_0_material(json::parse(text, nullptr, false));
            secure_wipe(text.data(), text.size());
            if (!reduced) return make_error(ErrorCode::storage, "channel " + id + ": " + reduced.error().message);
            auto entry = parse(*reduced);
            if (!entry) return make_error(ErrorCode::storage, "channel " + id + ": " + entry.error().message);
            std::string stored = stored_material(*entry).dump();
            Statement u(db, "UPDATE channels SET material = ? WHERE channel_id = ?");
            if (!u) return db_error(db, "migrate channel " + id);
            sqlite3_bind_text(u.s, 1, stored.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(u.s, 2, id.c_str(), -1, SQLITE_TRANSIENT);
            if (sqlite3_step(u.s) != SQLITE_DONE) return db_error(db, "migrate channel " + id);
        }
        return exec(db, "PRAGMA user_version = 1");
    };
    Status migrated = rewrite();
    if (migrated) migrated = exec(db, "COMMIT");
    if (!migrated) {
        if (auto rolled_back = exec(db, "ROLLBACK"); !rolled_back) {
            log_event(LogLevel::error, "channel_book_rollback_failed", {{"error", rolled_back.error().message}});
        }
        return migrated;
    }
    // Copy the rewritten pages into the database file and empty the WAL, which
    // would otherwise keep the old rows' frames until the next checkpoint.
    return exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
}

Status ChannelBook::load() {
    sqlite3* db = db_->db;
    Statement s(db, "SELECT channel_id, material FROM channels");
    if (!s) return db_error(db, "read channels");
    int rc;
    while ((rc = sqlite3_step(s.s)) == SQLITE_ROW) {
        std::string id = reinterpret_cast<const char*>(sqlite3_column_text(s.s, 0));
        auto entry = parse(json::parse(reinterpret_cast<const char*>(sqlite3_column_text(s.s, 1)), nullptr, false));
        if (!entry) return make_error(ErrorCode::storage, "stored channel " + id + " is unreadable: " + entry.error().message);
        // Replay revealed secrets in order so the shachain keeps checking new ones.
        Statement r(db, "SELECT commitment_number, secret FROM revocations WHERE channel_id = ? ORDER BY commitment_number");
        if (!r) return db_error(db, "read revocations");
        sqlite3_bind_text(r.s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
        int revocation_rc;
        while ((revocation_rc = sqlite3_step(r.s)) == SQLITE_ROW) {
            auto number = static_cast<std::uint64_t>(sqlite3_column_int64(r.s, 0));
            Hash256 secret{};
            if (sqlite3_column_bytes(r.s, 1) != 32) {
                return make_error(ErrorCode::storage, "stored secret " + std::to_string(number) + " of channel " + id + " is not 32 bytes");
            }
            std::memcpy(secret.data(), sqlite3_column_blob(r.s, 1), 32);
            auto point = PrivateKey::from_bytes(secret);
            if (!point) return make_error(ErrorCode::storage, "stored secret " + std::to_string(number) + " of channel " + id + " is not a key");
            if (auto ok = entry->channel->receive_revocation(number, secret, point->public_key()); !ok) {
                return make_error(ErrorCode::storage, "stored secret " + std::to_string(number) + " of channel " + id +
                                                          " breaks the shachain: " + ok.error().message);
            }
        }
        if (revocation_rc != SQLITE_DONE) return db_error(db, "read revocations of " + id);
        OutPoint funding = entry->channel->config().funding_outpoint;
        channels_.emplace(id, std::move(*entry));
        if (auto watched = node_.watch_funding(id, funding); !watched) return watched.error();
    }
    if (rc != SQLITE_DONE) return db_error(db, "read channels");
    return {};
}

Result<ChannelBook::Entry> ChannelBook::parse(const json& m) {
    if (!m.is_object()) return bad("channel material must be a JSON object");
    for (const char* object : {"local_secrets", "local_basepoints", "remote_basepoints"}) {
        if (!m.contains(object) || !m[object].is_object()) return bad(std::string("missing object `") + object + "`");
    }
    const json& ls = m["local_secrets"];
    if (auto ok = refuse_unneeded_secrets(ls); !ok) return ok.error();
    auto funding_txid = string_of(m, "funding_txid");
    if (!funding_txid) return funding_txid.error();
    auto txid = Txid::from_display_hex(*funding_txid);
    if (!txid) return bad("`funding_txid` must be 32 bytes of hex");
    ChannelConfig config;
    auto index = number_of<std::uint32_t>(m, "funding_output_index", 0, true);
    auto sats = number_of<std::uint64_t>(m, "funding_satoshis", 0, true);
    auto local_delay = number_of<std::uint16_t>(m, "local_to_self_delay", 144, false);
    auto remote_delay = number_of<std::uint16_t>(m, "remote_to_self_delay", 144, false);
    auto dust = number_of<std::uint64_t>(m, "dust_limit_satoshis", 546, false);
    auto feerate = number_of<std::uint32_t>(m, "justice_feerate_per_kw", 2500, false);
    auto opener = flag_of(m, "local_is_opener", true);
    auto anchors = flag_of(m, "anchors", true);
    if (!index) return index.error();
    if (!sats) return sats.error();
    if (*sats > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 1000)) {
        return bad("`funding_satoshis` is out of range");
    }
    if (!local_delay) return local_delay.error();
    if (!remote_delay) return remote_delay.error();
    if (!dust) return dust.error();
    if (*dust > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return bad("`dust_limit_satoshis` is out of range");
    if (!feerate) return feerate.error();
    if (!opener) return opener.error();
    if (!anchors) return anchors.error();
    config.funding_outpoint = {*txid, *index};
    config.funding_satoshis = static_cast<std::int64_t>(*sats);
    config.local_is_opener = *opener;
    config.anchors = *anchors;
    config.local_to_self_delay = *local_delay;
    config.remote_to_self_delay = *remote_delay;
    config.dust_limit_satoshis = static_cast<std::int64_t>(*dust);

    auto revocation = secret_of(ls, needed_secret);
    if (!revocation) return bad("`local_secrets.revocation_basepoint`: " + revocation.error().message);
    const json& lb = m["local_basepoints"];
    const json& rb = m["remote_basepoints"];
    auto local_funding = point_of(lb, "local_basepoints", "funding");
    auto local_payment = point_of(lb, "local_basepoints", "payment");
    auto local_htlc = point_of(lb, "local_basepoints", "htlc");
    // The remote revocation basepoint only enters our own commitment: not needed, ignored if sent.
    auto remote_funding = point_of(rb, "remote_basepoints", "funding");
    auto remote_payment = point_of(rb, "remote_basepoints", "payment");
    auto remote_delayed = point_of(rb, "remote_basepoints", "delayed_payment");
    auto remote_htlc = point_of(rb, "remote_basepoints", "htlc");
    for (auto* k : {&local_funding, &local_payment, &local_htlc, &remote_funding, &remote_payment, &remote_delayed, &remote_htlc}) {
        if (!*k) return k->error();
    }
    auto sweep = string_of(m, "sweep_address");
    if (!sweep) return sweep.error();
    Result<Bytes> script = make_error(ErrorCode::invalid_argument, "unknown network");
    for (Network n : {Network::mainnet, Network::testnet, Network::regtest}) {
        script = decode_address(*sweep, n);
        if (script) break;
    }
    if (!script) return bad("`sweep_address` is not a segwit address: " + script.error().message);
    JusticeMaterial material{*revocation,     *local_funding,  *local_payment,  *local_htlc,
                             *remote_funding, *remote_payment, *remote_delayed, *remote_htlc};
    Entry e;
    e.channel = std::make_unique<WatchedChannel>(config, material);
    e.sweep_address = *sweep;
    e.sweep_script = *script;
    e.feerate_per_kw = *feerate;
    return e;
}

json ChannelBook::stored_material(const Entry& e) {
    const ChannelConfig& c = e.channel->config();
    const JusticeMaterial& k = e.channel->material();
    return {{"funding_txid", c.funding_outpoint.txid.to_display_hex()},
            {"funding_output_index", c.funding_outpoint.index},
            {"funding_satoshis", c.funding_satoshis},
            {"local_is_opener", c.local_is_opener},
            {"anchors", c.anchors},
            {"local_to_self_delay", c.local_to_self_delay},
            {"remote_to_self_delay", c.remote_to_self_delay},
            {"dust_limit_satoshis", c.dust_limit_satoshis},
            {"justice_feerate_per_kw", e.feerate_per_kw},
            {"sweep_address", e.sweep_address},
            {"local_secrets", {{needed_secret, to_hex(k.revocation_basepoint_secret.bytes())}}},
            {"local_basepoints",
             {{"funding", hex_of(k.local_funding_pubkey)},
              {"payment", hex_of(k.local_payment_basepoint)},
              {"htlc", hex_of(k.local_htlc_basepoint)}}},
            {"remote_basepoints",
             {{"funding", hex_of(k.remote_funding_pubkey)},
              {"payment", hex_of(k.remote_payment_basepoint)},
              {"delayed_payment", hex_of(k.remote_delayed_payment_basepoint)},
              {"htlc", hex_of(k.remote_htlc_basepoint)}}}};
}

Result<std::string> ChannelBook::add_channel(const json& material) {
    auto id = string_of(material, "channel_id");
    if (!id || id->empty()) return bad("missing string field `channel_id`");
    auto entry = parse(material);
    if (!entry) return entry.error();
    std::lock_guard lock(mutex_);
    if (channels_.count(*id)) return bad("channel " + *id + " already exists");
    Statement s(db_->db, "INSERT INTO channels VALUES (?, ?)");
    if (!s) return db_error(db_->db, "add channel");
    std::string text = stored_material(*entry).dump();
    sqlite3_bind_text(s.s, 1, id->c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s.s, 2, text.c_str(), -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s.s);
    secure_wipe(text.data(), text.size());
    if (rc != SQLITE_DONE) return db_error(db_->db, "add channel");
    // The chain view watches its funding outpoint (a failure to record it is
    // the caller's to see; the channel itself is stored and usable).
    OutPoint funding = entry->channel->config().funding_outpoint;
    channels_.emplace(*id, std::move(*entry));
    if (auto watched = node_.watch_funding(*id, funding); !watched) return watched.error();
    return *id;
}

Result<std::string> ChannelBook::revoke(const std::string& channel_id, const json& revocation) {
    std::lock_guard lock(mutex_);
    auto it = channels_.find(channel_id);
    if (it == channels_.end()) return make_error(ErrorCode::not_found, "unknown channel " + channel_id);
    Entry& entry = it->second;
    auto number = number_of<std::uint64_t>(revocation, "commitment_number", 0, true);
    if (!number) return number.error();
    auto secret_hex = string_of(revocation, "per_commitment_secret");
    if (!secret_hex) return secret_hex.error();
    auto secret = parse_hex_array<32>(*secret_hex);
    if (!secret) return bad("`per_commitment_secret` must be 32 bytes of hex");
    auto secret_key = PrivateKey::from_bytes(*secret);
    if (!secret_key) return bad("`per_commitment_secret` is not a valid secret");
    if (!revocation.contains("state")) return bad("missing field `state`");
    auto state = state_of(revocation["state"], *number);
    if (!state) return state.error();
    // Take each amount out of the capacity (no sum that could overflow); all of it must be accounted for.
    std::uint64_t unaccounted_msat = static_cast<std::uint64_t>(entry.channel->config().funding_satoshis) * 1000;
    bool fits = true;
    auto take = [&](std::uint64_t msat) {
        fits = fits && msat <= unaccounted_msat;
        if (fits) unaccounted_msat -= msat;
    };
    take(state->local_msat);
    take(state->remote_msat);
    for (const auto& h : state->htlcs) take(h.amount_msat);
    if (!fits || unaccounted_msat != 0) return bad("state balances and HTLCs do not add up to the channel's capacity");
    if (!entry.channel->revealed_secret(*number)) {
        if (auto ok = entry.channel->receive_revocation(*number, *secret, secret_key->public_key()); !ok) return ok.error();
        Statement s(db_->db, "INSERT OR IGNORE INTO revocations VALUES (?, ?, ?)");
        if (!s) return db_error(db_->db, "store revocation");
        sqlite3_bind_text(s.s, 1, channel_id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s.s, 2, static_cast<std::int64_t>(*number));
        sqlite3_bind_blob(s.s, 3, secret->data(), 32, SQLITE_TRANSIENT);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db_->db, "store revocation");
    } else if (*entry.channel->revealed_secret(*number) != *secret) {
        return make_error(ErrorCode::inconsistent_secret, "a different secret was already revealed for this commitment");
    }
    auto justice = entry.channel->justice_transaction(*state, entry.sweep_script, entry.feerate_per_kw);
    if (!justice) return justice.error();
    bolt3::Commitment revoked = entry.channel->remote_commitment(*state, secret_key->public_key());
    RevokedState backup{revoked.tx.txid().to_display_hex(), to_hex(justice->serialize()), channel_id, *number,
                        entry.channel->config().remote_to_self_delay, entry.channel->config().funding_outpoint,
                        std::nullopt};
    if (kits_) {
        // One penalty per output at a ladder of fee rates; a state whose
        // outputs cannot pay the floor keeps the classic penalty alone.
        if (auto built = entry.channel->penalty_kit(*state, entry.sweep_script, *kits_)) {
            backup.kit = std::move(built->kit);
        } else {
            log_event(LogLevel::info, "penalty_kit_not_built",
                      {{"channel_id", channel_id}, {"commitnum", std::to_string(*number)}, {"reason", built.error().message}});
        }
    }
    auto locator = node_.backup(backup);
    if (!locator) return locator.error();
    return to_hex(*locator);
}

json ChannelBook::list() {
    std::lock_guard lock(mutex_);
    json out = json::array();
    for (const auto& [id, entry] : channels_) {
        out.push_back({{"channel_id", id},
                       {"funding_txid", entry.channel->config().funding_outpoint.txid.to_display_hex()},
                       {"funding_satoshis", entry.channel->config().funding_satoshis}});
    }
    return out;
}

}  // namespace argus::client
