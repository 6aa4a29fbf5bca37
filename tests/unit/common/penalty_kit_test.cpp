// Argus penalty kits (common/penalty_kit.h): the codec, its size buckets and
// every refusal, BIP125 replacement rules and the fee ladder. Keys are BOLT 3
// Appendix C's (tests/unit/common/bolt3_appendix_c_fixture.h); signatures are
// made here over arbitrary digests (the codec does not check them: the tower
// does, against the spent transaction, tests/unit/client/penalty_kit_test.cpp).
#include <doctest/doctest.h>

#include "common/hash.h"
#include "common/hex.h"
#include "common/penalty_kit.h"
#include "common/script.h"
#include "tests/unit/common/bolt3_appendix_c_fixture.h"

using namespace argus;
using namespace argus::kit;
using namespace argus::test;

namespace {

EcdsaSignature some_signature(std::uint8_t n) {
    Hash256 digest{};
    digest.fill(n);
    return ecdsa_sign(vector_privkey(std::string(64, '3')), digest);
}

PenaltyKit sample_kit(bool anchors, std::size_t htlcs, std::size_t rungs) {
    auto spec = appendix_c_channel(anchors);
    PenaltyKit k;
    k.anchors = anchors;
    k.to_self_delay = 144;
    k.revocation_pubkey = spec.keys.revocation_pubkey.bytes();
    k.local_delayed_pubkey = spec.keys.local_delayed_pubkey.bytes();
    k.local_htlc_pubkey = spec.keys.local_htlc_pubkey.bytes();
    k.remote_htlc_pubkey = spec.keys.remote_htlc_pubkey.bytes();
    k.sweep_script = p2wpkh_script(spec.keys.remote_payment_pubkey);
    auto ladder = [&](Part& p) {
        for (std::size_t i = 0; i < rungs; ++i) {
            p.rungs.push_back({static_cast<std::uint32_t>(200 + 200 * i), some_signature(static_cast<std::uint8_t>(i))});
        }
    };
    Part to_local;
    to_local.kind = PartKind::to_local;
    to_local.vout = 0;
    to_local.amount = 6'988'000;
    ladder(to_local);
    k.parts.push_back(to_local);
    for (std::size_t h = 0; h < htlcs; ++h) {
        Part p;
        p.kind = h % 2 ? PartKind::offered_htlc : PartKind::received_htlc;
        p.vout = static_cast<std::uint16_t>(h + 1);
        p.amount = 100'000;
        p.payment_hash = spec.all_htlcs[h % spec.all_htlcs.size()].payment_hash;
        p.cltv_expiry = 500 + static_cast<std::uint32_t>(h);
        ladder(p);
        k.parts.push_back(p);
        if (!anchors) {
            Part s = p;
            s.kind = PartKind::second_stage;
            s.amount = 99'000;
            s.second_stage_txid.bytes = sha256(Bytes{static_cast<std::uint8_t>(h)});
            k.parts.push_back(s);
        }
    }
    return k;
}

Bytes encoded(const PenaltyKit& k) { return encode(k).value(); }

}  // namespace

TEST_CASE("penalty kit: encode then decode returns the same kit, padded to a power-of-two bucket from 1 KiB") {
    for (bool anchors : {false, true}) {
        for (std::size_t htlcs : {0u, 1u, 5u, 30u}) {
            CAPTURE(anchors);
            CAPTURE(htlcs);
            PenaltyKit k = sample_kit(anchors, htlcs, 8);
            Bytes plain = encoded(k);
            Bytes padded = pad_to_bucket(plain);
            CHECK(padded.size() >= plain.size());
            CHECK(padded.size() >= 1024);
            CHECK((padded.size() & (padded.size() - 1)) == 0);
            CHECK(padded.size() < 2 * std::max<std::size_t>(plain.size(), 1024));
            CHECK(is_kit(padded));
            auto back = decode(padded);
            REQUIRE(back);
            CHECK(*back == k);
            CHECK(decode(plain).value() == k);  // padding is optional
        }
    }
    // Size by hand: the header is 4 + 1 + 1 + 2 + 4 * 33 + 1 + 22 + 2 = 165 bytes;
    // a to_local part 1 + 2 + 8 + 1 + 68 per rung.
    PenaltyKit one = sample_kit(false, 0, 3);
    CHECK(encoded(one).size() == 165 + 12 + 3 * 68);
    CHECK(bucket_size(1024) == 1024);
    CHECK(bucket_size(1025) == 2048);
    CHECK(bucket_size(70'000) == 131'072);
}

TEST_CASE("penalty kit: a classic teos penalty transaction is not a kit") {
    Transaction tx;
    tx.inputs.push_back(TxIn{});
    tx.outputs.push_back(TxOut{1000, Bytes(22, 0)});
    CHECK_FALSE(is_kit(tx.serialize()));
    CHECK_FALSE(is_kit(Bytes{'A', 'R', 'K'}));
    CHECK_FALSE(decode(tx.serialize()));
}

TEST_CASE("penalty kit: the decoder refuses every malformed kit with a reason") {
    PenaltyKit good = sample_kit(false, 2, 4);
    Bytes plain = encoded(good);
    // Every truncation fails (and never reads past the end: ASan).
    for (std::size_t n = 0; n < plain.size(); ++n) {
        CAPTURE(n);
        CHECK_FALSE(decode(ByteSpan(plain.data(), n)));
    }
    auto refused = [](Bytes b, const std::string& reason) {
        CAPTURE(reason);
        auto r = decode(b);
        REQUIRE_FALSE(r);
        CHECK_MESSAGE(r.error().message.find(reason) != std::string::npos, r.error().message);
    };
    Bytes b = plain;
    b[4] = 2;
    refused(b, "unknown version 2");
    b = plain;
    b[5] = 2;
    refused(b, "unknown flags");
    b = plain;
    b[8] = 0x05;  // revocation key prefix
    refused(b, "not a valid compressed point");
    b = pad_to_bucket(plain);
    b.back() = 1;
    refused(b, "non-zero bytes after the last part");
    b = plain;
    b[6] = 0;
    b[7] = 0;
    refused(b, "to_self_delay is 0");

    auto refused_kit = [&](PenaltyKit k, const std::string& reason) {
        auto e = encode(k);
        REQUIRE_FALSE(e);
        CHECK_MESSAGE(e.error().message.find(reason) != std::string::npos, e.error().message);
    };
    PenaltyKit k = good;
    std::swap(k.parts[0].rungs[0], k.parts[0].rungs[1]);
    refused_kit(k, "do not strictly increase");
    k = good;
    k.parts[0].rungs.back().fee = static_cast<std::uint32_t>(k.parts[0].amount - 329);
    refused_kit(k, "leaves less than 330");
    k = good;
    k.parts.clear();
    refused_kit(k, "0 parts");
    k = good;
    k.parts.push_back(k.parts[0]);
    refused_kit(k, "two to_local parts");
    k = good;
    k.anchors = true;
    refused_kit(k, "anchor channel");
    k = good;
    k.parts.erase(k.parts.begin() + 1);  // the HTLC whose second stage follows
    refused_kit(k, "names no HTLC part");
    k = good;
    k.parts[0].rungs.assign(max_rungs + 1, k.parts[0].rungs[0]);
    for (std::size_t i = 0; i < k.parts[0].rungs.size(); ++i) k.parts[0].rungs[i].fee = static_cast<std::uint32_t>(300 + i);
    refused_kit(k, "33 rungs");
    k = good;
    k.sweep_script.clear();
    refused_kit(k, "sweep script of 0 bytes");

    // A decoded kit with a part kind beyond second_stage.
    b = plain;
    b[165] = 4;
    refused(b, "unknown part kind 4");
    // A signature whose r is not below the curve order is not a signature.
    b = plain;
    std::fill(b.begin() + 165 + 12 + 4, b.begin() + 165 + 12 + 4 + 32, 0xff);
    refused(b, "not a valid (r, s)");
}

TEST_CASE("penalty kit: BIP125 rules 3, 4 and 6 for a same-shaped replacement (bitcoind 0.21 validation.cpp)") {
    // Rule 4: the replacement pays for its own relay at the incremental rate (1 sat/vB).
    CHECK(check_replacement({1000, 150}, {1150, 150}));
    CHECK_FALSE(check_replacement({1000, 150}, {1149, 150}));
    // Rule 3: a higher absolute fee.
    CHECK_FALSE(check_replacement({1000, 150}, {1000, 150}));
    // Rule 6: a higher fee rate, even when the absolute fee grows (a bigger transaction).
    CHECK_FALSE(check_replacement({1000, 100}, {1400, 150}));
    CHECK(check_replacement({1000, 100}, {1651, 150}));
    // A higher incremental rate asks for more.
    CHECK_FALSE(check_replacement({1000, 150}, {1150, 150}, 2000));
    CHECK(check_replacement({1000, 150}, {1300, 150}, 2000));
}

TEST_CASE("penalty kit: the fee ladder climbs from the floor to the budget, each rung a valid replacement") {
    auto ladder = fee_ladder(1000, 100'000, 150, 16);
    REQUIRE(ladder.size() >= 2);
    CHECK(ladder.size() <= 16);
    CHECK(ladder.front() == 150);  // 1 sat/vB of 150 vB
    CHECK(ladder.back() == 100'000);
    for (std::size_t i = 1; i < ladder.size(); ++i) {
        CAPTURE(i);
        CHECK(check_replacement({ladder[i - 1], 150}, {ladder[i], 150}));
    }
    // Every rung is used: the first steps are the incremental relay fee
    // (150 -> 300), then what is left is spread geometrically over the
    // rungs left: 300 * (100000 / 300)^(1/14) = 454.3 -> 455.
    CHECK(ladder.size() == 16);
    CHECK(ladder[1] == 300);
    CHECK(ladder[2] == 455);
    for (std::size_t i = 4; i + 1 < ladder.size(); ++i) {
        double step = static_cast<double>(ladder[i + 1]) / ladder[i];
        double before = static_cast<double>(ladder[i]) / ladder[i - 1];
        CHECK(step == doctest::Approx(before).epsilon(0.01));
    }
    // A budget below the floor: no ladder. One rung: the budget itself.
    CHECK(fee_ladder(1000, 149, 150, 16).empty());
    CHECK(fee_ladder(1000, 5000, 150, 1) == std::vector<std::uint32_t>{5000});
    // A narrow range: steps are at least the incremental relay fee, so fewer rungs.
    auto narrow = fee_ladder(1000, 600, 150, 16);
    CHECK(narrow == std::vector<std::uint32_t>{150, 300, 450, 600});
    // The last step may not be too small for a replacement.
    auto tight = fee_ladder(1000, 520, 150, 16);
    CHECK(tight == std::vector<std::uint32_t>{150, 300, 520});
}
