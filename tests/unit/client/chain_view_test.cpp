// The client's chain view (client/node/chain_view.h), a pure core: blocks in,
// records out. Closes are told apart by BOLT 3's commitment marks, checked on
// the signed commitment of BOLT 3 Appendix C (tests/vectors/bolt3_commitments.json).
#include <doctest/doctest.h>

#include "client/node/chain_view.h"
#include "common/commitment.h"
#include "tests/support/vectors.h"

using namespace argus;
using namespace argus::client;
using namespace argus::test;

namespace {

Transaction vector_commitment() {
    auto v = load_vectors("bolt3_commitments.json");
    return parse_transaction(hex_bytes(v["appendix_c"][0]["commit_tx"].get<std::string>())).value();
}

Transaction spend(const OutPoint& prevout, std::uint32_t lock_time, std::uint32_t sequence, std::int64_t value) {
    Transaction tx;
    tx.version = 2;
    tx.lock_time = lock_time;
    TxIn in;
    in.prevout = prevout;
    in.sequence = sequence;
    tx.inputs.push_back(in);
    tx.outputs.push_back({value, Bytes{0x00, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}});
    return tx;
}

OutPoint outpoint(std::uint8_t fill, std::uint32_t index = 0) {
    Txid txid;
    txid.bytes.fill(fill);
    return {txid, index};
}

struct Chain {
    std::vector<Block> blocks;
    Block& next(std::vector<Transaction> txs) {
        Block b;
        b.header.previous_block = blocks.empty() ? Hash256{} : blocks.back().header.hash();
        b.header.nonce = static_cast<std::uint32_t>(blocks.size() + 1);
        b.transactions = std::move(txs);
        blocks.push_back(std::move(b));
        return blocks.back();
    }
};

template <typename T>
std::vector<T> of_type(const std::vector<ChainAction>& actions) {
    std::vector<T> out;
    for (const auto& a : actions) {
        if (const auto* t = std::get_if<T>(&a)) out.push_back(*t);
    }
    return out;
}

}  // namespace

TEST_CASE("chain view: BOLT 3's commitment marks are on Appendix C's commitment and not on its HTLC transactions") {
    CHECK(bolt3::has_commitment_marks(vector_commitment()));
    auto v = load_vectors("bolt3_commitments.json");
    int htlc_txs = 0;
    for (const auto& h : v["appendix_c"][1]["htlc_txs"]) {
        auto tx = parse_transaction(hex_bytes(h["tx"].get<std::string>()));
        if (!tx) continue;
        ++htlc_txs;
        CHECK_FALSE(bolt3::has_commitment_marks(*tx));
    }
    CHECK(htlc_txs > 0);
    // Either mark alone is not enough.
    Transaction only_locktime = spend(outpoint(1), 0x20000001, 0xffffffff, 1000);
    Transaction only_sequence = spend(outpoint(1), 0, 0x80000001, 1000);
    CHECK_FALSE(bolt3::has_commitment_marks(only_locktime));
    CHECK_FALSE(bolt3::has_commitment_marks(only_sequence));
}

TEST_CASE("chain view: a breach, a unilateral and a cooperative close, the penalty's confirmations, and a reorg undoing them") {
    Transaction unilateral = vector_commitment();  // spends its funding outpoint with the marks
    const OutPoint breached_funding = outpoint(0xaa), unilateral_funding = unilateral.inputs[0].prevout,
                   mutual_funding = outpoint(0xcc, 1);
    Transaction revoked = spend(breached_funding, 0x20001234, 0x80005678, 90'000);
    Transaction penalty = spend({revoked.txid(), 0}, 0, 0xfffffffd, 89'000);
    Transaction mutual = spend(mutual_funding, 0, 0xffffffff, 50'000);
    Transaction unrelated = spend(outpoint(0x01), 0x20000000, 0x80000000, 10);  // marks, but watched by no one

    ChainView view;
    view.watch_funding("breached", breached_funding);
    view.watch_funding("unilateral", unilateral_funding);
    view.watch_funding("mutual", mutual_funding);
    view.add_revoked({"breached", 41, revoked.txid(), penalty.txid()});
    CHECK(view.watched_fundings() == 3);

    Chain chain;
    auto connect = [&](std::uint32_t height, std::vector<Transaction> txs) {
        return view.handle(ChainBlockConnected{height, &chain.next(std::move(txs))});
    };
    auto quiet = connect(100, {unrelated});
    CHECK(of_type<RecordClose>(quiet).empty());
    REQUIRE(of_type<SetChainTip>(quiet).size() == 1);
    CHECK(of_type<SetChainTip>(quiet)[0].tip.height == 100);

    auto closes = connect(101, {revoked, unilateral, mutual});
    auto recorded = of_type<RecordClose>(closes);
    REQUIRE(recorded.size() == 3);
    CHECK(recorded[0].close.channel_id == "breached");
    CHECK(recorded[0].close.type == CloseType::breach);
    CHECK(recorded[0].close.closing_txid == revoked.txid());
    CHECK(recorded[0].close.commitment_number == 41u);
    CHECK(recorded[0].close.penalty_txid == penalty.txid());
    CHECK(recorded[0].close.height == 101);
    CHECK(recorded[1].close.channel_id == "unilateral");
    CHECK(recorded[1].close.type == CloseType::unilateral);
    CHECK_FALSE(recorded[1].close.penalty_txid.has_value());
    CHECK(recorded[2].close.channel_id == "mutual");
    CHECK(recorded[2].close.type == CloseType::cooperative);
    CHECK(view.penalty_confirmations("breached", penalty.txid()) == 0);

    auto mined = connect(102, {penalty});
    auto confirmed = of_type<RecordPenaltyConfirmation>(mined);
    REQUIRE(confirmed.size() == 1);
    CHECK(confirmed[0].confirmation.channel_id == "breached");
    CHECK(confirmed[0].confirmation.height == 102);
    connect(103, {});
    CHECK(view.penalty_confirmations("breached", penalty.txid()) == 2);

    // Reorg: 103 and 102 go; the penalty is unconfirmed again, the close stays.
    auto gone_103 = view.handle(ChainBlockDisconnected{103, chain.blocks[3].header.hash(), chain.blocks[2].header.hash()});
    CHECK(of_type<ForgetPenaltyConfirmation>(gone_103).empty());
    REQUIRE(of_type<SetChainTip>(gone_103).size() == 1);
    CHECK(of_type<SetChainTip>(gone_103)[0].tip.hash == chain.blocks[2].header.hash());
    auto gone_102 = view.handle(ChainBlockDisconnected{102, chain.blocks[2].header.hash(), chain.blocks[1].header.hash()});
    REQUIRE(of_type<ForgetPenaltyConfirmation>(gone_102).size() == 1);
    CHECK(view.penalty_confirmations("breached", penalty.txid()) == 0);
    CHECK(view.closes().size() == 3);
    // 101 goes too: every close is forgotten, and a channel is open again.
    auto gone_101 = view.handle(ChainBlockDisconnected{101, chain.blocks[1].header.hash(), chain.blocks[0].header.hash()});
    CHECK(of_type<ForgetClose>(gone_101).size() == 3);
    CHECK(view.closes().empty());

    // The other branch: only the mutual close, mined again at 101.
    chain.blocks.resize(1);
    auto again = connect(101, {mutual});
    REQUIRE(of_type<RecordClose>(again).size() == 1);
    CHECK(of_type<RecordClose>(again)[0].close.channel_id == "mutual");
}

TEST_CASE("chain view: restored records are kept, a reported penalty is followed without a funding outpoint, a re-registered outpoint replaces the old one") {
    ChainView view;
    Txid reported;
    reported.bytes.fill(0x42);
    Transaction penalty = spend(outpoint(0x43), 0, 0xffffffff, 1);
    view.watch_penalty("plugin-channel", penalty.txid());
    view.watch_funding("moved", outpoint(0x50));
    view.watch_funding("moved", outpoint(0x51));
    CHECK(view.watched_fundings() == 1);
    Chain chain;
    Block& b = chain.next({penalty, spend(outpoint(0x50), 0, 0xffffffff, 5), spend(outpoint(0x51), 0, 0xffffffff, 5)});
    auto actions = view.handle(ChainBlockConnected{7, &b});
    auto closes = of_type<RecordClose>(actions);
    REQUIRE(closes.size() == 1);
    CHECK(closes[0].close.funding == outpoint(0x51));
    REQUIRE(of_type<RecordPenaltyConfirmation>(actions).size() == 1);
    CHECK(view.penalty_confirmations("plugin-channel", penalty.txid()) == 1);

    // A fresh view from the records: the same answers, and a block seen again adds nothing.
    ChainView restored;
    restored.watch_funding("moved", outpoint(0x51));
    restored.restore(view.tip(), {closes[0].close}, {of_type<RecordPenaltyConfirmation>(actions)[0].confirmation});
    CHECK(restored.penalty_confirmations("plugin-channel", penalty.txid()) == 1);
    CHECK(restored.closes().count("moved") == 1);
    auto replay = restored.handle(ChainBlockConnected{7, &b});
    CHECK(of_type<RecordClose>(replay).empty());
    CHECK(of_type<RecordPenaltyConfirmation>(replay).empty());
    CHECK(to_string(CloseType::unilateral) == std::string("unilateral"));
    CHECK(close_type_from_string("breach") == CloseType::breach);
    CHECK_FALSE(close_type_from_string("other").has_value());
}
