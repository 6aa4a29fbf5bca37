// One conformance suite, run against both store backends.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <filesystem>
#include <functional>
#include <pqxx/pqxx>
#include <random>
#include <set>

#include "server/store/migrations.h"
#include "server/store/store.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/temporary_postgres.h"

using namespace argus;
using namespace argus::store;

namespace {

UserId user(std::uint8_t n) {
    UserId id{};
    id[0] = 0x02;
    id[32] = n;
    return id;
}

Locator locator(std::uint8_t a, std::uint8_t b = 0) {
    Locator l{};
    l[0] = a;
    l[15] = b;
    return l;
}

AppointmentRecord appointment(const UserId& u, const Locator& l, std::size_t blob_size, std::uint8_t fill) {
    AppointmentRecord a;
    a.user_id = u;
    a.locator = l;
    a.to_self_delay = 144;
    a.start_block = 100;
    a.blob = Bytes(blob_size, fill);
    return a;
}

void run_conformance(const std::function<std::unique_ptr<Store>()>& open, const std::function<void()>& add_future_version) {
    auto store = open();
    REQUIRE(store);
    int latest = store->backend_name() == "postgres" ? postgres_migrations().back().version
                                                      : sqlite_migrations().back().version;
    CHECK(store->schema_version().value() == latest);
    if (store->backend_name() == "postgres") {
        // PostgreSQL is backed up with its own tools (docs/operations.md).
        auto backup = store->backup("/tmp/argus-never-written.sqlite");
        REQUIRE_FALSE(backup);
        CHECK(backup.error().code == ErrorCode::unsupported);
        CHECK(backup.error().message.find("pg_basebackup") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists("/tmp/argus-never-written.sqlite"));
    }
    CHECK(store->counts()->appointments == 0);
    CHECK_FALSE(store->chain_position().value().has_value());

    // Users and appointments in one batch, user first.
    UserRecord first_user{user(1), 10000, 100, 4420};
    AppointmentRecord justice_kit = appointment(user(1), locator(2), 2048, 0xbb);
    justice_kit.trigger = TriggerKind::txid_hint;
    justice_kit.payload = PayloadKind::encrypted_justice_kit;
    WriteBatch batch;
    batch.put_user(first_user).put_user({user(2), 500, 90, 200});
    batch.put_appointment(appointment(user(1), locator(1), 300, 0xaa)).put_appointment(justice_kit);
    batch.put_appointment(appointment(user(2), locator(1), 5, 0xcc));
    auto written = store->write(batch);
    REQUIRE(written);
    CHECK(written->inserted.size() == 3);  // all new
    CHECK(written->removed.empty());

    auto users = store->load_users().value();
    CHECK(users.size() == 2);
    CHECK(store->get_user(user(1)).value().value() == first_user);
    CHECK_FALSE(store->get_user(user(9)).value().has_value());

    auto got = store->get_appointment({locator(2), user(1)}).value();
    REQUIRE(got.has_value());
    CHECK(*got == justice_kit);
    CHECK(store->get_blob_size({locator(1), user(1)}).value().value() == 300);
    CHECK_FALSE(store->get_blob_size({locator(3), user(1)}).value().has_value());
    CHECK_FALSE(store->get_appointment({locator(1), user(9)}).value().has_value());

    auto same_locator = store->find_by_locator(locator(1)).value();
    CHECK(same_locator.size() == 2);
    // A block's candidates in one lookup: every stored record of each locator,
    // once; a locator sharing only the first 8 bytes of a stored one is not it.
    {
        std::vector<Locator> wanted{locator(1), locator(2), locator(1, 7), locator(9)};
        auto several = store->find_by_locators(wanted).value();
        std::vector<std::pair<Locator, std::uint8_t>> found;
        for (const auto& a : several) found.emplace_back(a.locator, a.blob.at(0));
        std::sort(found.begin(), found.end());
        CHECK(found == std::vector<std::pair<Locator, std::uint8_t>>{
                           {locator(1), 0xaa}, {locator(1), 0xcc}, {locator(2), 0xbb}});
        for (const auto& a : several) {
            if (a.locator == locator(2)) CHECK(a == justice_kit);
        }
        CHECK(store->find_by_locators(std::vector<Locator>{}).value().empty());
        CHECK(store->find_by_locators(std::vector<Locator>{locator(1, 7)}).value().empty());
    }
    CHECK(store->user_locators(user(1)).value() == std::vector<Locator>{locator(1), locator(2)});
    std::size_t visited = 0;
    REQUIRE(store->for_each_locator_prefix([&](std::span<const Locator> b) { visited += b.size(); }));
    CHECK(visited == 3);
    CHECK(store->counts()->users == 2);
    CHECK(store->counts()->appointments == 3);

    // Updating an appointment replaces it; a user update changes its slots.
    WriteBatch update;
    update.put_user({user(1), 9990, 100, 4420}).put_appointment(appointment(user(1), locator(1), 4000, 0xdd));
    auto updated = store->write(update);
    REQUIRE(updated);
    CHECK(updated->inserted.empty());  // it existed: the index must not count it twice
    CHECK(updated->removed.empty());
    CHECK(store->get_blob_size({locator(1), user(1)}).value().value() == 4000);
    CHECK(store->get_user(user(1)).value()->available_slots == 9990);
    CHECK(store->counts()->appointments == 3);

    // A batch naming an unknown user fails as a whole: nothing of it is written.
    WriteBatch bad;
    bad.put_user({user(3), 1, 1, 1});
    bad.put_appointment(appointment(user(3), locator(7), 10, 1)).put_appointment(appointment(user(4), locator(8), 10, 1));
    auto failed = store->write(bad);
    CHECK_FALSE(failed);
    CHECK_FALSE(store->get_user(user(3)).value().has_value());
    CHECK(store->counts()->appointments == 3);

    // Removing single appointments.
    WriteBatch removal;
    removal.remove_appointment({locator(1), user(2)}).remove_appointment({locator(9), user(2)});  // 2nd absent
    auto removed = store->write(removal);
    REQUIRE(removed);
    CHECK(removed->removed == std::vector<Locator>{locator(1)});  // only what existed
    CHECK(store->find_by_locator(locator(1)).value().size() == 1);

    // Operations apply in the order given, whatever their kinds (a chain-side
    // removal, then an API update of the same appointment, in one batch).
    {
        WriteBatch ordered;
        ordered.remove_appointment({locator(1), user(1)});
        ordered.put_appointment(appointment(user(1), locator(1), 500, 0xee));
        auto effects = store->write(ordered);
        REQUIRE(effects);
        CHECK(store->get_blob_size({locator(1), user(1)}).value().value() == 500);  // the update survived
        CHECK(effects->inserted.empty());  // present before and after: no net change
        CHECK(effects->removed.empty());

        WriteBatch put_then_remove;
        put_then_remove.put_appointment(appointment(user(1), locator(40), 10, 1));
        put_then_remove.remove_appointment({locator(40), user(1)});
        put_then_remove.put_appointment(appointment(user(1), locator(41), 10, 1));
        put_then_remove.remove_appointment({locator(41), user(1)});
        put_then_remove.put_appointment(appointment(user(1), locator(41), 11, 1));
        effects = store->write(put_then_remove);
        REQUIRE(effects);
        CHECK_FALSE(store->get_appointment({locator(40), user(1)}).value().has_value());
        CHECK(store->get_blob_size({locator(41), user(1)}).value().value() == 11);
        CHECK(effects->inserted == std::vector<Locator>{locator(41)});
        CHECK(effects->removed.empty());

        WriteBatch cleanup;
        cleanup.remove_appointment({locator(41), user(1)});
        REQUIRE(store->write(cleanup));
    }

    // Removing a user deletes its appointments and reports each of them.
    WriteBatch many;
    many.put_user({user(5), 100, 1, 2});
    for (std::uint8_t i = 0; i < 10; ++i) many.put_appointment(appointment(user(5), locator(50, i), 16, i));
    REQUIRE(store->write(many));
    WriteBatch remove_user;
    remove_user.put_appointment(appointment(user(5), locator(51), 16, 1));  // added then removed with the user
    remove_user.remove_user(user(5));
    auto user_removed = store->write(remove_user);
    REQUIRE(user_removed);
    CHECK(user_removed->removed.size() == 10);
    CHECK(user_removed->inserted.empty());
    CHECK_FALSE(store->get_user(user(5)).value().has_value());
    CHECK(store->user_locators(user(5)).value().empty());
    WriteBatch again;
    again.remove_user(user(5));
    CHECK(store->write(again).value().removed.empty());

    // Removals apart from write() (PostgreSQL's second connection): the same
    // effects and counts; anything but user removals is refused, unwritten.
    // SQLite has one writer and says so.
    {
        WriteBatch two;
        two.put_user({user(8), 100, 1, 2});
        for (std::uint8_t i = 0; i < 3; ++i) two.put_appointment(appointment(user(8), locator(80, i), 16, i));
        REQUIRE(store->write(two));
        std::uint64_t before = store->counts().value().appointments;
        WriteBatch removing;
        removing.remove_user(user(8)).remove_user(user(9));  // user 9 was never stored: nothing to remove
        if (!store->writes_apart()) {
            CHECK(store->write_apart(removing).error().code == ErrorCode::unsupported);
            REQUIRE(store->write(removing));
        } else {
            WriteBatch mixed;
            mixed.put_user({user(9), 1, 1, 2}).remove_user(user(8));
            CHECK(store->write_apart(mixed).error().code == ErrorCode::invalid_argument);
            CHECK_FALSE(store->get_user(user(9)).value().has_value());
            CHECK(store->get_user(user(8)).value().has_value());
            auto apart = store->write_apart(removing);
            REQUIRE(apart);
            CHECK(apart->removed.size() == 3);
            CHECK(apart->inserted.empty());
        }
        CHECK_FALSE(store->get_user(user(8)).value().has_value());
        CHECK(store->user_locators(user(8)).value().empty());
        CHECK(store->counts().value().appointments == before - 3);
    }

    // wtwire sessions: an account user, its session row and its updates; the
    // session follows the account's removing.
    {
        ByteArray<33> session_key = user(7);
        session_key[0] = 0x03;
        UserId account = session_account(session_key);
        CHECK(account[0] == 0x13);
        CHECK(is_session_account(account));
        CHECK_FALSE(is_session_account(user(7)));
        CHECK(session_key_of(account) == session_key);
        SessionRecord session{account, 0x0003, 1024, 4000, 10000, 0x7fffffffffffffffULL, 0, 0, Bytes(22, 0x51)};
        WriteBatch orphan;
        orphan.put_session(session);  // no account user: refused
        CHECK_FALSE(store->write(orphan));
        WriteBatch create;
        create.put_user({account, 1024, 100, never_expires}).put_session(session);
        REQUIRE(store->write(create));
        CHECK(store->load_sessions().value() == std::vector<SessionRecord>{session});
        session.last_applied = 1;
        session.client_last_applied = 0;
        AppointmentRecord kit = appointment(account, locator(60), 314, 7);
        kit.trigger = TriggerKind::txid_hint;
        kit.payload = PayloadKind::encrypted_justice_kit;
        WriteBatch state_update;
        state_update.put_user({account, 1023, 100, never_expires}).put_session(session).put_appointment(kit);
        session.last_applied = 2;  // the last put of a batch wins
        state_update.put_session(session);
        REQUIRE(store->write(state_update));
        CHECK(store->load_sessions().value() == std::vector<SessionRecord>{session});
        CHECK(store->get_appointment({locator(60), account}).value().value() == kit);
        // An altruist session has an empty reward script (not NULL).
        UserId altruist_account = session_account(user(8));
        SessionRecord altruist{altruist_account, 0x0002, 10, 0, 0, 2500, 0, 0, {}};
        WriteBatch altruist_batch;
        altruist_batch.put_user({altruist_account, 10, 100, never_expires}).put_session(altruist);
        REQUIRE(store->write(altruist_batch));
        CHECK(store->load_sessions().value().size() == 2);
        WriteBatch delete_session;
        delete_session.remove_user(account).remove_user(altruist_account);
        auto deleted = store->write(delete_session);
        REQUIRE(deleted);
        CHECK(deleted->removed == std::vector<Locator>{locator(60)});
        CHECK(store->load_sessions().value().empty());
    }

    // Chain position.
    ChainPosition position{812345, {}};
    position.block_hash[0] = 0xab;
    REQUIRE(store->set_chain_position(position));
    CHECK(store->chain_position().value().value() == position);
    position.height += 1;
    REQUIRE(store->set_chain_position(position));
    CHECK(store->chain_position().value()->height == 812346);

    // Trackers and the chain position move with a block's effects, atomically.
    TrackerRecord tracker;
    tracker.locator = locator(2);
    tracker.user_id = user(1);
    tracker.dispute_txid.bytes[0] = 1;
    tracker.dispute_tx = Bytes(200, 3);
    tracker.penalty_txid.bytes[0] = 2;
    tracker.penalty_tx = Bytes(150, 4);
    tracker.broadcast_height = 900;
    tracker.blob_size = 2048;
    WriteBatch block;
    block.remove_appointment({locator(2), user(1)}).put_tracker(tracker).set_chain_position({900, {}});
    REQUIRE(store->write(block));
    CHECK(store->load_trackers().value() == std::vector<TrackerRecord>{tracker});
    CHECK_FALSE(store->get_appointment({locator(2), user(1)}).value().has_value());
    CHECK(store->chain_position().value()->height == 900);
    tracker.waiting_for_fee_until = 1044;  // refused for its fee: retried until then
    WriteBatch waiting;
    waiting.put_tracker(tracker);
    REQUIRE(store->write(waiting));
    CHECK(store->load_trackers().value() == std::vector<TrackerRecord>{tracker});
    tracker.waiting_for_fee_until.reset();
    tracker.kit_state = Bytes(3000, 7);  // a penalty kit's response, kept with its tracker
    WriteBatch kit;
    kit.put_tracker(tracker);
    REQUIRE(store->write(kit));
    CHECK(store->load_trackers().value() == std::vector<TrackerRecord>{tracker});
    tracker.kit_state.clear();
    tracker.confirmed_height = 901;
    WriteBatch confirm;
    confirm.put_tracker(tracker).set_chain_position({901, {}});
    REQUIRE(store->write(confirm));
    CHECK(store->load_trackers().value()[0].confirmed_height == 901);
    CHECK(store->load_trackers().value()[0].kit_state.empty());
    WriteBatch resolve;
    resolve.remove_tracker({locator(2), user(1)});
    REQUIRE(store->write(resolve));
    CHECK(store->load_trackers().value().empty());
    // A tracker of a user removed meanwhile is skipped, not an error: the
    // responder's round must not fail because the user went away.
    {
        TrackerRecord orphan = tracker;
        orphan.user_id = user(9);
        WriteBatch late;
        late.put_tracker(orphan).set_chain_position({902, {}});
        REQUIRE(store->write(late));
        CHECK(store->load_trackers().value().empty());
        CHECK(store->chain_position().value()->height == 902);
    }
    REQUIRE(store->write(block));  // put it back for the reopen check
    position.height = 900;

    // Electrum accounts, channels and channel closes.
    {
        UserId account{};
        account[0] = electrum_account_tag;
        account[1] = 0x77;
        Txid funding;
        funding.bytes[0] = 0xf1;
        ElectrumChannelRecord channel{account, funding, 3, "bcrt1q with 'quotes'", -1};
        WriteBatch e;
        e.put_user({account, 100, 1, 5000})
            .put_electrum_account({"carol", account, "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA"})
            .put_electrum_channel(channel);
        channel.max_ctn = 4;
        e.put_electrum_channel(channel);  // the last state of the row wins
        REQUIRE(store->write(e));
        auto accounts = store->load_electrum_accounts().value();
        REQUIRE(accounts.size() == 1);
        CHECK(accounts[0].username == "carol");
        CHECK(accounts[0].account == account);
        CHECK(accounts[0].password_hash.rfind("$argon2id$", 0) == 0);
        auto channels = store->load_electrum_channels().value();
        REQUIRE(channels.size() == 1);
        CHECK(channels[0] == channel);
        // A channel of a user that does not exist is refused, and nothing of its batch stays.
        UserId ghost = account;
        ghost[1] = 0x78;
        WriteBatch orphan;
        orphan.put_user({user(1), 10, 1, 10}).put_electrum_channel({ghost, funding, 0, "x", -1});
        CHECK_FALSE(store->write(orphan));
        CHECK(store->load_electrum_channels().value().size() == 1);

        ChannelCloseRecord close{funding, 3, Txid{}, 905, CloseType::breach, Txid{}};
        close.closing_txid.bytes[0] = 0xc1;
        close.penalty_txid->bytes[0] = 0xd1;
        ChannelCloseRecord plain{Txid{}, 0, Txid{}, 906, CloseType::cooperative, std::nullopt};
        plain.funding_txid.bytes[0] = 0xf2;
        REQUIRE(store->write(WriteBatch{}.put_channel_close(close).put_channel_close(plain)));
        auto closes = store->load_channel_closes().value();
        REQUIRE(closes.size() == 2);
        CHECK(std::count(closes.begin(), closes.end(), close) == 1);
        CHECK(std::count(closes.begin(), closes.end(), plain) == 1);
        // A reorg removes a close; a remove and a put of one outpoint in one batch: the put wins.
        REQUIRE(store->write(WriteBatch{}.remove_channel_close(plain.funding_txid, plain.funding_vout)
                                 .remove_channel_close(close.funding_txid, close.funding_vout)
                                 .put_channel_close(close)));
        closes = store->load_channel_closes().value();
        REQUIRE(closes.size() == 1);
        CHECK(closes[0] == close);
        REQUIRE(store->write(WriteBatch{}.remove_channel_close(close.funding_txid, close.funding_vout)));
        CHECK(store->load_channel_closes().value().empty());

        // Removing the user removes its account and channels.
        REQUIRE(store->write(WriteBatch{}.remove_user(account)));
        CHECK(store->load_electrum_accounts().value().empty());
        CHECK(store->load_electrum_channels().value().empty());
    }

    {
        // Bulk load: every byte value survives (COPY's escapes: backslash,
        // newline, tab, NUL), one transaction, and a bad row loads nothing.
        UserRecord bulk_user{user(77), 1000, 1, 5000};
        REQUIRE(store->write(WriteBatch{}.put_user(bulk_user)));
        std::vector<AppointmentRecord> rows;
        for (std::uint8_t i = 0; i < 3; ++i) {
            AppointmentRecord a = appointment(bulk_user.user_id, locator(200, i), 0, 0);
            a.blob = {0x00, 0x5c, 0x0a, 0x09, 0x0d, 0xff, i};
            a.locator[5] = 0x5c;
            a.to_self_delay = 4000000000u;
            a.start_block = 123 + i;
            a.trigger = TriggerKind::txid_hint;
            a.payload = PayloadKind::encrypted_justice_kit;
            rows.push_back(a);
        }
        auto before = store->counts()->appointments;
        REQUIRE(store->bulk_load_appointments(rows));
        CHECK(store->counts()->appointments == before + 3);
        for (const auto& a : rows) CHECK(store->get_appointment({a.locator, a.user_id}).value() == a);
        std::vector<AppointmentRecord> unknown_user = {appointment(bulk_user.user_id, locator(201), 10, 1),
                                              appointment(user(78), locator(202), 10, 1)};  // unknown user
        CHECK_FALSE(store->bulk_load_appointments(unknown_user));
        std::vector<AppointmentRecord> duplicate = {appointment(bulk_user.user_id, locator(203), 10, 1),
                                                    appointment(bulk_user.user_id, locator(203), 12, 2)};
        CHECK_FALSE(store->bulk_load_appointments(duplicate));
        CHECK(store->counts()->appointments == before + 3);
        CHECK_FALSE(store->get_appointment({locator(201), bulk_user.user_id}).value().has_value());
        CHECK_FALSE(store->get_appointment({locator(203), bulk_user.user_id}).value().has_value());
        REQUIRE(store->write(WriteBatch{}.remove_user(bulk_user.user_id)));
        CHECK(store->counts()->appointments == before);
    }

    {
        // The prefix stream carries every locator's first 8 bytes, over many
        // batches. 40,000 locators (several of the store's batches), their first bytes
        // drawn at random so that half have the high bit set (negative as
        // PostgreSQL's signed bigints), a few equal (one locator, two rows).
        UserRecord owner{user(79), 100000, 1, 5000};
        REQUIRE(store->write(WriteBatch{}.put_user(owner)));
        std::mt19937_64 rng(12);
        std::vector<AppointmentRecord> rows;
        std::multiset<std::uint64_t> expected;
        std::uint64_t prefix = 0;
        for (std::uint32_t i = 0; i < 40'000; ++i) {
            AppointmentRecord a = appointment(owner.user_id, Locator{}, 4, 1);
            if (i % 1000 != 999) prefix = rng();  // else the last one again
            for (int k = 0; k < 8; ++k) a.locator[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(prefix >> (56 - 8 * k));
            a.locator[8] = static_cast<std::uint8_t>(i);
            a.locator[9] = static_cast<std::uint8_t>(i >> 8);
            a.locator[10] = static_cast<std::uint8_t>(i >> 16);
            a.start_block = 100 + i % 300;  // three partitions on PostgreSQL
            expected.insert(prefix);
            rows.push_back(a);
        }
        REQUIRE(store->bulk_load_appointments(rows));
        std::multiset<std::uint64_t> streamed;
        std::size_t batches = 0;
        REQUIRE(store->for_each_locator_prefix([&](std::span<const Locator> streamed_batch) {
            ++batches;
            for (const Locator& l : streamed_batch) {
                std::uint64_t streamed_prefix = 0;
                for (int k = 0; k < 8; ++k) streamed_prefix = streamed_prefix << 8 | l[static_cast<std::size_t>(k)];
                streamed.insert(streamed_prefix);
            }
        }));
        CHECK(batches > 1);
        CHECK(streamed.size() == store->counts()->appointments);
        // Every loaded prefix, as often as it was loaded (the store's other rows come on top).
        std::size_t missing = 0;
        for (auto it = expected.begin(); it != expected.end(); it = expected.upper_bound(*it)) {
            missing += streamed.count(*it) >= expected.count(*it) ? 0 : 1;
        }
        CHECK(missing == 0);
        REQUIRE(store->write(WriteBatch{}.remove_user(owner.user_id)));
    }

    // Reopening keeps everything and re-applies no migration.
    store.reset();
    auto reopened = open();
    REQUIRE(reopened);
    CHECK(reopened->counts()->appointments == 1);
    CHECK(reopened->schema_version().value() == latest);
    CHECK(reopened->chain_position().value()->height == 900);
    CHECK(reopened->load_trackers().value().size() == 1);
    reopened.reset();

    // A schema newer than this build is refused with a clear message.
    add_future_version();
    auto refused = open();
    CHECK_FALSE(refused);
}

}  // namespace

TEST_CASE("store conformance: sqlite") {
    test::TemporaryDirectory dir;
    std::string path = dir.path() + "/tower.sqlite";
    std::string error;
    run_conformance(
        [&]() -> std::unique_ptr<Store> {
            auto s = open_sqlite_store(path);
            if (!s) {
                error = s.error().message;
                return nullptr;
            }
            return std::move(*s);
        },
        [&] {
            sqlite3* db = nullptr;
            sqlite3_open(path.c_str(), &db);
            sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (999, 'future')", nullptr, nullptr, nullptr);
            sqlite3_close(db);
        });
    CHECK(error.find("newer than this build") != std::string::npos);
}

TEST_CASE("store: SQLite checkpoints its WAL on a thread of its own: the database file fills while the writer only commits") {
    // The writer's commits never copy the WAL into the database file (its
    // WAL hook replaces SQLite's automatic checkpoint below 64 MiB of WAL):
    // only the store's checkpoint thread does. So with nothing but commits,
    // the data must still reach the database file, the WAL must stay far
    // below that bound, and every row must read back after a reopen.
    test::TemporaryDirectory dir;
    std::string path = dir.path() + "/tower.sqlite";
    const std::size_t rows = 3000, blob = 3000;  // ~9 MB: over 2,000 WAL frames
    {
        auto store = open_sqlite_store(path).value();
        REQUIRE(store->write(WriteBatch{}.put_user({user(1), 1'000'000, 1, 1'000'000})));
        std::size_t failed = 0;
        for (std::size_t b = 0; b < rows / 30; ++b) {
            WriteBatch batch;
            for (std::size_t i = 0; i < 30; ++i) {
                Locator l{};
                std::size_t n = b * 30 + i;
                l[0] = static_cast<std::uint8_t>(n >> 8);
                l[1] = static_cast<std::uint8_t>(n);
                l[5] = 0x5a;
                batch.put_appointment(appointment(user(1), l, blob, static_cast<std::uint8_t>(n)));
            }
            if (!store->write(batch)) ++failed;
        }
        CHECK(failed == 0);
        auto database_bytes = [&] { return std::filesystem::file_size(path); };
        for (int i = 0; i < 400 && database_bytes() < rows * blob; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        CHECK(database_bytes() >= rows * blob);
        CHECK(std::filesystem::file_size(path + "-wal") < 16000u * 4096u);
    }
    auto reopened = open_sqlite_store(path).value();
    CHECK(reopened->counts()->appointments == rows);
    Locator last{};
    last[0] = static_cast<std::uint8_t>((rows - 1) >> 8);
    last[1] = static_cast<std::uint8_t>(rows - 1);
    last[5] = 0x5a;
    CHECK(reopened->get_appointment({last, user(1)}).value().value() ==
          appointment(user(1), last, blob, static_cast<std::uint8_t>(rows - 1)));
}

TEST_CASE("store: an SQLite backup taken while a writer commits is one consistent snapshot") {
    test::TemporaryDirectory dir;
    auto store = open_sqlite_store(dir.path() + "/tower.sqlite").value();
    // Every batch adds 10 appointments and moves the chain position one
    // block: in any consistent snapshot, appointments == 10 * height.
    REQUIRE(store->write(WriteBatch{}.put_user({user(1), 1'000'000, 1, 1'000'000}).set_chain_position({0, Hash256{}})));
    std::atomic<bool> writing{true};
    std::atomic<std::uint32_t> height{0};
    std::thread writer([&] {
        while (writing) {
            std::uint32_t h = height + 1;
            WriteBatch batch;
            for (std::uint8_t i = 0; i < 10; ++i) {
                Locator l{};
                l[0] = static_cast<std::uint8_t>(h >> 8);
                l[1] = static_cast<std::uint8_t>(h);
                l[2] = i;
                l[3] = static_cast<std::uint8_t>(h >> 16);
                batch.put_appointment(appointment(user(1), l, 300, i));
            }
            Hash256 hash{};
            hash[0] = static_cast<std::uint8_t>(h);
            batch.set_chain_position({h, hash});
            if (!store->write(batch)) break;
            height = h;
        }
    });
    while (height < 200) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::vector<BackupInfo> backups;
    for (int i = 0; i < 3; ++i) {
        auto b = store->backup(dir.path() + "/backup-" + std::to_string(i) + ".sqlite");
        REQUIRE(b);
        backups.push_back(*b);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    writing = false;
    writer.join();
    std::uint32_t last = 0;
    for (const auto& b : backups) {
        CAPTURE(b.path);
        REQUIRE(b.chain_position);
        CHECK(b.counts.appointments == 10ull * b.chain_position->height);
        CHECK(b.chain_position->height >= last);  // later backups, later snapshots
        last = b.chain_position->height;
        CHECK(b.counts.users == 1);
        CHECK(b.bytes == std::filesystem::file_size(b.path));
        CHECK(b.schema_version == sqlite_migrations().back().version);
        // Self-contained: no WAL beside it, nothing half-written left.
        CHECK_FALSE(std::filesystem::exists(b.path + "-wal"));
        CHECK_FALSE(std::filesystem::exists(b.path + ".partial"));
        // The copy opens as a store and says the same.
        auto restored = open_sqlite_store(b.path);
        REQUIRE(restored);
        CHECK((*restored)->counts()->appointments == b.counts.appointments);
        CHECK((*restored)->chain_position().value()->height == b.chain_position->height);
    }
    CHECK(last < height);  // the writer went on after the last backup
}

TEST_CASE("store: an SQLite backup refuses a relative path, an existing file and a missing directory") {
    test::TemporaryDirectory dir;
    auto store = open_sqlite_store(dir.path() + "/tower.sqlite").value();
    REQUIRE(store->write(WriteBatch{}.put_user({user(1), 10, 1, 100})));
    auto relative = store->backup("backup.sqlite");
    REQUIRE_FALSE(relative);
    CHECK(relative.error().code == ErrorCode::invalid_argument);
    CHECK(relative.error().message.find("absolute") != std::string::npos);

    std::string taken = dir.path() + "/taken.sqlite";
    { std::FILE* f = std::fopen(taken.c_str(), "w"); std::fputs("precious", f); std::fclose(f); }
    auto existing = store->backup(taken);
    REQUIRE_FALSE(existing);
    CHECK(existing.error().message.find("never overwrites") != std::string::npos);
    CHECK(std::filesystem::file_size(taken) == 8);  // untouched
    auto live = store->backup(dir.path() + "/tower.sqlite");
    REQUIRE_FALSE(live);  // the live database is an existing file too

    auto nowhere = store->backup(dir.path() + "/no/such/dir/b.sqlite");
    REQUIRE_FALSE(nowhere);
    CHECK(nowhere.error().message.find("does not exist") != std::string::npos);
    CHECK(store->counts()->users == 1);
}

TEST_CASE("store conformance: postgres") {
    auto pg = test::TemporaryPostgres::start();
    std::string error;
    run_conformance(
        [&]() -> std::unique_ptr<Store> {
            auto s = open_postgres_store(pg->connection_string());
            if (!s) {
                error = s.error().message;
                return nullptr;
            }
            return std::move(*s);
        },
        [&] {
            pqxx::connection c(pg->connection_string());
            pqxx::work tx(c);
            tx.exec0("INSERT INTO schema_migrations VALUES (999, 'future')");
            tx.commit();
        });
    CHECK(error.find("newer than this build") != std::string::npos);
}

TEST_CASE("store: postgres restart is reported as unavailable, then recovers") {
    auto pg = test::TemporaryPostgres::start();
    auto store = open_postgres_store(pg->connection_string()).value();
    WriteBatch batch;
    batch.put_user({user(1), 1, 1, 1});
    REQUIRE(store->write(batch));
    pg->restart();
    // The old connection is dead: the first use reports it, the next reconnects.
    auto first = store->write(batch);
    if (!first) CHECK(first.error().code == ErrorCode::unavailable);
    CHECK(store->write(batch));
    CHECK(store->get_user(user(1)).value().has_value());
    // The locator scan (a libpq connection of its own) says so too.
    pg->stop();
    std::size_t visited = 0;
    auto scan = store->for_each_locator_prefix([&](std::span<const Locator> b) { visited += b.size(); });
    REQUIRE_FALSE(scan);
    CHECK(scan.error().code == ErrorCode::unavailable);
    CHECK(scan.error().message.find("locator scan") != std::string::npos);
    pg->restart();
    WriteBatch one;
    one.put_appointment(appointment(user(1), locator(9), 8, 1), true);
    if (auto first_after = store->write(one); !first_after) CHECK(first_after.error().code == ErrorCode::unavailable);
    REQUIRE(store->write(one));
    CHECK(store->for_each_locator_prefix([&](std::span<const Locator> b) { visited += b.size(); }));
    CHECK(visited == 1);
}

// Upgrades from the released schema-1 databases: store_schema1_upgrade_test.cpp.

// A tower killed right after sending COMMIT leaves its transaction running in
// PostgreSQL. A restarted tower must not read users before it ends, or it
// writes over it (the kill -9 test once found a stored appointment whose slot
// charge a restarted tower's registration had overwritten).
TEST_CASE("store: opening PostgreSQL waits for a write transaction still under way") {
    auto pg = test::TemporaryPostgres::start();
    auto first = open_postgres_store(pg->connection_string()).value();
    WriteBatch batch;
    batch.put_user({user(1), 10, 1, 100});
    REQUIRE(first->write(batch));

    // The killed tower's last transaction, as its write() runs it.
    pqxx::connection zombie_connection(pg->connection_string());
    pqxx::work zombie(zombie_connection);
    zombie.exec("SELECT pg_advisory_xact_lock_shared(" + std::to_string(postgres_write_barrier_key) + ")");
    zombie.exec("UPDATE users SET available_slots = 9");

    std::atomic<bool> opened{false};
    std::unique_ptr<Store> second;
    std::thread restart([&] {
        second = open_postgres_store(pg->connection_string()).value();
        opened = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK_FALSE(opened.load());  // still waiting for the zombie
    zombie.commit();
    restart.join();
    REQUIRE(second);
    CHECK(second->get_user(user(1)).value()->available_slots == 9);  // reads what the zombie committed
}

TEST_CASE("store: postgres keeps appointments in partitions of 144 blocks by start height, and a write that is not known new replaces the row in any partition") {
    auto pg = test::TemporaryPostgres::start();
    auto store = open_postgres_store(pg->connection_string()).value();
    UserRecord u{user(5), 1000, 1, 100000};
    REQUIRE(store->write(WriteBatch{}.put_user(u)));
    AppointmentRecord first = appointment(u.user_id, locator(9, 9), 40, 1);
    first.start_block = 10;
    AppointmentRecord second = appointment(u.user_id, locator(10), 40, 2);
    second.start_block = 150;
    auto effects = store->write(WriteBatch{}.put_appointment(first, true).put_appointment(second, true)).value();
    CHECK(effects.inserted.size() == 2);
    auto partitions = [&] {
        pqxx::connection c(pg->connection_string());
        pqxx::work tx(c);
        std::vector<std::string> names;
        for (const auto& row : tx.exec("SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c "
                                       "ON c.oid = i.inhrelid WHERE i.inhparent = 'appointments'::regclass ORDER BY 1")) {
            names.push_back(row[0].as<std::string>() + " " + row[1].as<std::string>());
        }
        return names;
    };
    CHECK(partitions() == std::vector<std::string>{"appointments_h0 FOR VALUES FROM (0) TO (144)",
                                                   "appointments_h144 FOR VALUES FROM (144) TO (288)"});
    // An update of `first` written at a later height (not known new): the row
    // in partition h0 goes, the new one is in h288; one row, reported as an update.
    AppointmentRecord update = first;
    update.start_block = 300;
    update.blob = Bytes(55, 7);
    auto updated = store->write(WriteBatch{}.put_appointment(update)).value();
    CHECK(updated.inserted.empty());
    CHECK(updated.removed.empty());
    CHECK(store->find_by_locator(first.locator).value() == std::vector<AppointmentRecord>{update});
    CHECK(store->counts()->appointments == 2);
    CHECK(partitions().size() == 3);
    // The same locator for another user is another appointment.
    UserRecord other{user(6), 1000, 1, 100000};
    AppointmentRecord theirs = appointment(other.user_id, first.locator, 40, 3);
    REQUIRE(store->write(WriteBatch{}.put_user(other).put_appointment(theirs, true)));
    CHECK(store->find_by_locator(first.locator).value().size() == 2);
    // One lookup of several locators reads every partition.
    CHECK(store->find_by_locators(std::vector<Locator>{first.locator, second.locator}).value().size() == 3);
    // Removal and a user's removal find rows in every partition.
    CHECK(store->write(WriteBatch{}.remove_appointment({second.locator, u.user_id})).value().removed.size() == 1);
    CHECK(store->write(WriteBatch{}.remove_user(u.user_id)).value().removed.size() == 1);
    CHECK(store->counts()->appointments == 1);
    CHECK(store->user_locators(other.user_id).value() == std::vector<Locator>{first.locator});
    // The prefix stream: the first 8 bytes of each locator.
    std::vector<Locator> prefixes;
    REQUIRE(store->for_each_locator_prefix([&](std::span<const Locator> b) { prefixes.insert(prefixes.end(), b.begin(), b.end()); }));
    REQUIRE(prefixes.size() == 1);
    CHECK(std::equal(prefixes[0].begin(), prefixes[0].begin() + 8, first.locator.begin()));
}

TEST_CASE("store: with pg_prewarm installed, the locator load reads each partition's loc_hi index ahead and streams the same locators") {
    test::PostgresOptions options;
    options.settings = {{"track_functions", "all"}};  // counts calls of C functions: pg_prewarm's
    auto pg = test::TemporaryPostgres::start(options);
    auto store = open_postgres_store(pg->connection_string()).value();
    UserRecord u{user(5), 100000, 1, 100000};
    WriteBatch batch;
    batch.put_user(u);
    // Seven partitions (more than the four read ahead of the scans).
    for (std::uint8_t i = 0; i < 70; ++i) {
        AppointmentRecord a = appointment(u.user_id, locator(i, static_cast<std::uint8_t>(i * 7)), 40, i);
        a.start_block = 10 + 144u * (i % 7);
        batch.put_appointment(a, true);
    }
    REQUIRE(store->write(batch));
    auto load = [&] {
        std::vector<Locator> prefixes;
        REQUIRE(store->for_each_locator_prefix([&](std::span<const Locator> b) { prefixes.insert(prefixes.end(), b.begin(), b.end()); }));
        std::sort(prefixes.begin(), prefixes.end());
        return prefixes;
    };
    std::vector<Locator> without = load();
    CHECK(without.size() == 70);
    pqxx::connection admin(pg->connection_string());
    pqxx::nontransaction(admin).exec0("CREATE EXTENSION pg_prewarm");
    CHECK(load() == without);
    // The reading connection has closed, so its backend has reported its
    // function calls; the statistics show them shortly after.
    std::int64_t calls = -1;
    for (int attempt = 0; attempt < 100 && calls != 7; ++attempt) {
        pqxx::connection c(pg->connection_string());
        auto r = pqxx::nontransaction(c).exec("SELECT calls FROM pg_stat_user_functions WHERE funcname = 'pg_prewarm'");
        calls = r.empty() ? 0 : r[0][0].as<std::int64_t>();
        if (calls != 7) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(calls == 7);
}

TEST_CASE("store: a locator load whose pg_prewarm call is refused streams every locator all the same") {
    // A tower whose role may not run pg_prewarm (the extension installed by
    // a superuser, EXECUTE revoked): each pre-read fails under its savepoint.
    auto pg = test::TemporaryPostgres::start();
    {
        pqxx::connection admin(pg->connection_string());
        pqxx::nontransaction tx(admin);
        tx.exec0("CREATE ROLE tower LOGIN");
        tx.exec0("CREATE DATABASE towerdb OWNER tower");
    }
    {
        pqxx::connection admin(pg->connection_string("towerdb"));
        pqxx::nontransaction tx(admin);
        tx.exec0("CREATE EXTENSION pg_prewarm");
        tx.exec0("REVOKE EXECUTE ON FUNCTION pg_prewarm(regclass, text, text, bigint, bigint) FROM PUBLIC");
        tx.exec0("GRANT CREATE ON SCHEMA public TO tower");
    }
    auto store = open_postgres_store(pg->connection_string("towerdb") + " user=tower").value();
    UserRecord u{user(5), 100000, 1, 100000};
    WriteBatch batch;
    batch.put_user(u);
    for (std::uint8_t i = 0; i < 30; ++i) {
        AppointmentRecord a = appointment(u.user_id, locator(i, 3), 40, i);
        a.start_block = 10 + 144u * (i % 3);
        batch.put_appointment(a, true);
    }
    REQUIRE(store->write(batch));
    std::set<Locator> prefixes;
    auto loaded = store->for_each_locator_prefix([&](std::span<const Locator> b) { prefixes.insert(b.begin(), b.end()); });
    REQUIRE(loaded);
    CHECK(prefixes.size() == 30);
    // It was refused, not skipped: the role cannot run it.
    pqxx::connection as_tower(pg->connection_string("towerdb") + " user=tower");
    CHECK_THROWS_AS(pqxx::nontransaction(as_tower).exec("SELECT pg_prewarm('appointments_locator')"), pqxx::sql_error);
}
