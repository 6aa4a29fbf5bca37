#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <thread>

#include "server/store/store.h"
#include "server/tower/group_committer.h"
#include "tests/support/temporary_directory.h"

using namespace argus;
using namespace argus::tower;

namespace {
store::UserRecord user(std::uint16_t n) {
    store::UserRecord u;
    u.user_id[0] = 0x02;
    u.user_id[1] = static_cast<std::uint8_t>(n >> 8);
    u.user_id[2] = static_cast<std::uint8_t>(n);
    u.available_slots = n;
    u.subscription_expiry = 1000;
    return u;
}
}  // namespace

TEST_CASE("group commit: concurrent parts share transactions and all become durable") {
    test::TemporaryDirectory dir;
    auto store = store::open_sqlite_store(dir.path() + "/s.sqlite").value();
    GroupCommitter committer(*store, nullptr);
    constexpr int parts = 2000;
    std::atomic<int> done{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
        threads.emplace_back([&, t] {
            for (int i = t; i < parts; i += 16) {
                store::WriteBatch b;
                b.put_user(user(static_cast<std::uint16_t>(i)));
                REQUIRE(committer.submit(std::move(b), [&](const Status& s) {
                    if (!s) ++failed;
                    ++done;
                }));
            }
        });
    }
    for (auto& t : threads) t.join();
    committer.stop();
    CHECK(done == parts);
    CHECK(failed == 0);
    auto stats = committer.stats();
    CHECK(stats.parts == parts);
    CHECK(stats.batches < parts);  // fsyncs were shared
    CHECK(store->counts()->users == parts);
    store::WriteBatch late;
    CHECK_FALSE(committer.submit(std::move(late), [](const Status&) {}));
}

TEST_CASE("group commit: a failed transaction fails its parts, then on_failure runs") {
    test::TemporaryDirectory dir;
    auto store = store::open_sqlite_store(dir.path() + "/s.sqlite").value();
    std::atomic<int> failures{0};
    GroupCommitter* self = nullptr;
    std::size_t failed_pending = 0;
    GroupCommitter committer(*store, [&](const Error& e) {
        ++failures;
        failed_pending += self->fail_pending(e);
    });
    self = &committer;
    // An appointment for an unknown user makes the whole transaction fail.
    store::WriteBatch bad;
    bad.put_appointment(store::AppointmentRecord{});
    std::atomic<int> errors{0};
    REQUIRE(committer.submit(std::move(bad), [&](const Status& s) { errors += s ? 0 : 1; }));
    committer.stop();
    CHECK(errors == 1);
    CHECK(failures == 1);
    CHECK(store->counts()->appointments == 0);
}

TEST_CASE("group commit: operations of concurrent parts apply in submission order, whatever their kinds") {
    // Regression: parts were merged per category (upserts before removals), so
    // a chain-side removal followed by an API update of the same appointment
    // in one batch lost the acknowledged update.
    test::TemporaryDirectory dir;
    auto store = store::open_sqlite_store(dir.path() + "/s.sqlite").value();
    store::UserRecord owner = user(1);
    store::AppointmentRecord a;
    a.user_id = owner.user_id;
    a.locator[0] = 0x42;
    a.blob = Bytes(100, 1);
    {
        store::WriteBatch setup;
        setup.put_user(owner).put_appointment(a);
        REQUIRE(store->write(setup));
    }
    std::vector<store::WriteEffects> committed;
    GroupCommitter committer(*store, nullptr, [&](const store::WriteEffects& e) { committed.push_back(e); });
    // Hold the committer on a first part so the next two land in one batch.
    std::promise<void> release, entered;
    std::shared_future<void> released = release.get_future().share();
    store::WriteBatch first;
    first.put_user(user(2));
    REQUIRE(committer.submit(std::move(first), [released, &entered](const Status&) {
        entered.set_value();
        released.wait();
    }));
    entered.get_future().wait();  // the committer is inside the first batch's callbacks
    store::WriteBatch removal;  // the chain: the appointment's penalty was rejected
    removal.remove_appointment({a.locator, a.user_id});
    store::AppointmentRecord update = a;  // the user: a new version
    update.blob = Bytes(200, 2);
    store::WriteBatch api;
    api.put_user(owner).put_appointment(update);
    std::atomic<int> ok{0};
    REQUIRE(committer.submit(std::move(removal), [&](const Status& s) { ok += s ? 1 : 0; }));
    REQUIRE(committer.submit(std::move(api), [&](const Status& s) { ok += s ? 1 : 0; }));
    release.set_value();
    committer.stop();
    CHECK(ok == 2);
    CHECK(committer.stats().largest_batch_parts == 2);  // the two were one transaction
    auto stored = store->get_appointment({a.locator, a.user_id}).value();
    REQUIRE(stored.has_value());
    CHECK(stored->blob == update.blob);
    // Present before and after the batch: the index must neither gain nor lose it.
    REQUIRE(committed.size() == 2);
    CHECK(committed[0].inserted.empty());
    CHECK(committed[1].inserted.empty());
    CHECK(committed[1].removed.empty());
}
