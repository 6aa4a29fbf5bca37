// The pure decision core, driven with hand-built blocks and scripted broadcast
// results: every responder case of rust-teos (accepted, -27 already in chain,
// -25/-26/-22 rejected, bitcoind down), rebroadcast, reorged out, resolved,
// late appointments; then a property test against a simple model over random
// chains, reorgs and appointment arrivals.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/teos_protocol.h"
#include "server/watch/watch_core.h"
#include "tests/support/watch_chain.h"

using namespace argus;
using namespace argus::watch;
using argus::test::Dispute;
using argus::test::make_dispute;
using argus::test::make_view;
using argus::test::random_transaction;

namespace {

template <class T>
std::vector<T> all_of(const std::vector<Action>& actions) {
    std::vector<T> out;
    for (const auto& a : actions) {
        if (auto* x = std::get_if<T>(&a)) out.push_back(*x);
    }
    return out;
}

chain::BroadcastResult result(chain::BroadcastResult::Kind kind, int code = 0) { return {kind, code, "scripted"}; }

BlockConnected connected(std::shared_ptr<const BlockView> view, const std::vector<Dispute>& stored) {
    // The adapter's candidates: stored appointments whose locator is a txid's.
    BlockConnected e{view, {}, {}, {}};
    for (std::size_t i = 0; i < view->locators.size(); ++i) {
        for (const auto& d : stored) {
            if (d.appointment.locator == view->locators[i]) e.candidates.push_back({i, d.appointment, std::nullopt});
        }
    }
    return e;
}

store::AppointmentKey key(const Dispute& d) { return {d.appointment.locator, d.appointment.user_id}; }

struct Fixture {
    std::mt19937_64 rng{1};
    WatchCore core{CoreOptions{.resolve_depth = 3, .rebroadcast_after = 2, .recent_blocks = 3}, {100, {}}};
    std::uint32_t height = 100;

    std::shared_ptr<const BlockView> block(std::vector<Transaction> txs) {
        txs.insert(txs.begin(), random_transaction(rng));  // a coinbase stand-in
        return make_view(std::move(txs), ++height, rng);
    }
    // A breach in a block, its penalty accepted: returns the tracker.
    store::TrackerRecord punish(const Dispute& d) {
        auto actions = core.handle(connected(block({d.dispute}), {d}));
        auto broadcasts = all_of<Broadcast>(actions);
        REQUIRE(broadcasts.size() == 1);
        auto persisted = all_of<PersistTracker>(
            core.handle(BroadcastReport{key(d), BroadcastPurpose::penalty, result(chain::BroadcastResult::Kind::accepted)}));
        REQUIRE(persisted.size() == 1);
        return persisted[0].tracker;
    }
};

}  // namespace

TEST_CASE("watch core: a breach is broadcast, then tracked from the breach height") {
    Fixture f;
    Dispute d = make_dispute(f.rng);
    auto view = f.block({random_transaction(f.rng), d.dispute});
    auto actions = f.core.handle(connected(view, {d}));
    auto broadcasts = all_of<Broadcast>(actions);
    REQUIRE(broadcasts.size() == 1);
    CHECK(broadcasts[0].purpose == BroadcastPurpose::penalty);
    CHECK(broadcasts[0].transaction.serialize() == d.penalty.serialize());  // decrypted with the dispute's txid
    CHECK(all_of<PersistTracker>(actions).empty());  // nothing tracked before the result is known
    auto tips = all_of<SetTip>(actions);
    REQUIRE(tips.size() == 1);
    CHECK(tips[0].position.height == 101);
    CHECK(f.core.awaiting_reports() == 1);

    auto after = f.core.handle(
        BroadcastReport{key(d), BroadcastPurpose::penalty, result(chain::BroadcastResult::Kind::accepted)});
    auto persisted = all_of<PersistTracker>(after);
    REQUIRE(persisted.size() == 1);
    CHECK(persisted[0].is_new);
    CHECK(persisted[0].tracker.dispute_txid == d.dispute.txid());
    CHECK(persisted[0].tracker.penalty_txid == d.penalty.txid());
    CHECK(persisted[0].tracker.broadcast_height == 101);
    CHECK_FALSE(persisted[0].tracker.confirmed_height.has_value());
    CHECK(persisted[0].tracker.blob_size == d.appointment.blob.size());
    CHECK(f.core.trackers().size() == 1);
    CHECK(f.core.awaiting_reports() == 0);
    CHECK(f.core.counters().breaches == 1);
    CHECK(f.core.counters().penalties_broadcast == 1);
}

TEST_CASE("watch core: -27 (already in chain) counts as confirmed at the breach height") {
    Fixture f;
    Dispute d = make_dispute(f.rng);
    (void)f.core.handle(connected(f.block({d.dispute}), {d}));
    auto persisted = all_of<PersistTracker>(f.core.handle(
        BroadcastReport{key(d), BroadcastPurpose::penalty, result(chain::BroadcastResult::Kind::already_in_chain, -27)}));
    REQUIRE(persisted.size() == 1);
    CHECK(persisted[0].tracker.confirmed_height == 101u);
}

TEST_CASE("watch core: a penalty bitcoind rejects (-25, -26, -22) drops the appointment, without refund") {
    for (int code : {-25, -26, -22}) {
        CAPTURE(code);
        Fixture f;
        Dispute d = make_dispute(f.rng);
        (void)f.core.handle(connected(f.block({d.dispute}), {d}));
        auto actions = f.core.handle(
            BroadcastReport{key(d), BroadcastPurpose::penalty, result(chain::BroadcastResult::Kind::rejected, code)});
        auto drops = all_of<DropAppointment>(actions);
        REQUIRE(drops.size() == 1);
        CHECK(drops[0].reason == DropReason::penalty_rejected);
        CHECK(drops[0].key.locator == d.appointment.locator);
        CHECK(drops[0].detail.find(std::to_string(code)) != std::string::npos);
        CHECK(all_of<PersistTracker>(actions).empty());
        CHECK(all_of<ResolveTracker>(actions).empty());  // no refund
        CHECK(f.core.trackers().empty());
        CHECK(f.core.counters().penalties_rejected == 1);
    }
}

TEST_CASE("watch core: bitcoind unreachable while broadcasting aborts the round") {
    Fixture f;
    Dispute d = make_dispute(f.rng);
    WatchCore before = f.core;
    WatchCore draft = f.core;
    (void)draft.handle(connected(f.block({d.dispute}), {d}));
    auto actions = draft.handle(
        BroadcastReport{key(d), BroadcastPurpose::penalty, result(chain::BroadcastResult::Kind::unavailable)});
    REQUIRE(actions.size() == 1);
    CHECK(std::holds_alternative<Abort>(actions[0]));
    // The adapter discards the draft: the kept state never saw the block.
    CHECK(before.tip().height == 100);
    CHECK(before.trackers().empty());
}

TEST_CASE("watch core: an appointment whose blob does not open with the dispute is dropped as invalid") {
    Fixture f;
    Dispute d = make_dispute(f.rng);
    d.appointment.blob[3] ^= 1;  // the AEAD tag no longer matches
    auto actions = f.core.handle(connected(f.block({d.dispute}), {d}));
    auto drops = all_of<DropAppointment>(actions);
    REQUIRE(drops.size() == 1);
    CHECK(drops[0].reason == DropReason::invalid_payload);
    CHECK(all_of<Broadcast>(actions).empty());
    CHECK(f.core.counters().invalid_appointments == 1);
}

TEST_CASE("watch core: a candidate whose full locator differs (an index prefix collision) is not a breach") {
    Fixture f;
    Dispute d = make_dispute(f.rng);
    auto view = f.block({random_transaction(f.rng)});
    BlockConnected e{view, {{1, d.appointment, std::nullopt}}, {}, {}};  // the index said "maybe" for tx 1
    auto actions = f.core.handle(e);
    CHECK(all_of<Broadcast>(actions).empty());
    CHECK(all_of<DropAppointment>(actions).empty());
}

TEST_CASE("watch core: kinds without an opener yet (lnd, electrum) are left alone, not dropped") {
    Fixture f;
    Dispute d = make_dispute(f.rng);
    d.appointment.trigger = store::TriggerKind::txid_hint;
    d.appointment.payload = store::PayloadKind::encrypted_justice_kit;
    auto actions = f.core.handle(connected(f.block({d.dispute}), {d}));
    CHECK(all_of<Broadcast>(actions).empty());
    CHECK(all_of<DropAppointment>(actions).empty());
}

TEST_CASE("watch core: an unconfirmed penalty missing from the mempool is rebroadcast with its dispute") {
    Fixture f;
    Dispute d = make_dispute(f.rng);
    f.punish(d);  // broadcast at 101; rebroadcast_after = 2
    auto a102 = f.core.handle(connected(f.block({}), {}));
    CHECK(all_of<QueryMempool>(a102).empty());
    auto a103 = f.core.handle(connected(f.block({}), {}));
    auto queries = all_of<QueryMempool>(a103);
    REQUIRE(queries.size() == 1);
    CHECK(queries[0].txid == d.penalty.txid());

    // Still in the mempool: nothing to do.
    CHECK(f.core.handle(MempoolReport{key(d), true}).empty());

    // Gone from the mempool: dispute first, then penalty; the tracker restarts its count.
    auto again = f.core.handle(connected(f.block({}), {}));
    REQUIRE(all_of<QueryMempool>(again).size() == 1);
    auto actions = f.core.handle(MempoolReport{key(d), false});
    auto broadcasts = all_of<Broadcast>(actions);
    REQUIRE(broadcasts.size() == 2);
    CHECK(broadcasts[0].purpose == BroadcastPurpose::rebroadcast_dispute);
    CHECK(broadcasts[0].transaction.serialize() == d.dispute.serialize());
    CHECK(broadcasts[1].purpose == BroadcastPurpose::rebroadcast_penalty);
    CHECK(broadcasts[1].transaction.serialize() == d.penalty.serialize());
    auto persisted = all_of<PersistTracker>(actions);
    REQUIRE(persisted.size() == 1);
    CHECK(persisted[0].tracker.broadcast_height == 104);
    CHECK_FALSE(persisted[0].is_new);
    CHECK(f.core.counters().penalties_rebroadcast == 1);
    // A rebroadcast's own result decides nothing (it is checked again later)...
    CHECK(f.core.handle(BroadcastReport{key(d), BroadcastPurpose::rebroadcast_penalty,
                                        result(chain::BroadcastResult::Kind::rejected, -26)})
              .empty());
    // ...unless bitcoind is down: then the round must be retried.
    auto down = f.core.handle(BroadcastReport{key(d), BroadcastPurpose::rebroadcast_penalty,
                                              result(chain::BroadcastResult::Kind::unavailable)});
    REQUIRE(down.size() == 1);
    CHECK(std::holds_alternative<Abort>(down[0]));
}

TEST_CASE("watch core: a confirmed penalty is resolved resolve_depth deep, once, with the user's slots refunded") {
    Fixture f;
    Dispute d = make_dispute(f.rng);
    d.appointment.blob.resize(d.appointment.blob.size());  // one slot
    f.punish(d);
    auto confirm = f.core.handle(connected(f.block({d.penalty}), {}));  // 102
    auto persisted = all_of<PersistTracker>(confirm);
    REQUIRE(persisted.size() == 1);
    CHECK(persisted[0].tracker.confirmed_height == 102u);
    CHECK(all_of<ResolveTracker>(f.core.handle(connected(f.block({}), {}))).empty());  // 103: depth 2
    auto resolved = all_of<ResolveTracker>(f.core.handle(connected(f.block({}), {})));  // 104: depth 3
    REQUIRE(resolved.size() == 1);
    CHECK(resolved[0].tracker.penalty_txid == d.penalty.txid());
    CHECK(resolved[0].refund_slots == teos::appointment_slots(d.appointment.blob.size()));
    CHECK(f.core.trackers().empty());
    CHECK(all_of<ResolveTracker>(f.core.handle(connected(f.block({}), {}))).empty());  // never twice
    CHECK(f.core.counters().penalties_resolved == 1);
}

TEST_CASE("watch core: reorgs — a penalty's block disconnected is rebroadcast, a dispute's block undoes the tracker") {
    Fixture f;
    Dispute d = make_dispute(f.rng);
    auto dispute_block = f.block({d.dispute});  // 101
    (void)f.core.handle(connected(dispute_block, {d}));
    (void)f.core.handle(BroadcastReport{key(d), BroadcastPurpose::penalty, result(chain::BroadcastResult::Kind::accepted)});
    auto penalty_block = f.block({d.penalty});  // 102
    (void)f.core.handle(connected(penalty_block, {}));
    REQUIRE(f.core.trackers().begin()->second.confirmed_height == 102u);

    auto undo_confirmation = f.core.handle(BlockDisconnected{penalty_block, {101, dispute_block->hash}, {}});
    auto broadcasts = all_of<Broadcast>(undo_confirmation);
    REQUIRE(broadcasts.size() == 2);
    CHECK(broadcasts[1].transaction.serialize() == d.penalty.serialize());
    auto persisted = all_of<PersistTracker>(undo_confirmation);
    REQUIRE(persisted.size() == 1);
    CHECK_FALSE(persisted[0].tracker.confirmed_height.has_value());
    CHECK(persisted[0].tracker.broadcast_height == 101);
    CHECK(all_of<SetTip>(undo_confirmation).at(0).position.height == 101);

    auto undo_breach = f.core.handle(BlockDisconnected{dispute_block, {100, {}}, {}});
    auto undone = all_of<UndoTracker>(undo_breach);
    REQUIRE(undone.size() == 1);
    CHECK(undone[0].tracker.dispute_txid == d.dispute.txid());
    CHECK(f.core.trackers().empty());
    CHECK(all_of<DropAppointment>(undo_breach).empty());  // the appointment stays: watched again
    CHECK(f.core.counters().breaches_reorged_out == 1);

    // The dispute mined again on the new branch: punished again.
    f.height = 100;
    auto actions = f.core.handle(connected(f.block({d.dispute}), {d}));
    CHECK(all_of<Broadcast>(actions).size() == 1);
}

TEST_CASE("watch core: an appointment stored after its block's scan is checked against the recent blocks") {
    Fixture f;  // recent_blocks = 3
    Dispute late = make_dispute(f.rng);
    Dispute too_late = make_dispute(f.rng);
    (void)f.core.handle(connected(f.block({too_late.dispute}), {}));  // 101: its appointment is not yet stored
    (void)f.core.handle(connected(f.block({late.dispute}), {}));      // 102
    (void)f.core.handle(connected(f.block({}), {}));                  // 103
    (void)f.core.handle(connected(f.block({}), {}));                  // 104: 101 has left the window

    auto actions = f.core.handle(AppointmentStored{late.appointment, std::nullopt});
    auto broadcasts = all_of<Broadcast>(actions);
    REQUIRE(broadcasts.size() == 1);
    CHECK(broadcasts[0].transaction.serialize() == late.penalty.serialize());
    auto persisted = all_of<PersistTracker>(
        f.core.handle(BroadcastReport{key(late), BroadcastPurpose::penalty, result(chain::BroadcastResult::Kind::accepted)}));
    REQUIRE(persisted.size() == 1);
    CHECK(persisted[0].tracker.broadcast_height == 104);  // broadcast now, at the tip
    CHECK(f.core.counters().late_breaches == 1);

    // The same appointment reported again (its block's scan also found it): nothing new.
    CHECK(f.core.handle(AppointmentStored{late.appointment, std::nullopt}).empty());
    // Beyond the window: not found (documented limit; the client is told by get_appointment).
    CHECK(f.core.handle(AppointmentStored{too_late.appointment, std::nullopt}).empty());
    // A stored appointment for an unseen txid: nothing.
    CHECK(f.core.handle(AppointmentStored{make_dispute(f.rng).appointment, std::nullopt}).empty());
}

TEST_CASE("watch core: a disconnected block leaves the late-check window") {
    Fixture f;
    Dispute d = make_dispute(f.rng);
    auto view = f.block({d.dispute});
    (void)f.core.handle(connected(view, {}));
    (void)f.core.handle(BlockDisconnected{view, {100, {}}, {}});
    CHECK(f.core.handle(AppointmentStored{d.appointment, std::nullopt}).empty());
}

// ---- property test: the core against a simple model ----
//
// A random run over a simulated chain: blocks mined from a mempool, reorgs of
// up to 3 blocks, appointments stored before their dispute is mined, in the
// middle of a block's processing (missing from its candidates, as with a
// concurrent store), or a few blocks after it. The driver executes the core's
// actions like the adapter (store = a map; bitcoind = the simulated chain) and
// checks, against the model, that no breach is missed and nothing is resolved
// twice or early.
namespace {

struct SimulatedTower {
    explicit SimulatedTower(std::uint64_t seed) : rng(seed) {}

    static constexpr std::uint32_t resolve_depth = 4;
    static constexpr std::uint32_t recent_blocks = 4;
    std::mt19937_64 rng;
    WatchCore core{CoreOptions{resolve_depth, 2, recent_blocks}, {0, {}}};
    std::vector<std::shared_ptr<const BlockView>> chain;  // active chain; chain[i] has height i + 1
    std::set<Txid> mempool_txids;
    std::vector<Transaction> mempool;
    std::map<Key, store::AppointmentRecord> stored;  // the store's appointments
    std::map<Key, int> resolutions;
    std::map<Txid, Dispute> disputes;                // by dispute txid
    std::vector<Dispute> unannounced;                // disputes whose appointment is not stored yet

    std::uint32_t tip() const { return static_cast<std::uint32_t>(chain.size()); }

    std::optional<std::uint32_t> height_of(const Txid& txid) const {
        for (const auto& b : chain) {
            for (const auto& t : b->txids) {
                if (t == txid) return b->height;
            }
        }
        return std::nullopt;
    }

    void to_mempool(const Transaction& tx) {
        if (height_of(tx.txid()) || !mempool_txids.insert(tx.txid()).second) return;
        mempool.push_back(tx);
    }

    // The adapter's loop, against the model.
    void run(Event first) {
        std::deque<Event> events{std::move(first)};
        while (!events.empty()) {
            auto actions = core.handle(events.front());
            events.pop_front();
            for (auto& action : actions) {
                if (auto* b = std::get_if<Broadcast>(&action)) {
                    to_mempool(b->transaction);
                    events.push_back(BroadcastReport{b->key, b->purpose, {chain::BroadcastResult::Kind::accepted, 0, ""}});
                } else if (auto* q = std::get_if<QueryMempool>(&action)) {
                    events.push_back(MempoolReport{q->key, mempool_txids.count(q->txid) > 0});
                } else if (auto* d = std::get_if<DropAppointment>(&action)) {
                    FAIL("a valid appointment was dropped: " << d->detail);
                } else if (auto* r = std::get_if<ResolveTracker>(&action)) {
                    Key k{r->tracker.locator, r->tracker.user_id};
                    auto confirmed = height_of(r->tracker.penalty_txid);
                    REQUIRE(confirmed.has_value());  // resolved only if really confirmed...
                    CHECK(tip() + 1 - *confirmed >= resolve_depth);  // ...and deep enough
                    CHECK(++resolutions[k] == 1);  // and never twice
                    stored.erase(k);
                } else {
                    CHECK_FALSE(std::holds_alternative<Abort>(action));
                }
            }
        }
        REQUIRE(core.awaiting_reports() == 0);
    }

    void mine(bool store_during_scan) {
        std::vector<Transaction> txs{random_transaction(rng)};
        std::vector<Transaction> rest;
        for (auto& tx : mempool) {
            // A penalty only once its dispute is in the chain or earlier in this block.
            bool parent_ok = true;
            for (const auto& in : tx.inputs) {
                if (disputes.count(in.prevout.txid) && !height_of(in.prevout.txid)) {
                    parent_ok = std::any_of(txs.begin(), txs.end(), [&](const Transaction& t) { return t.txid() == in.prevout.txid; });
                }
            }
            if (parent_ok && rng() % 4 != 0) {
                txs.push_back(tx);
                mempool_txids.erase(tx.txid());
            } else {
                rest.push_back(tx);
            }
        }
        mempool = std::move(rest);
        auto view = make_view(std::move(txs), tip() + 1, rng);
        BlockConnected event{view, {}, {}, {}};
        for (std::size_t i = 0; i < view->locators.size(); ++i) {
            for (const auto& [k, a] : stored) {
                if (k.first == view->locators[i]) event.candidates.push_back({i, a, std::nullopt});
            }
        }
        // An appointment committed after the candidates were read (the race).
        std::optional<store::AppointmentRecord> racing;
        if (store_during_scan && !unannounced.empty()) racing = announce();
        chain.push_back(view);
        if (racing) {  // its event is handled after this block: depth counts from here
            arrival_depth.erase(last_announced);
            if (auto h = height_of(last_announced)) arrival_depth[last_announced] = tip() + 1 - *h;
        }
        run(std::move(event));
        if (racing) run(AppointmentStored{*racing, std::nullopt});
    }

    store::AppointmentRecord announce() {
        std::size_t i = rng() % unannounced.size();
        Dispute d = unannounced[i];
        unannounced.erase(unannounced.begin() + static_cast<std::ptrdiff_t>(i));
        stored[{d.appointment.locator, d.appointment.user_id}] = d.appointment;
        last_announced = d.dispute.txid();
        if (auto h = height_of(d.dispute.txid())) arrival_depth[d.dispute.txid()] = tip() + 1 - *h;
        return d.appointment;
    }

    void reorg(std::size_t depth) {
        for (std::size_t i = 0; i < depth && chain.size() > 1; ++i) {
            auto view = chain.back();
            chain.pop_back();
            run(BlockDisconnected{view, {tip(), chain.back()->hash}, {}});
            for (std::size_t t = 1; t < view->block->transactions.size(); ++t) to_mempool(view->block->transactions[t]);
        }
    }

    std::map<Txid, std::uint32_t> arrival_depth;  // blocks deep the dispute was when its appointment arrived
    Txid last_announced;
};

}  // namespace

TEST_CASE("watch core: property — no missed breach, no double or early resolution, over random chains") {
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
        CAPTURE(seed);
        SimulatedTower sim(seed);
        sim.mine(false);
        for (int step = 0; step < 120; ++step) {
            std::uint64_t r = sim.rng() % 100;
            if (r < 20) {
                Dispute d = make_dispute(sim.rng, static_cast<std::uint8_t>(1 + sim.rng() % 3));
                sim.disputes[d.dispute.txid()] = d;
                sim.unannounced.push_back(d);
                if (sim.rng() % 2) sim.to_mempool(d.dispute);  // the cheater broadcasts now (else later)
            } else if (r < 30 && !sim.unannounced.empty()) {
                auto a = sim.announce();
                sim.run(AppointmentStored{a, std::nullopt});
            } else if (r < 35) {
                sim.reorg(1 + sim.rng() % 3);
            } else if (r < 45) {
                for (auto& [txid, d] : sim.disputes) {
                    if (!sim.height_of(txid) && sim.rng() % 3 == 0) sim.to_mempool(d.dispute);
                }
            } else {
                sim.mine(r < 60);
            }
        }
        // Every dispute out, every appointment in, then a calm chain long enough to settle.
        for (auto& [txid, d] : sim.disputes) sim.to_mempool(d.dispute);
        while (!sim.unannounced.empty()) sim.run(AppointmentStored{sim.announce(), std::nullopt});
        for (int i = 0; i < 20; ++i) sim.mine(false);

        // The model: an appointment whose dispute is on the final chain, stored
        // while the dispute was at most recent_blocks deep, has been responded
        // to and, the chain being calm and long, resolved exactly once.
        std::size_t expected = 0;
        for (const auto& [txid, d] : sim.disputes) {
            if (!sim.height_of(txid)) continue;
            auto depth = sim.arrival_depth.find(txid);
            if (depth != sim.arrival_depth.end() && depth->second > SimulatedTower::recent_blocks) continue;
            ++expected;
            Key k{d.appointment.locator, d.appointment.user_id};
            std::uint32_t dispute_height = sim.height_of(txid).value_or(0);
            std::uint32_t penalty_height = sim.height_of(d.penalty.txid()).value_or(0);
            int arrival = depth != sim.arrival_depth.end() ? static_cast<int>(depth->second) : -1;
            CAPTURE(dispute_height);
            CAPTURE(penalty_height);
            CAPTURE(arrival);
            CHECK(sim.resolutions[k] == 1);
            CHECK_FALSE(sim.stored.count(k));
        }
        CHECK(expected > 0);
        CHECK(sim.core.trackers().empty());
    }
}

// The LND kinds (trigger: SHA256 hint of the txid, lnd blob/derivation.go;
// payload: encrypted justice kit). A blob that is not a kit sealed for the
// dispute is dropped with the opener's reason, which shows the match was by
// hint and went to the lnd opener.
namespace {
store::AppointmentRecord lnd_appointment(const Transaction& dispute, std::mt19937_64& rng) {
    store::AppointmentRecord a;
    a.user_id = test::test_user_id(9);
    a.user_id[0] = 0x12;  // a session account
    a.locator = lnd::breach_hint(dispute.txid());
    a.trigger = store::TriggerKind::txid_hint;
    a.payload = store::PayloadKind::encrypted_justice_kit;
    a.blob = Bytes(314, 0);
    for (auto& b : a.blob) b = static_cast<std::uint8_t>(rng());
    return a;
}
store::SessionRecord session_of(const store::AppointmentRecord& a) {
    return store::SessionRecord{a.user_id, 0x0002, 10, 0, 0, 2500, 1, 0, {}};
}
std::shared_ptr<const BlockView> view_without_hints(std::vector<Transaction> txs, std::uint32_t height) {
    auto block = std::make_shared<Block>();
    block->transactions = std::move(txs);
    Hash256 hash{};
    hash[0] = static_cast<std::uint8_t>(height);
    return make_block_view(std::move(block), hash, height, false);
}
}  // namespace

TEST_CASE("watch core: lnd appointments match by hint, and only by hint") {
    Fixture f;
    Transaction dispute = random_transaction(f.rng);
    store::AppointmentRecord a = lnd_appointment(dispute, f.rng);
    auto view = f.block({dispute});
    REQUIRE(view->hints.size() == view->txids.size());
    CHECK(view->hints[1] == lnd::breach_hint(dispute.txid()));
    auto drops = all_of<DropAppointment>(f.core.handle(BlockConnected{view, {{1, a, session_of(a)}}, {}, {}}));
    REQUIRE(drops.size() == 1);
    CHECK(drops[0].detail.rfind("the justice kit does not open", 0) == 0);
    CHECK(f.core.counters().invalid_appointments == 1);

    // An lnd appointment keyed by the teos locator of a transaction is not its breach.
    Transaction other = random_transaction(f.rng);
    store::AppointmentRecord wrong = lnd_appointment(other, f.rng);
    wrong.locator = teos::locator(other.txid());
    auto none = f.core.handle(BlockConnected{f.block({other}), {{1, wrong, session_of(wrong)}}, {}, {}});
    CHECK(all_of<DropAppointment>(none).empty());
    CHECK(all_of<Broadcast>(none).empty());

    // Its session deleted meanwhile: dropped, saying why.
    Transaction third = random_transaction(f.rng);
    store::AppointmentRecord orphan = lnd_appointment(third, f.rng);
    auto orphaned = all_of<DropAppointment>(f.core.handle(BlockConnected{f.block({third}), {{1, orphan, std::nullopt}}, {}, {}}));
    REQUIRE(orphaned.size() == 1);
    CHECK(orphaned[0].detail.find("session no longer exists") != std::string::npos);
}

TEST_CASE("watch core: an lnd appointment stored late is found in a block scanned before any session existed") {
    Fixture f;
    Transaction dispute = random_transaction(f.rng);
    // The follower made this view without hints (no session yet).
    auto view = view_without_hints({random_transaction(f.rng), dispute}, ++f.height);
    CHECK(view->hints.empty());
    (void)f.core.handle(BlockConnected{view, {}, {}, {}});
    store::AppointmentRecord a = lnd_appointment(dispute, f.rng);
    CHECK(f.core.in_window(a));
    auto drops = all_of<DropAppointment>(f.core.handle(AppointmentStored{a, session_of(a)}));
    REQUIRE(drops.size() == 1);
    CHECK(drops[0].key.locator == a.locator);
    // A teos appointment for the same txid is found there too.
    store::AppointmentRecord teos_kind = a;
    teos_kind.locator = teos::locator(dispute.txid());
    teos_kind.trigger = store::TriggerKind::txid_locator;
    teos_kind.payload = store::PayloadKind::encrypted_penalty;
    CHECK(f.core.in_window(teos_kind));
}

// Issue #14.6: a penalty the mempool refuses for its fee alone is kept and
// offered again every block (rust-teos drops it, as it still drops invalid ones).
namespace {
using Kind = chain::BroadcastResult::Kind;
std::vector<Action> report(Fixture& f, const Dispute& d, BroadcastPurpose purpose, Kind kind, int code = 0) {
    return f.core.handle(BroadcastReport{key(d), purpose, result(kind, code)});
}
}  // namespace

TEST_CASE("watch core: a penalty refused for its fee waits, is retried every block, and is followed once accepted") {
    Fixture f;
    Dispute d = make_dispute(f.rng);  // to_self_delay 144
    auto first = f.core.handle(connected(f.block({d.dispute}), {d}));  // height 101
    REQUIRE(all_of<Broadcast>(first).size() == 1);
    auto waiting = report(f, d, BroadcastPurpose::penalty, Kind::fee_too_low, -26);
    CHECK(all_of<DropAppointment>(waiting).empty());
    auto persisted = all_of<PersistTracker>(waiting);
    REQUIRE(persisted.size() == 1);
    CHECK(persisted[0].tracker.waiting_for_fee_until == 101 + 144);
    CHECK(f.core.waiting_for_fee() == 1);
    CHECK(f.core.counters().penalties_refused_for_fee == 1);
    CHECK(f.core.counters().penalties_broadcast == 0);

    // Next blocks: offered again; still too low changes nothing.
    for (int i = 0; i < 2; ++i) {
        auto retry = all_of<Broadcast>(f.core.handle(connected(f.block({}), {})));
        REQUIRE(retry.size() == 1);
        CHECK(retry[0].purpose == BroadcastPurpose::fee_retry);
        CHECK(retry[0].transaction.serialize() == d.penalty.serialize());
        CHECK(report(f, d, BroadcastPurpose::fee_retry, Kind::fee_too_low, -26).empty());
    }
    // Fees fell: accepted, followed from now as any tracker.
    REQUIRE(all_of<Broadcast>(f.core.handle(connected(f.block({}), {}))).size() == 1);  // 104
    auto accepted = all_of<PersistTracker>(report(f, d, BroadcastPurpose::fee_retry, Kind::accepted));
    REQUIRE(accepted.size() == 1);
    CHECK_FALSE(accepted[0].tracker.waiting_for_fee_until);
    CHECK(accepted[0].tracker.broadcast_height == 104);
    CHECK(f.core.waiting_for_fee() == 0);
    CHECK(f.core.counters().penalties_broadcast == 1);
    // No more retries; mined, confirmed.
    auto mined = f.core.handle(connected(f.block({d.penalty}), {}));
    CHECK(all_of<Broadcast>(mined).empty());
    REQUIRE(all_of<PersistTracker>(mined).size() == 1);
    CHECK(all_of<PersistTracker>(mined)[0].tracker.confirmed_height == 105);
}

TEST_CASE("watch core: a penalty waiting for fee is abandoned when the CSV window closes or it turns invalid") {
    SUBCASE("window") {
        Fixture f;
        Dispute d = make_dispute(f.rng);
        d.appointment.to_self_delay = 2;
        (void)f.core.handle(connected(f.block({d.dispute}), {d}));  // 101
        REQUIRE(all_of<PersistTracker>(report(f, d, BroadcastPurpose::penalty, Kind::fee_too_low, -26))[0]
                    .tracker.waiting_for_fee_until == 103);
        for (int h = 102; h <= 103; ++h) {
            REQUIRE(all_of<Broadcast>(f.core.handle(connected(f.block({}), {}))).size() == 1);
            (void)report(f, d, BroadcastPurpose::fee_retry, Kind::fee_too_low, -26);
        }
        auto closed = f.core.handle(connected(f.block({}), {}));  // 104: past the window
        CHECK(all_of<Broadcast>(closed).empty());
        auto abandoned = all_of<AbandonTracker>(closed);
        REQUIRE(abandoned.size() == 1);
        CHECK(abandoned[0].reason.find("CSV window closed") != std::string::npos);
        CHECK(f.core.trackers().empty());
        CHECK(f.core.counters().penalties_abandoned == 1);
    }
    SUBCASE("inputs spent") {
        Fixture f;
        Dispute d = make_dispute(f.rng);
        (void)f.core.handle(connected(f.block({d.dispute}), {d}));
        (void)report(f, d, BroadcastPurpose::penalty, Kind::fee_too_low, -26);
        (void)f.core.handle(connected(f.block({}), {}));
        auto abandoned = all_of<AbandonTracker>(report(f, d, BroadcastPurpose::fee_retry, Kind::rejected, -25));
        REQUIRE(abandoned.size() == 1);
        CHECK(abandoned[0].reason.find("(-25)") != std::string::npos);
        CHECK(f.core.waiting_for_fee() == 0);
    }
    SUBCASE("an invalid penalty is still dropped at once") {
        Fixture f;
        Dispute d = make_dispute(f.rng);
        (void)f.core.handle(connected(f.block({d.dispute}), {d}));
        auto dropped = report(f, d, BroadcastPurpose::penalty, Kind::rejected, -26);
        CHECK(all_of<DropAppointment>(dropped).size() == 1);
        CHECK(f.core.trackers().empty());
    }
    SUBCASE("the dispute reorged out while waiting: watched again") {
        Fixture f;
        Dispute d = make_dispute(f.rng);
        auto view = f.block({d.dispute});
        (void)f.core.handle(connected(view, {d}));
        (void)report(f, d, BroadcastPurpose::penalty, Kind::fee_too_low, -26);
        auto undone = all_of<UndoTracker>(f.core.handle(BlockDisconnected{view, {100, {}}, {}}));
        CHECK(undone.size() == 1);
        CHECK(f.core.waiting_for_fee() == 0);
    }
}

// A late event queued before its appointment's drop committed (the block scan
// found it too) must not respond again; an updated appointment is new.
TEST_CASE("watch core: an appointment dropped by a block scan is not answered again by its late event") {
    Fixture f;
    Dispute d = make_dispute(f.rng);
    d.appointment.blob[0] ^= 1;  // does not decrypt
    auto dropped = f.core.handle(connected(f.block({d.dispute}), {d}));
    REQUIRE(all_of<DropAppointment>(dropped).size() == 1);
    CHECK(f.core.handle(AppointmentStored{d.appointment, std::nullopt}).empty());
    CHECK(f.core.counters().invalid_appointments == 1);

    // Rejected by bitcoind: the same.
    Dispute r = make_dispute(f.rng);
    (void)f.core.handle(connected(f.block({r.dispute}), {r}));
    REQUIRE(all_of<DropAppointment>(report(f, r, BroadcastPurpose::penalty, Kind::rejected, -25)).size() == 1);
    CHECK(f.core.handle(AppointmentStored{r.appointment, std::nullopt}).empty());
    CHECK(f.core.counters().penalties_rejected == 1);

    // The user corrects the appointment: a new blob is answered.
    Dispute fixed = d;
    fixed.appointment.blob = teos::encrypt_penalty(d.penalty.serialize(), d.dispute.txid());
    CHECK(all_of<Broadcast>(f.core.handle(AppointmentStored{fixed.appointment, std::nullopt})).size() == 1);
}
