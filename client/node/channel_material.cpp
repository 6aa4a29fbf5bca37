#include "client/node/channel_material.h"

#include <sqlite3.h>

#include <cstring>
#include <limits>

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

Result<std::string> string_of(const json& j, const char* name) {
    if (!j.contains(name) || !j[name].is_string()) return bad(std::string("missing string field `") + name + "`");
    return j[name].get<std::string>();
}

Result<PrivateKey> secret_of(const json& j, const char* name) {
    auto s = string_of(j, name);
    if (!s) return s.error();
    auto bytes = parse_hex(*s);
    if (!bytes) return bad(std::string("`") + name + "` is not hex");
    auto key = PrivateKey::from_bytes(*bytes);
    if (!key) return bad(std::string("`") + name + "` is not a valid secret key");
    return key;
}

Result<PublicKey> point_of(const json& j, const char* name) {
    auto s = string_of(j, name);
    if (!s) return s.error();
    auto bytes = parse_hex(*s);
    if (!bytes) return bad(std::string("`") + name + "` is not hex");
    auto key = PublicKey::parse(*bytes);
    if (!key) return bad(std::string("`") + name + "` is not a public key");
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
    std::uint64_t total = s.local_msat + s.remote_msat;
    for (const auto& h : s.htlcs) total += h.amount_msat;
    (void)total;  // checked against the funding amount by the caller
    return s;
}
}  // namespace

Status ChannelBook::open(const std::string& path) {
    db_ = std::make_shared<Db>();
    if (sqlite3_open(path.c_str(), &db_->db) != SQLITE_OK) return make_error(ErrorCode::storage, "cannot open " + path);
    sqlite3_busy_timeout(db_->db, 2'000);
    const char* schema =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        "CREATE TABLE IF NOT EXISTS channels (channel_id TEXT PRIMARY KEY, material TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS revocations (channel_id TEXT NOT NULL, commitment_number INTEGER NOT NULL, "
        "secret BLOB NOT NULL, PRIMARY KEY (channel_id, commitment_number));";
    if (sqlite3_exec(db_->db, schema, nullptr, nullptr, nullptr) != SQLITE_OK) {
        return make_error(ErrorCode::storage, std::string("channel book: ") + sqlite3_errmsg(db_->db));
    }
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_->db, "SELECT channel_id, material FROM channels", -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) {
        std::string id = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
        auto entry = build(json::parse(reinterpret_cast<const char*>(sqlite3_column_text(s, 1)), nullptr, false));
        if (!entry) continue;
        // Replay revealed secrets in order so the shachain keeps checking new ones.
        sqlite3_stmt* r = nullptr;
        sqlite3_prepare_v2(db_->db, "SELECT commitment_number, secret FROM revocations WHERE channel_id = ? "
                                    "ORDER BY commitment_number", -1, &r, nullptr);
        sqlite3_bind_text(r, 1, id.c_str(), -1, SQLITE_TRANSIENT);
        while (sqlite3_step(r) == SQLITE_ROW) {
            Hash256 secret{};
            if (sqlite3_column_bytes(r, 1) == 32) std::memcpy(secret.data(), sqlite3_column_blob(r, 1), 32);
            auto point = PrivateKey::from_bytes(secret);
            if (point) (void)entry->channel->receive_revocation(static_cast<std::uint64_t>(sqlite3_column_int64(r, 0)), secret, point->public_key());
        }
        sqlite3_finalize(r);
        channels_.emplace(id, std::move(*entry));
    }
    sqlite3_finalize(s);
    return {};
}

Result<ChannelBook::Entry> ChannelBook::build(const json& m) {
    if (!m.is_object()) return bad("channel material must be a JSON object");
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
    for (auto* r : {&index}) if (!*r) return r->error();
    if (!sats) return sats.error();
    if (!local_delay) return local_delay.error();
    if (!remote_delay) return remote_delay.error();
    if (!dust) return dust.error();
    if (!feerate) return feerate.error();
    config.funding_outpoint = {*txid, *index};
    config.funding_satoshis = static_cast<std::int64_t>(*sats);
    config.local_is_opener = m.value("local_is_opener", true);
    config.anchors = m.value("anchors", true);
    config.local_to_self_delay = *local_delay;
    config.remote_to_self_delay = *remote_delay;
    config.dust_limit_satoshis = static_cast<std::int64_t>(*dust);
    if (!m.contains("local_secrets") || !m.contains("remote_basepoints")) {
        return bad("missing `local_secrets` or `remote_basepoints`");
    }
    const json& ls = m["local_secrets"];
    const json& rb = m["remote_basepoints"];
    auto funding = secret_of(ls, "funding");
    auto revocation = secret_of(ls, "revocation_basepoint");
    auto payment = secret_of(ls, "payment_basepoint");
    auto delayed = secret_of(ls, "delayed_payment_basepoint");
    auto htlc = secret_of(ls, "htlc_basepoint");
    for (auto* k : {&funding, &revocation, &payment, &delayed, &htlc}) if (!*k) return k->error();
    auto r_funding = point_of(rb, "funding");
    auto r_revocation = point_of(rb, "revocation");
    auto r_payment = point_of(rb, "payment");
    auto r_delayed = point_of(rb, "delayed_payment");
    auto r_htlc = point_of(rb, "htlc");
    for (auto* k : {&r_funding, &r_revocation, &r_payment, &r_delayed, &r_htlc}) if (!*k) return k->error();
    auto sweep = string_of(m, "sweep_address");
    if (!sweep) return sweep.error();
    Result<Bytes> script = make_error(ErrorCode::invalid_argument, "unknown network");
    for (Network n : {Network::mainnet, Network::testnet, Network::regtest}) {
        script = decode_address(*sweep, n);
        if (script) break;
    }
    if (!script) return bad("`sweep_address` is not a segwit address: " + script.error().message);
    ChannelSecrets secrets{*funding, *revocation, *payment, *delayed, *htlc, Hash256{}};
    ChannelBasepoints remote{*r_funding, *r_revocation, *r_payment, *r_delayed, *r_htlc};
    Entry e;
    e.channel = std::make_unique<Channel>(config, secrets, remote);
    e.sweep_script = *script;
    e.feerate_per_kw = *feerate;
    return e;
}

Result<std::string> ChannelBook::add_channel(const json& material) {
    auto id = string_of(material, "channel_id");
    if (!id || id->empty()) return bad("missing string field `channel_id`");
    auto entry = build(material);
    if (!entry) return entry.error();
    std::lock_guard lock(mutex_);
    if (channels_.count(*id)) return bad("channel " + *id + " already exists");
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_->db, "INSERT INTO channels VALUES (?, ?)", -1, &s, nullptr);
    std::string text = material.dump();
    sqlite3_bind_text(s, 1, id->c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, text.c_str(), -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return make_error(ErrorCode::storage, std::string("channel book: ") + sqlite3_errmsg(db_->db));
    channels_.emplace(*id, std::move(*entry));
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
    std::uint64_t total = state->local_msat + state->remote_msat;
    for (const auto& h : state->htlcs) total += h.amount_msat;
    if (total != static_cast<std::uint64_t>(entry.channel->config().funding_satoshis) * 1000) {
        return bad("state balances and HTLCs do not add up to the channel's capacity");
    }
    if (!entry.channel->revealed_secret(*number)) {
        if (auto ok = entry.channel->receive_revocation(*number, *secret, secret_key->public_key()); !ok) return ok.error();
        sqlite3_stmt* s = nullptr;
        sqlite3_prepare_v2(db_->db, "INSERT OR IGNORE INTO revocations VALUES (?, ?, ?)", -1, &s, nullptr);
        sqlite3_bind_text(s, 1, channel_id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, static_cast<std::int64_t>(*number));
        sqlite3_bind_blob(s, 3, secret->data(), 32, SQLITE_TRANSIENT);
        int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE) return make_error(ErrorCode::storage, std::string("channel book: ") + sqlite3_errmsg(db_->db));
    } else if (*entry.channel->revealed_secret(*number) != *secret) {
        return make_error(ErrorCode::inconsistent_secret, "a different secret was already revealed for this commitment");
    }
    auto justice = entry.channel->justice_transaction(*state, entry.sweep_script, entry.feerate_per_kw);
    if (!justice) return justice.error();
    bolt3::Commitment revoked = entry.channel->remote_commitment(*state, secret_key->public_key());
    RevokedState backup{revoked.tx.txid().to_display_hex(), to_hex(justice->serialize()), channel_id, *number,
                        entry.channel->config().remote_to_self_delay};
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
