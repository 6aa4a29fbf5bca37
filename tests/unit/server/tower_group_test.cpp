// Two TowerService instances on one PostgreSQL database, as two towers of a
// group (--ha) are (issue #13): every front door's writes on one are seen by
// the other at once, slots are charged once across both, an update of an
// appointment the other tower stored is charged as an update, and a write
// racing another tower's write of the same user fails cleanly (503), never
// double-charging.
#include <doctest/doctest.h>

#include <future>

#include "common/lnd_justice.h"
#include "common/message_signing.h"
#include "server/tower/tower_service.h"
#include "tests/support/temporary_postgres.h"

using namespace argus;
using namespace argus::tower;

namespace {

struct Node {
    std::unique_ptr<store::Store> store;
    std::unique_ptr<LocatorIndex> index;
    std::unique_ptr<TowerService> service;
};

Node start_node(const test::TemporaryPostgres& pg, std::uint64_t origin, const PrivateKey& key) {
    Node n;
    store::PostgresStoreOptions o;
    o.read_connections = 2;
    o.feed_origin = origin;
    n.store = store::open_postgres_store(pg.connection_string(), o).value();
    n.index = std::make_unique<LocatorIndex>(system_rng());
    n.service = std::make_unique<TowerService>(*n.store, *n.index, key, SubscriptionPolicy{100, 1000, 6},
                                               [] { return ChainStatus{500, true}; });
    n.service->set_shared_store(true, origin);
    REQUIRE(n.service->start());
    return n;
}

PrivateKey user_key(std::uint8_t n) { return PrivateKey::from_bytes(Bytes(32, n)).value(); }

ApiResult<RegisterReply> register_on(TowerService& s, const PrivateKey& user) {
    std::promise<ApiResult<RegisterReply>> p;
    s.register_user(user.public_key().bytes(), [&](ApiResult<RegisterReply> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
}

ApiResult<AddAppointmentReply> add_on(TowerService& s, const PrivateKey& user, const Locator& l, std::size_t blob_size) {
    AddAppointmentRequest r;
    r.locator = l;
    r.encrypted_blob = Bytes(blob_size, 0x42);
    r.to_self_delay = 144;
    r.signature = sign_message(user, teos::add_appointment_message(r.locator, r.encrypted_blob, r.to_self_delay));
    std::promise<ApiResult<AddAppointmentReply>> p;
    s.add_appointment(std::move(r), [&](ApiResult<AddAppointmentReply> a) { p.set_value(std::move(a)); });
    return p.get_future().get();
}

std::uint32_t slots_on(TowerService& s, const PrivateKey& user) {
    auto info = s.get_subscription_info(sign_message(user, as_bytes(teos::get_subscription_info_message())));
    REQUIRE(info);
    return info->available_slots;
}

Locator locator(std::uint8_t a) {
    Locator l{};
    l[0] = 0x77;
    l[1] = a;
    return l;
}

}  // namespace

TEST_CASE("tower group: a user registered on one tower uses the other at once, and slots are charged once across both") {
    auto pg = test::TemporaryPostgres::start();
    auto key = PrivateKey::from_bytes(Bytes(32, 9)).value();
    Node a = start_node(*pg, 1, key), b = start_node(*pg, 2, key);
    auto alice = user_key(21);
    REQUIRE(register_on(*a.service, alice));
    // b never saw the registration in memory: it reads the user from the store.
    auto first = add_on(*b.service, alice, locator(1), 100);
    REQUIRE(first);
    CHECK(first->available_slots == 99);
    CHECK(slots_on(*a.service, alice) == 99);  // a reads the row b moved
    auto second = add_on(*a.service, alice, locator(2), 100);
    REQUIRE(second);
    CHECK(second->available_slots == 98);
    // An update on a of the appointment b stored (a's index never had it): charged as an update.
    auto update = add_on(*a.service, alice, locator(1), 100);
    REQUIRE(update);
    CHECK(update->available_slots == 98);
    // A bigger update on b of what a wrote: the difference only (2 slots - 1).
    auto bigger = add_on(*b.service, alice, locator(2), 2048 + 100);
    REQUIRE(bigger);
    CHECK(bigger->available_slots == 97);
    CHECK(slots_on(*a.service, alice) == 97);
    CHECK(slots_on(*b.service, alice) == 97);
    auto stored = a.store->user_locators(alice.public_key().bytes()).value();
    CHECK(stored.size() == 2);  // no duplicate row for either locator
    auto row = a.store->get_appointment({locator(2), alice.public_key().bytes()}).value();
    REQUIRE(row);
    CHECK(row->blob.size() == 2148);
    // Both answer get_appointment for what the other stored.
    auto on_a = a.service->get_appointment(locator(1), sign_message(alice, as_bytes(teos::get_appointment_message(locator(1)))));
    REQUIRE(on_a);
    CHECK(on_a->appointment.has_value());
    a.service->stop();
    b.service->stop();
}

TEST_CASE("tower group: the same user writing through both towers at once: every acknowledged write is charged exactly once") {
    auto pg = test::TemporaryPostgres::start();
    auto key = PrivateKey::from_bytes(Bytes(32, 9)).value();
    Node a = start_node(*pg, 1, key), b = start_node(*pg, 2, key);
    auto bob = user_key(33);
    REQUIRE(register_on(*a.service, bob));
    std::atomic<int> acked{0}, refused{0};
    auto writer = [&](TowerService& s, std::uint8_t base) {
        for (std::uint8_t i = 0; i < 30; ++i) {
            auto r = add_on(s, bob, locator(static_cast<std::uint8_t>(base + i)), 100);
            if (r) {
                ++acked;
            } else {
                CHECK(r.error().code == teos_error::service_unavailable);  // 503: retry
                ++refused;
            }
        }
    };
    std::thread ta([&] { writer(*a.service, 0); }), tb([&] { writer(*b.service, 100); });
    ta.join();
    tb.join();
    MESSAGE("acknowledged ", acked.load(), ", refused as conflicts ", refused.load());
    auto stored = a.store->user_locators(bob.public_key().bytes()).value();
    CHECK(static_cast<int>(stored.size()) == acked.load());
    CHECK(a.store->get_user(bob.public_key().bytes()).value()->available_slots == 100 - stored.size());
    CHECK(slots_on(*b.service, bob) == 100 - stored.size());
    a.service->stop();
    b.service->stop();
}

TEST_CASE("tower group: an Electrum account and an LND session created on one tower are served by the other") {
    auto pg = test::TemporaryPostgres::start();
    auto key = PrivateKey::from_bytes(Bytes(32, 9)).value();
    Node a = start_node(*pg, 1, key), b = start_node(*pg, 2, key);

    REQUIRE(a.service->create_electrum_account("carol", "correct horse battery"));
    auto account = b.service->electrum_authenticate("carol", "correct horse battery");
    REQUIRE(account);
    CHECK_FALSE(b.service->electrum_authenticate("carol", "wrong"));
    OutPoint funding{Txid{}, 1};
    funding.txid.bytes[0] = 0xf1;
    std::promise<ApiResult<std::int64_t>> ctn;
    b.service->electrum_get_ctn(*account, funding, "bcrt1qxyz", [&](ApiResult<std::int64_t> r) { ctn.set_value(std::move(r)); });
    auto got = ctn.get_future().get();
    REQUIRE(got);
    CHECK(*got == -1);
    // A sweep through a, for the channel b registered.
    OutPoint prevout{Txid{}, 0};
    prevout.txid.bytes[0] = 0xc1;
    std::promise<ApiResult<bool>> swept;
    a.service->electrum_add_sweep(*account, funding, 0, prevout, Bytes(150, 0x01),
                                  [&](ApiResult<bool> r) { swept.set_value(std::move(r)); });
    REQUIRE(swept.get_future().get());
    // b answers the ctn a stored.
    std::promise<ApiResult<std::int64_t>> again;
    b.service->electrum_get_ctn(*account, funding, "bcrt1qxyz", [&](ApiResult<std::int64_t> r) { again.set_value(std::move(r)); });
    auto now = again.get_future().get();
    REQUIRE(now);
    CHECK(*now == 0);

    auto session_key = PrivateKey::from_bytes(Bytes(32, 44)).value().public_key();
    wtwire::CreateSession create{lnd::blob_type_altruist_anchor, 100, 0, 0, 2500};
    std::promise<WtwireReply> created;
    a.service->create_session(session_key, create, [&](WtwireReply r) { created.set_value(std::move(r)); });
    REQUIRE(created.get_future().get().code == wtwire::code::ok);
    wtwire::StateUpdate update;
    update.seqnum = 1;
    update.last_applied = 0;
    update.hint[0] = 0x99;
    update.encrypted_blob = Bytes(lnd::blob_size(lnd::blob_type_altruist_anchor), 0x07);
    std::promise<WtwireReply> applied;
    b.service->state_update(session_key, update, [&](WtwireReply r) { applied.set_value(std::move(r)); });
    auto reply = applied.get_future().get();
    CHECK(reply.code == wtwire::code::ok);
    CHECK(reply.last_applied == 1);
    // The next update on a continues the sequence b moved.
    update.seqnum = 2;
    update.last_applied = 1;
    update.hint[0] = 0x9a;
    std::promise<WtwireReply> next;
    a.service->state_update(session_key, update, [&](WtwireReply r) { next.set_value(std::move(r)); });
    CHECK(next.get_future().get().code == wtwire::code::ok);
    // The watcher's view: a session it never had in memory is read from the
    // store (a breach of it is answered, not dropped), and blocks carry hints.
    Node c = start_node(*pg, 3, key);
    auto seen = c.service->session(store::session_account(session_key.bytes()));
    REQUIRE(seen);
    CHECK(seen->last_applied == 2);
    CHECK(c.service->hints_needed());
    c.service->stop();
    a.service->stop();
    b.service->stop();
}

TEST_CASE("tower group: once the feed is applied past another tower's write, the index answers for the user again") {
    auto pg = test::TemporaryPostgres::start();
    auto key = PrivateKey::from_bytes(Bytes(32, 9)).value();
    Node a = start_node(*pg, 1, key), b = start_node(*pg, 2, key);
    auto dave = user_key(55);
    REQUIRE(register_on(*a.service, dave));
    REQUIRE(add_on(*b.service, dave, locator(1), 100));
    // a refreshes dave (b wrote it) before any feed is applied: the index is not trusted.
    CHECK(slots_on(*a.service, dave) == 99);
    // a's feed thread's work: b's locators into a's index, then the mark.
    auto feed = a.store->read_feed(0, 100).value();
    std::uint64_t last = 0;
    for (const auto& e : feed) {
        if (e.origin != 1 && e.kind == store::FeedEntry::Kind::entered) a.index->insert(e.locator);
        last = e.seq;
    }
    a.service->set_feed_applied(last);
    // The update on a of b's appointment is found through the index: charged as an update.
    auto update = add_on(*a.service, dave, locator(1), 100);
    REQUIRE(update);
    CHECK(update->available_slots == 99);
    CHECK(a.store->user_locators(dave.public_key().bytes()).value().size() == 1);
    // A new locator is new: known to be, from the index.
    auto fresh = add_on(*a.service, dave, locator(2), 100);
    REQUIRE(fresh);
    CHECK(fresh->available_slots == 98);
    CHECK(a.store->user_locators(dave.public_key().bytes()).value().size() == 2);
    a.service->stop();
    b.service->stop();
}
