// The chain simulator's fee market (tests/chain_simulator/simulated_chain.h):
// mempool minimum, block minimum, BIP125 replacement with its descendants,
// as bitcoind 0.21 does them. Fees here are chosen by hand against each
// transaction's vsize.
#include <doctest/doctest.h>

#include "tests/chain_simulator/simulated_chain.h"

using namespace argus;
using namespace argus::sim;

namespace {

const Bytes payout = [] {
    Bytes s{0x00, 0x14};
    s.resize(22, 0x11);
    return s;
}();

// A one-input, one-output transaction spending `prevout` (worth `value`) and paying `fee`.
Transaction spend(const OutPoint& prevout, std::int64_t value, std::int64_t fee, std::uint32_t sequence = 0xfffffffd,
                  std::uint8_t tag = 0) {
    Transaction tx;
    TxIn in;
    in.prevout = prevout;
    in.sequence = sequence;
    in.witness = {Bytes(72, tag), Bytes(33, 2)};
    tx.inputs.push_back(in);
    Bytes script = payout;
    script[2] = tag;
    tx.outputs.push_back({value - fee, script});
    return tx;
}

std::int64_t vsize(const Transaction& tx) { return static_cast<std::int64_t>((tx.weight() + 3) / 4); }

struct Funded {
    SimulatedChain chain;
    OutPoint coin;
    std::int64_t value = 0;
    Funded() {
        chain.mine(1, payout);
        const Transaction& coinbase = chain.tip().transactions.at(0);
        coin = {coinbase.txid(), 0};
        value = coinbase.outputs[0].value;
    }
};

}  // namespace

TEST_CASE("chain simulator: the mempool minimum refuses cheaper transactions (-26 mempool min fee not met)") {
    Funded f;
    f.chain.set_min_fee_rate(10'000);  // 10 sat/vB
    Transaction cheap = spend(f.coin, f.value, 100);
    REQUIRE(vsize(cheap) < 200);  // 100 sat is below 10 sat/vB
    auto r = f.chain.accept(cheap);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == -26);
    CHECK(r.error().message.find("mempool min fee not met") == 0);
    CHECK(f.chain.accept(spend(f.coin, f.value, 10 * vsize(cheap))));
}

TEST_CASE("chain simulator: miners leave transactions below the block minimum, and their children, in the mempool") {
    Funded f;
    f.chain.set_block_min_fee_rate(50'000);  // 50 sat/vB
    Transaction low = spend(f.coin, f.value, 2'000);             // ~18 sat/vB
    Transaction child = spend({low.txid(), 0}, f.value - 2'000, 8'000, 0xfffffffd, 1);  // ~70 sat/vB, but its parent is not mined
    REQUIRE(f.chain.accept(low));
    REQUIRE(f.chain.accept(child));
    std::uint32_t before = f.chain.height();
    f.chain.mine(1, payout);
    CHECK(f.chain.height() == before + 1);
    CHECK(f.chain.in_mempool(low.txid()));
    CHECK(f.chain.in_mempool(child.txid()));
    CHECK(f.chain.mempool_fee(low.txid()) == 2'000);
    // A replacement paying for both and its own relay (~110 sat/vB) is mined;
    // the child left with its parent.
    Transaction high = spend(f.coin, f.value, 12'000, 0xfffffffd, 2);
    REQUIRE(12'000 >= 2'000 + 8'000 + vsize(high));
    REQUIRE(f.chain.accept(high));
    CHECK_FALSE(f.chain.in_mempool(low.txid()));
    CHECK_FALSE(f.chain.in_mempool(child.txid()));
    f.chain.mine(1, payout);
    CHECK(f.chain.confirmation_height(high.txid()) == before + 2);
    CHECK(f.chain.mempool().empty());
}

TEST_CASE("chain simulator: BIP125 replacement rules of bitcoind 0.21") {
    Funded f;
    Transaction first = spend(f.coin, f.value, 1'000);
    REQUIRE(f.chain.accept(first));
    std::int64_t size = vsize(first);
    auto refused = [&](const Transaction& tx, const std::string& text) {
        auto r = f.chain.accept(tx);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == -26);
        CHECK_MESSAGE(r.error().message.find(text) != std::string::npos, r.error().message);
    };
    // A lower or equal fee rate.
    refused(spend(f.coin, f.value, 1'000, 0xfffffffd, 3), "new feerate <= old feerate");
    // A higher rate, but not by the replacement's own size at 1 sat/vB (rule 4).
    refused(spend(f.coin, f.value, 1'000 + size - 1, 0xfffffffd, 3), "not enough additional fees to relay");
    // Exactly enough: replaced.
    Transaction second = spend(f.coin, f.value, 1'000 + size, 0xfffffffd, 3);
    REQUIRE(f.chain.accept(second));
    CHECK_FALSE(f.chain.in_mempool(first.txid()));
    CHECK(f.chain.in_mempool(second.txid()));
    // A transaction that does not signal cannot be replaced.
    Funded g;
    Transaction final_tx = spend(g.coin, g.value, 1'000, 0xffffffff);
    REQUIRE(g.chain.accept(final_tx));
    auto r = g.chain.accept(spend(g.coin, g.value, 50'000, 0xfffffffd, 4));
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "txn-mempool-conflict");
    // Rule 3 counts descendants: replacing a parent must pay for its child too.
    Funded h;
    Transaction parent = spend(h.coin, h.value, 1'000);
    Transaction kid = spend({parent.txid(), 0}, h.value - 1'000, 30'000, 0xfffffffd, 5);
    REQUIRE(h.chain.accept(parent));
    REQUIRE(h.chain.accept(kid));
    auto cheap = h.chain.accept(spend(h.coin, h.value, 20'000, 0xfffffffd, 6));
    REQUIRE_FALSE(cheap);
    CHECK(cheap.error().message.find("less fees than conflicting txs") != std::string::npos);
    CHECK(h.chain.accept(spend(h.coin, h.value, 31'000 + size, 0xfffffffd, 6)));
    CHECK(h.chain.mempool().size() == 1);
}

TEST_CASE("chain simulator: a spend of a confirmed-spent output is missing inputs (-25)") {
    Funded f;
    REQUIRE(f.chain.accept(spend(f.coin, f.value, 1'000)));
    f.chain.mine(1, payout);
    auto r = f.chain.accept(spend(f.coin, f.value, 5'000, 0xfffffffd, 7));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == -25);
}
