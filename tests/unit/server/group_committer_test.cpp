#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
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
                b.users.push_back(user(static_cast<std::uint16_t>(i)));
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
    bad.appointments.push_back(store::AppointmentRecord{});
    std::atomic<int> errors{0};
    REQUIRE(committer.submit(std::move(bad), [&](const Status& s) { errors += s ? 0 : 1; }));
    committer.stop();
    CHECK(errors == 1);
    CHECK(failures == 1);
    CHECK(store->counts()->appointments == 0);
}
