// Channel monitoring in the decision core: a watched funding outpoint spent
// in a block is recorded as a close (breach / unilateral / cooperative) and
// undone when the block leaves the chain; the Electrum sweep opener; the
// funding-outpoint index and its memory per entry.
#include <doctest/doctest.h>

#include "common/teos_protocol.h"
#include "server/tower/outpoint_index.h"
#include "server/watch/chain_follower.h"
#include "server/watch/watch_core.h"
#include "tests/support/watch_chain.h"

using namespace argus;
using namespace argus::watch;
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

OutPoint outpoint_of(std::mt19937_64& rng) {
    OutPoint o;
    for (auto& b : o.txid.bytes) b = static_cast<std::uint8_t>(rng());
    o.index = static_cast<std::uint32_t>(rng() % 4);
    return o;
}

// A transaction spending `funding` shaped as BOLT 3 shapes a commitment:
// locktime 0x20 << 24 | obscured number, sequence 0x80 << 24 | obscured number.
Transaction commitment_spending(const OutPoint& funding) {
    Transaction tx;
    tx.version = 2;
    TxIn in;
    in.prevout = funding;
    in.sequence = 0x80000000u | 0x123456u;
    tx.inputs.push_back(in);
    tx.outputs.push_back({9'000'000, Bytes(34, 7)});
    tx.lock_time = 0x20000000u | 0x654321u;
    return tx;
}

// What the Electrum front door stores: funding outpoint, ctn, then the sweep.
store::AppointmentRecord electrum_sweep(const OutPoint& funding, const Transaction& commitment, std::uint8_t user = 0x21) {
    Transaction sweep = argus::test::spending(commitment, 8'990'000);
    store::AppointmentRecord a;
    a.user_id[0] = store::electrum_account_tag;
    a.user_id[1] = user;
    a.locator = teos::locator(commitment.txid());
    a.trigger = store::TriggerKind::txid_locator;
    a.payload = store::PayloadKind::plaintext_sweep;
    a.blob.assign(funding.txid.bytes.begin(), funding.txid.bytes.end());
    for (int i = 0; i < 4; ++i) a.blob.push_back(static_cast<std::uint8_t>(funding.index >> (8 * i)));
    for (int i = 0; i < 8; ++i) a.blob.push_back(i == 0 ? 7 : 0);  // ctn 7
    Bytes raw = sweep.serialize();
    a.blob.insert(a.blob.end(), raw.begin(), raw.end());
    return a;
}

}  // namespace

TEST_CASE("channels: a close is classified from the spending transaction (BOLT 3 commitment marks) and the tower's sweeps") {
    std::mt19937_64 rng{7};
    OutPoint funding = outpoint_of(rng);
    Transaction commitment = commitment_spending(funding);
    CHECK(classify_close(commitment, true) == store::CloseType::breach);
    CHECK(classify_close(commitment, false) == store::CloseType::unilateral);
    Transaction mutual = commitment;
    mutual.lock_time = 0;
    mutual.inputs[0].sequence = 0xffffffff;
    CHECK(classify_close(mutual, false) == store::CloseType::cooperative);
    Transaction marks_on_locktime_only = commitment;
    marks_on_locktime_only.inputs[0].sequence = 0xfffffffe;
    CHECK(classify_close(marks_on_locktime_only, false) == store::CloseType::cooperative);
}

TEST_CASE("channels: the sweep opener sends the stored sweep only for the transaction it spends") {
    std::mt19937_64 rng{8};
    OutPoint funding = outpoint_of(rng);
    Transaction commitment = commitment_spending(funding);
    auto a = electrum_sweep(funding, commitment);
    auto opened = open_payload(a, commitment);
    REQUIRE(opened.kind == OpenedPayload::Kind::penalty);
    CHECK(opened.penalty->inputs[0].prevout.txid == commitment.txid());
    auto other = open_payload(a, random_transaction(rng));  // a 16-byte locator collision
    CHECK(other.kind == OpenedPayload::Kind::invalid);
    CHECK(other.reason.find("spends nothing") != std::string::npos);
    store::AppointmentRecord truncated = a;
    truncated.blob.resize(44);
    CHECK(open_payload(truncated, commitment).kind == OpenedPayload::Kind::invalid);
}

TEST_CASE("channels: funding spends in a block become close records, a breach is also swept, a disconnect undoes them") {
    std::mt19937_64 rng{9};
    WatchCore core{CoreOptions{}, {100, {}}};
    OutPoint breached = outpoint_of(rng), unilateral = outpoint_of(rng), cooperative = outpoint_of(rng);
    Transaction revoked = commitment_spending(breached), current = commitment_spending(unilateral);
    Transaction mutual = random_transaction(rng);
    mutual.inputs[0].prevout = cooperative;
    mutual.inputs[0].sequence = 0xffffffff;
    mutual.lock_time = 0;
    auto view = make_view({random_transaction(rng), revoked, current, mutual}, 101, rng);
    auto sweep = electrum_sweep(breached, revoked);
    BlockConnected e{view, {{1, sweep, std::nullopt}}, {{1, breached}, {2, unilateral}, {3, cooperative}}, {}};
    auto actions = core.handle(e);
    auto closes = all_of<RecordChannelClose>(actions);
    REQUIRE(closes.size() == 3);
    CHECK(closes[0].close.type == store::CloseType::breach);
    CHECK(closes[0].close.funding_txid == breached.txid);
    CHECK(closes[0].close.funding_vout == breached.index);
    CHECK(closes[0].close.closing_txid == revoked.txid());
    CHECK(closes[0].close.height == 101);
    REQUIRE(closes[0].close.penalty_txid);
    CHECK(*closes[0].close.penalty_txid == argus::test::spending(revoked, 8'990'000).txid());
    CHECK_FALSE(closes[1].close.penalty_txid);
    CHECK(closes[1].close.type == store::CloseType::unilateral);
    CHECK(closes[2].close.type == store::CloseType::cooperative);
    auto broadcasts = all_of<Broadcast>(actions);
    REQUIRE(broadcasts.size() == 1);  // the breach's stored sweep
    CHECK(broadcasts[0].transaction.inputs[0].prevout.txid == revoked.txid());
    CHECK(core.counters().channels_closed_breach == 1);
    CHECK(core.counters().channels_closed_unilateral == 1);
    CHECK(core.counters().channels_closed_cooperative == 1);

    // A sweep of another channel spending the same transaction is no proof of
    // a breach of this one.
    WatchCore other{CoreOptions{}, {100, {}}};
    auto foreign = electrum_sweep(outpoint_of(rng), revoked);
    auto foreign_closes = all_of<RecordChannelClose>(other.handle(BlockConnected{view, {{1, foreign, std::nullopt}}, {{1, breached}}, {}}));
    REQUIRE(foreign_closes.size() == 1);
    CHECK(foreign_closes[0].close.type == store::CloseType::unilateral);

    auto undone = all_of<UndoChannelClose>(
        core.handle(BlockDisconnected{view, {100, {}}, {{1, breached}, {2, unilateral}, {3, cooperative}}}));
    REQUIRE(undone.size() == 3);
    CHECK(undone[0].funding_txid == breached.txid);
    CHECK(undone[2].funding_vout == cooperative.index);
}

TEST_CASE("channels: the follower finds every input of a block that spends a watched funding outpoint") {
    std::mt19937_64 rng{10};
    tower::OutpointIndex watched;
    OutPoint a = outpoint_of(rng), b = outpoint_of(rng);
    auto view = make_view({random_transaction(rng), commitment_spending(a), random_transaction(rng)}, 5, rng);
    CHECK(funding_spends(*view, watched).empty());
    watched.insert(a);
    watched.insert(b);
    auto spends = funding_spends(*view, watched);
    REQUIRE(spends.size() == 1);
    CHECK(spends[0].transaction_index == 1);
    CHECK(spends[0].funding == a);
}

TEST_CASE("channels: the funding-outpoint index holds a million outpoints at its documented cost per entry") {
    std::mt19937_64 rng{11};
    tower::OutpointIndex index;
    std::vector<OutPoint> inserted;
    for (int i = 0; i < 1'000'000; ++i) {
        OutPoint o = outpoint_of(rng);
        index.insert(o);
        if (i % 1000 == 0) inserted.push_back(o);
    }
    index.insert(inserted[0]);  // a second insert of the same outpoint is a no-op
    CHECK(index.size() == 1'000'000);
    for (const auto& o : inserted) CHECK(index.contains(o));
    std::size_t misses = 0;
    for (int i = 0; i < 10'000; ++i) misses += index.contains(outpoint_of(rng)) ? 0 : 1;
    CHECK(misses == 10'000);
    OutPoint near = inserted[1];
    near.index ^= 1;  // same txid, another output
    CHECK_FALSE(index.contains(near));
    double per_entry = static_cast<double>(index.memory_bytes()) / static_cast<double>(index.size());
    MESSAGE("outpoint index: ", index.memory_bytes(), " bytes for ", index.size(), " outpoints = ", per_entry, " B/entry");
    CHECK(per_entry >= 74.0);   // at most half full, 37-byte slots
    CHECK(per_entry <= 148.0);
}
