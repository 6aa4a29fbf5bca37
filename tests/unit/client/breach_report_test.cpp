// Breaches as towers report them: reading get_appointment's answer, checking
// a dispute report against the backup, recording it in the queue (and the
// queue's schema upgrade that made room for it), the per-channel summary and
// its text.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <string>

#include "client/backup/backup_queue.h"
#include "client/backup/breach_report.h"
#include "client/node/channel_status_text.h"
#include "common/hex.h"
#include "common/watchtower_crypto.h"
#include "tests/support/temporary_directory.h"

using namespace argus;
using namespace argus::client;
using namespace argus::test;
using json = nlohmann::json;

namespace {

struct Revoked {
    Transaction commitment;
    Transaction penalty;
    BackupRecord backup;
};

// A made-up commitment and a penalty spending it, backed up as the node does.
Revoked revoked(std::uint8_t n, const std::string& channel, std::uint64_t commitnum) {
    Revoked r;
    TxIn in;
    in.prevout.txid.bytes[0] = n;
    r.commitment.inputs.push_back(in);
    r.commitment.outputs.push_back({100'000, Bytes(34, 1)});
    TxIn spend;
    spend.prevout = {r.commitment.txid(), 0};
    spend.witness = {Bytes(72, 2), Bytes{1}, Bytes(80, 3)};
    r.penalty.inputs.push_back(spend);
    r.penalty.outputs.push_back({99'000, Bytes(22, 4)});
    Txid txid = r.commitment.txid();
    r.backup.locator = teos::locator(txid);
    r.backup.commitment_txid = txid;
    r.backup.encrypted_blob = teos::encrypt_penalty(r.penalty.serialize(), txid);
    r.backup.to_self_delay = 144;
    r.backup.channel_id = channel;
    r.backup.commitment_number = commitnum;
    return r;
}

PublicKey tower_key(std::uint8_t fill) {
    return PrivateKey::from_bytes(Bytes(32, fill)).value().public_key();
}

TowerAddress tower_address(std::uint8_t fill) {
    return TowerAddress{tower_key(fill), "127.0.0.1", 1};
}

std::string responded_body(const Transaction& dispute, const Transaction& penalty) {
    return json{{"appointment",
                 {{"dispute_txid", dispute.txid().to_display_hex()},
                  {"penalty_txid", penalty.txid().to_display_hex()},
                  {"penalty_rawtx", to_hex(penalty.serialize())}}},
                {"status", "dispute_responded"}}
        .dump();
}

AppointmentState responded(const Transaction& dispute, const Transaction& penalty) {
    return parse_appointment_reply(200, responded_body(dispute, penalty)).value();
}

void ack(BackupQueue& queue, const PublicKey& tower, const Locator& locator) {
    REQUIRE(queue.mark_acked(tower, locator, AppointmentReceipt{"u", 1, "t", 10, 100}));
}

}  // namespace

TEST_CASE(
    "client teos: get_appointment answers are read as watched, responded or not found, and garbage "
    "refused") {
    auto watched = parse_appointment_reply(
        200,
        R"({"appointment":{"locator":"00","encrypted_blob":"00","to_self_delay":1},"status":"being_watched"})");
    REQUIRE(watched);
    CHECK(watched->status == AppointmentState::Status::being_watched);
    auto missing =
        parse_appointment_reply(404, R"({"error":"Appointment not found","error_code":36})");
    REQUIRE(missing);
    CHECK(missing->status == AppointmentState::Status::not_found);
    Revoked r = revoked(1, "c", 1);
    auto state = parse_appointment_reply(200, responded_body(r.commitment, r.penalty));
    REQUIRE(state);
    CHECK(state->status == AppointmentState::Status::dispute_responded);
    CHECK(state->dispute_txid == r.commitment.txid());  // display order on the wire, internal here
    CHECK(state->penalty_txid == r.penalty.txid());
    CHECK(state->penalty_rawtx == r.penalty.serialize());

    auto kind_of = [](unsigned status, const std::string& body) {
        auto parsed = parse_appointment_reply(status, body);
        REQUIRE_FALSE(parsed);
        return parsed.error().kind;
    };
    CHECK(kind_of(200, R"({"status":"being_rescued"})") == TowerError::Kind::bad_response);
    CHECK(kind_of(200, R"({"appointment":{}})") == TowerError::Kind::bad_response);
    CHECK(kind_of(200, R"({"appointment":{"dispute_txid":"00"},"status":"dispute_responded"})") ==
          TowerError::Kind::bad_response);
    json wrong = json::parse(responded_body(r.commitment, r.penalty));
    wrong["appointment"]["penalty_txid"] = "zz";
    CHECK(kind_of(200, wrong.dump()) == TowerError::Kind::bad_response);
    wrong = json::parse(responded_body(r.commitment, r.penalty));
    wrong["appointment"]["penalty_rawtx"] = 5;
    CHECK(kind_of(200, wrong.dump()) == TowerError::Kind::bad_response);
    CHECK(kind_of(200, "[]") == TowerError::Kind::bad_response);
    CHECK(kind_of(503, R"({"error":"busy","error_code":32})") == TowerError::Kind::rejected);
}

TEST_CASE(
    "client breach: a dispute report is recorded only when it is the backup's commitment and "
    "penalty") {
    Revoked r = revoked(2, "chan", 7);
    PublicKey tower = tower_key(0x41);
    auto breach = check_dispute_report(r.backup, responded(r.commitment, r.penalty), tower, 1234);
    REQUIRE(breach);
    CHECK(breach->locator == r.backup.locator);
    CHECK(breach->channel_id == "chan");
    CHECK(breach->commitment_number == 7);
    CHECK(breach->dispute_txid == r.commitment.txid());
    CHECK(breach->penalty_txid == r.penalty.txid());
    CHECK(breach->reported_by == tower);
    CHECK(breach->reported_ms == 1234);

    // Another commitment under our locator.
    Revoked other = revoked(3, "chan", 8);
    auto wrong_dispute =
        check_dispute_report(r.backup, responded(other.commitment, r.penalty), tower, 0);
    REQUIRE_FALSE(wrong_dispute);
    CHECK(wrong_dispute.error().message.find("reports a dispute") != std::string::npos);
    // A penalty_rawtx that is not penalty_txid.
    AppointmentState mismatched = responded(r.commitment, r.penalty);
    mismatched.penalty_txid = other.penalty.txid();
    CHECK(check_dispute_report(r.backup, mismatched, tower, 0)
              .error()
              .message.find("not penalty_txid") != std::string::npos);
    // A well-formed penalty that is not the one backed up.
    Transaction forged = r.penalty;
    forged.outputs[0].value = 1;
    auto not_ours = check_dispute_report(r.backup, responded(r.commitment, forged), tower, 0);
    REQUIRE_FALSE(not_ours);
    CHECK(not_ours.error().message.find("not the one backed up") != std::string::npos);
}

TEST_CASE(
    "client queue: breaches are recorded once, leave the audit and the checks, and survive "
    "reopening") {
    TemporaryDirectory dir;
    std::string path = dir.path() + "/backups.sqlite";
    TowerAddress a = tower_address(0x41), b = tower_address(0x42);
    Revoked breached = revoked(10, "chan-a", 5), sibling = revoked(11, "chan-a", 6),
            other = revoked(12, "chan-b", 1), loose1 = revoked(13, "", 0),
            loose2 = revoked(14, "", 0);
    {
        auto queue = BackupQueue::open(path).value();
        REQUIRE(queue->add_tower(a, 0));
        REQUIRE(queue->add_tower(b, 0));
        for (const auto* r : {&breached, &sibling, &other, &loose1, &loose2}) {
            REQUIRE(queue->enqueue(r->backup, 0).value());
            ack(*queue, a.id, r->backup.locator);
        }
        ack(*queue, b.id, breached.backup.locator);
        CHECK(queue->breach_check_candidates(a.id, Locator{}, 100).value().size() == 5);
        // Paged in locator order from a cursor.
        auto first = queue->breach_check_candidates(a.id, Locator{}, 2).value();
        REQUIRE(first.size() == 2);
        CHECK(first[0].locator < first[1].locator);
        auto rest = queue->breach_check_candidates(a.id, first[1].locator, 100).value();
        CHECK(rest.size() == 3);
        CHECK(rest[0].locator > first[1].locator);
        CHECK(rest[0].encrypted_blob.size() == breached.backup.encrypted_blob.size());

        auto record =
            check_dispute_report(breached.backup, responded(breached.commitment, breached.penalty),
                                 a.id, 99)
                .value();
        CHECK(queue->record_breach(record).value());
        auto again =
            check_dispute_report(breached.backup, responded(breached.commitment, breached.penalty),
                                 b.id, 100)
                .value();
        CHECK_FALSE(
            queue->record_breach(again).value());  // one per backup: the first report stands
        auto loose = check_dispute_report(loose1.backup,
                                          responded(loose1.commitment, loose1.penalty), a.id, 101)
                         .value();
        CHECK(queue->record_breach(loose).value());
    }
    auto queue = BackupQueue::open(path).value();
    auto breaches = queue->breaches().value();
    REQUIRE(breaches.size() == 2);
    CHECK(breaches[0].channel_id == "chan-a");
    CHECK(breaches[0].reported_by == a.id);
    CHECK(breaches[0].reported_ms == 99);
    CHECK(breaches[0].penalty_txid == breached.penalty.txid());
    CHECK(breaches[0].dispute_txid == breached.commitment.txid());
    CHECK(breaches[0].commitment_number == 5);
    // chan-a is closed: none of its backups is asked about again. The
    // channel-less backups share no channel: only the breached one is left out.
    auto candidates = queue->breach_check_candidates(a.id, Locator{}, 100).value();
    REQUIRE(candidates.size() == 2);
    for (const auto& c : candidates)
        CHECK((c.locator == other.backup.locator || c.locator == loose2.backup.locator));
    CHECK(queue->breach_check_candidates(b.id, Locator{}, 100).value().empty());
    // A tower forgets a resolved penalty: the audit does not ask for it.
    auto audited = queue->acked_locators(a.id).value();
    CHECK(audited.size() == 3);
    CHECK(std::find(audited.begin(), audited.end(), breached.backup.locator) == audited.end());

    auto channels = queue->channels().value();
    REQUIRE(channels.size() == 3);
    CHECK(channels[0].channel_id == "");
    CHECK(channels[0].backups == 2);
    CHECK(channels[1].channel_id == "chan-a");
    CHECK(channels[1].backups == 2);
    CHECK(channels[1].highest_commitment_number == 6);
    REQUIRE(channels[1].breach);
    CHECK(channels[1].breach->reported_by == a.id);
    REQUIRE(channels[1].towers.size() == 2);
    for (const auto& t : channels[1].towers) {
        if (t.tower == to_hex(a.id.bytes())) {
            CHECK(t.acked == 2);
            CHECK(t.last_acked_commitment_number == 6);
        } else {
            CHECK(t.tower == to_hex(b.id.bytes()));
            CHECK(t.acked == 1);
            CHECK(t.pending == 1);
            CHECK(t.last_acked_commitment_number == 5);
        }
    }
    CHECK(channels[2].channel_id == "chan-b");
    CHECK_FALSE(channels[2].breach);
    REQUIRE(channels[2].towers.size() == 2);
}

TEST_CASE(
    "client queue: a queue file from before schema versioning is migrated in place, one newer is "
    "refused") {
    TemporaryDirectory dir;
    std::string path = dir.path() + "/backups.sqlite";
    Revoked r = revoked(20, "chan", 3);
    TowerAddress a = tower_address(0x41);
    {
        // What builds before versioning wrote (user_version 0): migration 1's tables, with a
        // backup.
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        const char* old_schema = R"sql(
CREATE TABLE towers (
    tower_id BLOB PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL,
    standing TEXT NOT NULL DEFAULT 'active', misbehavior TEXT NOT NULL DEFAULT '',
    registered INTEGER NOT NULL DEFAULT 0, available_slots INTEGER NOT NULL DEFAULT 0,
    subscription_expiry INTEGER NOT NULL DEFAULT 0, last_seen_height INTEGER NOT NULL DEFAULT 0);
CREATE TABLE backups (
    locator BLOB PRIMARY KEY, commitment_txid BLOB NOT NULL, encrypted_blob BLOB NOT NULL,
    to_self_delay INTEGER NOT NULL, channel_id TEXT NOT NULL, commitment_number INTEGER NOT NULL);
CREATE TABLE deliveries (
    tower_id BLOB NOT NULL REFERENCES towers ON DELETE CASCADE,
    locator BLOB NOT NULL REFERENCES backups ON DELETE CASCADE,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL,
    last_error TEXT NOT NULL DEFAULT '', start_block INTEGER, user_signature TEXT, tower_signature TEXT,
    PRIMARY KEY (tower_id, locator));
CREATE INDEX deliveries_due ON deliveries (tower_id, status, next_attempt_ms);
)sql";
        REQUIRE(sqlite3_exec(db, old_schema, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_stmt* s = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO backups VALUES (?, ?, ?, 144, 'chan', 3)", -1,
                                   &s, nullptr) == SQLITE_OK);
        sqlite3_bind_blob(s, 1, r.backup.locator.data(), 16, SQLITE_TRANSIENT);
        sqlite3_bind_blob(s, 2, r.backup.commitment_txid.bytes.data(), 32, SQLITE_TRANSIENT);
        sqlite3_bind_blob(s, 3, r.backup.encrypted_blob.data(),
                          static_cast<int>(r.backup.encrypted_blob.size()), SQLITE_TRANSIENT);
        REQUIRE(sqlite3_step(s) == SQLITE_DONE);
        sqlite3_finalize(s);
        sqlite3_close(db);
    }
    {
        auto queue = BackupQueue::open(path);
        REQUIRE(queue);
        CHECK((*queue)->backups().value().size() == 1);
        REQUIRE((*queue)->add_tower(a, 0));  // replicates the old backup
        ack(**queue, a.id, r.backup.locator);
        auto candidates = (*queue)->breach_check_candidates(a.id, Locator{}, 10).value();
        REQUIRE(candidates.size() == 1);
        auto record =
            check_dispute_report(candidates[0], responded(r.commitment, r.penalty), a.id, 5)
                .value();
        CHECK((*queue)->record_breach(record).value());
    }
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK(sqlite3_column_int(s, 0) == backup_queue_schema_version);
    sqlite3_finalize(s);
    CHECK(BackupQueue::open(path).value()->breaches().value().size() ==
          1);  // reopening applies nothing twice
    REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    auto newer = BackupQueue::open(path);
    REQUIRE_FALSE(newer);
    CHECK(newer.error().message.find("newer than this build") != std::string::npos);
}

TEST_CASE(
    "client cli: channels as text name each channel, its towers and a reported breach with its "
    "penalty") {
    std::string tower(66, 'a');
    json channels =
        json::array({{{"channel_id", "chan-1"},
                      {"backups", 3},
                      {"highest_commitnum", 41},
                      {"status", "open"},
                      {"close_type", nullptr},
                      {"towers", json::array({{{"tower", tower},
                                               {"acknowledged", 3},
                                               {"pending", 0},
                                               {"failed", 0},
                                               {"last_acknowledged_commitnum", 41}}})}},
                     {{"channel_id", "chan-2"},
                      {"backups", 5},
                      {"highest_commitnum", 7},
                      {"status", "closed"},
                      {"close_type", "breach"},
                      {"breached_commitnum", 3},
                      {"dispute_txid", std::string(64, 'd')},
                      {"penalty_txid", std::string(64, 'e')},
                      {"penalty_confirmations", nullptr},
                      {"reported_by", tower},
                      {"towers", json::array({{{"tower", tower},
                                               {"acknowledged", 0},
                                               {"pending", 5},
                                               {"failed", 0},
                                               {"last_acknowledged_commitnum", nullptr}}})}},
                     {{"channel_id", ""},
                      {"backups", 1},
                      {"highest_commitnum", 0},
                      {"status", "open"},
                      {"towers", json::array()}}});
    std::string text = render_channel_status(channels);
    CHECK(text ==
          "channel chan-1: open, 3 backups, highest commitnum 41\n"
          "  tower " +
              tower +
              ": 3 acknowledged (latest commitnum 41), 0 pending, 0 failed\n"
              "channel chan-2: breach reported by " +
              tower +
              ", 5 backups, highest commitnum 7\n"
              "  revoked commitment 3 broadcast: " +
              std::string(64, 'd') +
              "\n"
              "  penalty: " +
              std::string(64, 'e') +
              " (confirmations unknown: no chain view (argus-client daemon --bitcoind-rpc-port))\n"
              "  tower " +
              tower +
              ": 0 acknowledged, 5 pending, 0 failed\n"
              "channel (no channel id): open, 1 backups, highest commitnum 0\n");
    CHECK(render_channel_status(json::array()) == "(no channels backed up)\n");
}
