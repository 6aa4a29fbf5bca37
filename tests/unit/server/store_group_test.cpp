// A group of towers on one PostgreSQL database (issue #13): versioned user
// writes, the watcher's fencing epoch, the feed, and the leader lease. Each
// test uses two store objects (two processes' worth of connections) on one
// throwaway server.
#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <chrono>
#include <thread>

#include "server/store/store.h"
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

AppointmentRecord appointment(const UserId& u, const Locator& l) {
    AppointmentRecord a;
    a.user_id = u;
    a.locator = l;
    a.start_block = 100;
    a.blob = Bytes(100, 0x5a);
    return a;
}

std::unique_ptr<Store> open(const test::TemporaryPostgres& pg, std::uint64_t origin) {
    PostgresStoreOptions o;
    o.read_connections = 1;
    o.feed_origin = origin;
    return open_postgres_store(pg.connection_string(), o).value();
}

}  // namespace

TEST_CASE("group store: a user written at a stale version is refused with conflict, and nothing of the batch is written") {
    auto pg = test::TemporaryPostgres::start();
    auto a = open(*pg, 1), b = open(*pg, 2);
    using V = std::pair<std::uint64_t, std::uint64_t>;  // {expected, new}
    auto version = [&] { return a->get_user_versioned(user(1)).value()->version; };
    WriteBatch create;
    create.put_user({user(1), 100, 1, 1000}, V{0, 101});  // 0: only if absent
    REQUIRE(a->write(create));
    CHECK(version() == 101);
    // The same creation again: the row exists now.
    WriteBatch again;
    again.put_user({user(1), 100, 1, 1000}, V{0, 201});
    auto refused_create = b->write(again);
    REQUIRE_FALSE(refused_create);
    CHECK(refused_create.error().code == ErrorCode::conflict);

    // Both read 101; b writes first, a's write at 101 then conflicts.
    WriteBatch from_b;
    from_b.put_user({user(1), 99, 1, 1000}, V{101, 202}).put_appointment(appointment(user(1), locator(1)), true);
    REQUIRE(b->write(from_b));
    WriteBatch from_a;
    from_a.put_user({user(1), 99, 1, 1000}, V{101, 102}).put_appointment(appointment(user(1), locator(2)), true);
    auto refused = a->write(from_a);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::conflict);
    CHECK_FALSE(a->get_appointment({locator(2), user(1)}).value().has_value());
    CHECK(version() == 202);
    CHECK(a->get_user(user(1)).value()->available_slots == 99);
    // A write chained on a's refused one expects a's new version, which no
    // other writer produces: refused too, whatever b wrote meanwhile.
    WriteBatch chained_on_refused;
    chained_on_refused.put_user({user(1), 98, 1, 1000}, V{102, 103});
    CHECK(a->write(chained_on_refused).error().code == ErrorCode::conflict);

    // Two writes of the user in one batch: the first's expected version is
    // checked, the last's new version is kept.
    WriteBatch chained;
    chained.put_user({user(1), 98, 1, 1000}, V{202, 104}).put_user({user(1), 97, 1, 1000}, V{104, 105});
    REQUIRE(a->write(chained));
    CHECK(version() == 105);
    CHECK(a->get_user(user(1)).value()->available_slots == 97);
    // A refund is a delta, whatever the version, and moves it to one no one expects.
    WriteBatch refund;
    refund.add_slots(user(1), 3);
    REQUIRE(b->write(refund));
    auto after_refund = version();
    CHECK(after_refund != 105);
    CHECK(after_refund != 0);
    CHECK(a->get_user(user(1)).value()->available_slots == 100);
    // Unversioned writes (a tower on its own) move it too.
    WriteBatch plain;
    plain.put_user({user(1), 50, 1, 1000});
    REQUIRE(a->write(plain));
    CHECK(version() != after_refund);
    CHECK(a->get_user(user(1)).value()->available_slots == 50);
    // Outdated users are read from the store: expiry 1000 + delta 6 <= 1006.
    CHECK(a->outdated_users(1005, 6).value().empty());
    CHECK(a->outdated_users(1006, 6).value() == std::vector<UserId>{user(1)});
}

TEST_CASE("group store: a write carrying an old watcher epoch is fenced and writes nothing") {
    auto pg = test::TemporaryPostgres::start();
    auto s = open(*pg, 1);
    auto first = open_postgres_leader_lease(pg->connection_string(), "first", std::chrono::milliseconds(2000)).value();
    auto second = open_postgres_leader_lease(pg->connection_string(), "second", std::chrono::milliseconds(2000)).value();
    auto e1 = first->try_acquire().value();
    REQUIRE(e1.has_value());
    CHECK_FALSE(second->try_acquire().value().has_value());  // held
    CHECK(s->leader_epoch().value()->first == *e1);
    CHECK(s->leader_epoch().value()->second == "first");

    WriteBatch ok;
    ok.fence_epoch = *e1;
    ok.put_user({user(1), 1, 1, 1}).set_chain_position({10, Hash256{}});
    REQUIRE(s->write(ok));

    first->release();  // its session ends (the server notices in a moment): the lock is free
    std::optional<std::uint64_t> e2;
    for (int i = 0; i < 50 && !e2; ++i) {
        e2 = second->try_acquire().value();
        if (!e2) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(e2.has_value());
    CHECK(*e2 == *e1 + 1);
    WriteBatch stale;
    stale.fence_epoch = *e1;
    stale.put_user({user(2), 1, 1, 1}).set_chain_position({11, Hash256{}});
    auto refused = s->write(stale);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::fenced);
    CHECK_FALSE(s->get_user(user(2)).value().has_value());
    CHECK(s->chain_position().value()->height == 10);
    CHECK(second->heartbeat());
}

TEST_CASE("group store: a paused lease holder loses the lock after the lease, and its heartbeat says so") {
    auto pg = test::TemporaryPostgres::start();
    auto s = open(*pg, 1);  // the schema
    auto first = open_postgres_leader_lease(pg->connection_string(), "first", std::chrono::milliseconds(1000)).value();
    auto second = open_postgres_leader_lease(pg->connection_string(), "second", std::chrono::milliseconds(1000)).value();
    REQUIRE(first->try_acquire().value().has_value());
    CHECK(first->heartbeat());
    // No heartbeat for longer than the lease: PostgreSQL ends the session.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    bool taken = false;
    for (int i = 0; i < 50 && !taken; ++i) {
        auto got = second->try_acquire();
        REQUIRE(got);
        taken = got->has_value();
        if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(taken);
    CHECK_FALSE(first->heartbeat());
    CHECK(open_postgres_leader_lease(pg->connection_string(), "x", std::chrono::milliseconds(10)).error().code ==
          ErrorCode::invalid_argument);
}

TEST_CASE("group store: every write's effects reach the feed in commit order, with its origin, and a notification") {
    auto pg = test::TemporaryPostgres::start();
    auto a = open(*pg, 11), b = open(*pg, 22);
    CHECK(a->feed_bounds().value().last == 0);
    WriteBatch w1;
    w1.put_user({user(1), 10, 1, 1000}).put_appointment(appointment(user(1), locator(1)), true);
    REQUIRE(a->write(w1));
    // b waits for a notification; a's commit sends one.
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        WriteBatch w2;
        w2.put_appointment(appointment(user(1), locator(2)), true).remove_appointment({locator(1), user(1)});
        REQUIRE(b->write(w2));
    });
    auto started = std::chrono::steady_clock::now();
    REQUIRE(a->wait_for_feed(std::chrono::milliseconds(5000)));
    writer.join();
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(4000));
    auto feed = a->read_feed(0, 100).value();
    // w1: locator 1 entered, stored; w2: locator 2 entered, locator 1 left, locator 2 stored.
    REQUIRE(feed.size() == 5);
    for (std::size_t i = 1; i < feed.size(); ++i) CHECK(feed[i].seq > feed[i - 1].seq);
    CHECK(feed[0].origin == 11);
    CHECK(feed[0].kind == FeedEntry::Kind::entered);
    CHECK(feed[0].locator == locator(1));
    CHECK(feed[1].kind == FeedEntry::Kind::stored);
    CHECK(feed[1].user == user(1));
    CHECK(feed[2].origin == 22);
    CHECK(feed[2].kind == FeedEntry::Kind::entered);
    CHECK(feed[2].locator == locator(2));
    CHECK(feed[3].kind == FeedEntry::Kind::left);
    CHECK(feed[3].locator == locator(1));
    CHECK(feed[4].kind == FeedEntry::Kind::stored);
    CHECK(a->read_feed(feed[2].seq, 100).value().size() == 2);
    // What a follows: b's entries only.
    auto others = a->read_others_feed(0, 100).value();
    REQUIRE(others.size() == 3);
    for (const auto& e : others) CHECK(e.origin == 22);
    CHECK(b->read_others_feed(0, 100).value().size() == 2);
    CHECK(a->recent_feed(std::chrono::seconds(60), 100).value().size() == 2);  // the stored entries
    auto bounds = a->feed_bounds().value();
    CHECK(bounds.first == feed[0].seq);
    CHECK(bounds.last == feed[4].seq);
    CHECK(a->prune_feed(std::chrono::seconds(3600)).value() == 0);
    // A store opened without a feed origin (a tower on its own) writes none.
    auto single = open_postgres_store(pg->connection_string()).value();
    WriteBatch w3;
    w3.put_appointment(appointment(user(1), locator(3)), true);
    REQUIRE(single->write(w3));
    CHECK(a->feed_bounds().value().last == bounds.last);
    CHECK(single->read_feed(0, 10).error().code == ErrorCode::unsupported);

    // A funding outpoint registered for channel monitoring reaches the feed too.
    ElectrumChannelRecord channel;
    channel.account = user(1);
    channel.funding_txid.bytes[0] = 0xf0;
    channel.funding_txid.bytes[31] = 0x0f;
    channel.funding_vout = 0x01020304;
    channel.funding_address = "bcrt1q";
    WriteBatch w4;
    w4.put_electrum_channel(channel);
    REQUIRE(b->write(w4));
    auto watched = a->read_feed(bounds.last, 10).value();
    REQUIRE(watched.size() == 1);
    CHECK(watched[0].kind == FeedEntry::Kind::watched);
    REQUIRE(watched[0].outpoint);
    CHECK(watched[0].outpoint->txid == channel.funding_txid);
    CHECK(watched[0].outpoint->index == 0x01020304);
    CHECK_FALSE(watched[0].user);
}
