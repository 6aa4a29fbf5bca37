// argus-bench-block: time from a raw block (as bitcoind's getblock returns it)
// to penalties handed to the broadcaster, for blocks of 5,000 and 20,000
// transactions against 10^6 and 10^7 watched appointments; and RAM per
// appointment in the locator index (measured, and as the process's RSS grew).
//
// The index holds all N locators; the store (SQLite, WAL) holds the appointments
// that the block breaches plus `stored` others, since the watcher reads the store
// only for index candidates (lookups by the locator index, O(log n)).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "common/hex.h"
#include "common/watchtower_crypto.h"
#include "server/chain/chain_source.h"
#include "tests/bench/counting_broadcaster.h"
#include "server/store/store.h"
#include "server/tower/locator_index.h"
#include "server/watch/chain_follower.h"
#include "server/watch/watch_core.h"
#include "tests/support/simulated_context.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/watch_chain.h"

using namespace argus;
using BenchClock = std::chrono::steady_clock;

namespace {

std::size_t rss_bytes() {
    std::ifstream in("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    in >> pages >> resident;
    return resident * 4096;
}



}  // namespace

int main(int argc, char** argv) {
    std::size_t max_appointments = argc > 1 ? std::stoull(argv[1]) : 10'000'000;
    std::mt19937_64 rng(42);
    test::TemporaryDirectory dir;
    auto store = store::open_sqlite_store(dir.path() + "/bench.sqlite").value();
    store::UserRecord user;
    user.user_id[0] = 0x02;
    user.available_slots = 1'000'000;
    user.subscription_expiry = 1'000'000;

    std::printf("argus-bench-block: candidates + decision core + broadcasts on one core\n");
    std::printf("%14s %8s %6s %10s %12s %12s %14s %14s\n", "appointments", "txs", "hints", "breaches", "block ms",
                "p-max ms", "index B/appt", "RSS B/appt");
    for (std::size_t appointments : {std::size_t{1'000'000}, std::size_t{10'000'000}}) {
        if (appointments > max_appointments) break;
        std::size_t rss_before = rss_bytes();
        test::SeededRng seed(7);
        tower::LocatorIndex index(seed);
        index.reserve(appointments);
        for (std::size_t i = 0; i < appointments; ++i) {
            Locator l;
            for (auto& b : l) b = static_cast<std::uint8_t>(rng());
            index.insert(l);
        }
        std::size_t rss_after = rss_bytes();
        for (std::size_t txs : {std::size_t{5'000}, std::size_t{20'000}}) {
            Block block;
            for (std::size_t i = 0; i < txs; ++i) block.transactions.push_back(test::random_transaction(rng));
            block.header.merkle_root = compute_merkle_root(block);
            // Ten breaches in the block, with real encrypted penalties in the store.
            store::WriteBatch batch;
            batch.put_user(user);
            for (std::size_t k = 0; k < 10; ++k) {
                const Transaction& dispute = block.transactions[k * (txs / 10)];
                Transaction penalty = test::random_transaction(rng);
                store::AppointmentRecord a;
                a.user_id = user.user_id;
                a.locator = teos::locator(dispute.txid());
                a.blob = teos::encrypt_penalty(penalty.serialize(), dispute.txid());
                batch.put_appointment(a);
                index.insert(a.locator);
            }
            if (!store->write(batch)) return 1;
            Bytes raw = block.serialize();
            // Without and with lnd breach hints (one SHA256 per transaction and
            // a second index probe), alternating so that noise hits both.
            double worst[2] = {0, 0}, total[2] = {0, 0};
            double phases[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}};  // parse, txids and keys, candidates, round
            const int rounds = 6;
            std::size_t breaches = 0;
            for (int r = 0; r < 2 * rounds; ++r) {
                bool hints = r % 2 == 1;
                bench::CountingBroadcaster broadcaster;
                watch::WatchCore core;
                auto start = BenchClock::now();
                // RPC hex decoding excluded; parsing included. The follower's
                // own steps: block view, candidates (index, then store), one
                // round of the core with its broadcasts; the commit is not timed.
                auto parsed = std::make_shared<const Block>(parse_block(raw).value());
                auto parsed_at = BenchClock::now();
                auto view = watch::make_block_view(parsed, parsed->header.hash(), 1, hints);
                auto viewed_at = BenchClock::now();
                auto event = watch::read_block_candidates(view, index, *store).value();
                auto read_at = BenchClock::now();
                watch::WatchCore draft = core;
                watch::Round round;
                if (!watch::run_round(draft, std::move(event), broadcaster, round)) return 1;
                double ms = std::chrono::duration<double, std::milli>(BenchClock::now() - start).count();
                phases[hints][0] += std::chrono::duration<double, std::milli>(parsed_at - start).count();
                phases[hints][1] += std::chrono::duration<double, std::milli>(viewed_at - parsed_at).count();
                phases[hints][2] += std::chrono::duration<double, std::milli>(read_at - viewed_at).count();
                phases[hints][3] += std::chrono::duration<double, std::milli>(BenchClock::now() - read_at).count();
                breaches = broadcaster.sent;
                total[hints] += ms;
                worst[hints] = std::max(worst[hints], ms);
            }
            for (int hints = 0; hints < 2; ++hints) {
                std::printf("%14zu %8zu %6s %10zu %12.2f %12.2f %14.1f %14.1f\n", appointments, txs, hints ? "yes" : "no",
                            breaches, total[hints] / rounds, worst[hints],
                            static_cast<double>(index.memory_bytes()) / static_cast<double>(index.size()),
                            static_cast<double>(rss_after - rss_before) / static_cast<double>(appointments));
                std::printf("%14s of which: parse %.2f ms, txids and keys %.2f ms, candidates (index, store) %.2f ms, "
                            "decisions and broadcasts %.2f ms\n",
                            "", phases[hints][0] / rounds, phases[hints][1] / rounds, phases[hints][2] / rounds,
                            phases[hints][3] / rounds);
            }
            std::fflush(stdout);
        }
    }
    return 0;
}
