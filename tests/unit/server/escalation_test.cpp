// Fee escalation of one penalty-kit part (server/watch/escalation.h): the
// rung chosen from the deadline, the mempool minimum, bitcoind's estimate and
// the rung already in the mempool. Ladders here are written out by hand.
#include <doctest/doctest.h>

#include "server/watch/escalation.h"

using namespace argus::watch;

namespace {
// 150-vbyte penalties at 1, 2, 4, ... 256 sat/vB: fee rates 1000 .. 256000 sat/kvB.
PartSchedule ladder_of_nine(std::uint32_t start, std::uint32_t deadline) {
    PartSchedule p;
    for (int i = 0; i < 9; ++i) p.rungs.push_back({150LL << i, 150});
    p.start_height = start;
    p.deadline_height = deadline;
    return p;
}
}  // namespace

TEST_CASE("escalation: blocks left before the deadline and the urgent tail of the window") {
    CHECK(blocks_left(244, 100) == 143);  // mined at 101..243
    CHECK(blocks_left(102, 100) == 1);
    CHECK(blocks_left(101, 100) == 0);
    CHECK(blocks_left(50, 100) == 0);
    CHECK(urgent_blocks(144) == 18);
    CHECK(urgent_blocks(6) == 1);
    CHECK(urgent_blocks(0) == 1);
}

TEST_CASE("escalation: without an estimate the schedule climbs the whole ladder and reaches the top before the deadline") {
    // to_local of a commitment mined at 100 with to_self_delay 144.
    PartSchedule part = ladder_of_nine(100, 244);
    std::optional<std::size_t> reached_top_at;
    std::size_t previous = 0;
    for (std::uint32_t tip = 100; tip < 244; ++tip) {
        CAPTURE(tip);
        EscalationDecision d = decide_rung(part, {tip, std::nullopt, 0});
        CHECK(d.rung >= previous);  // never down
        CHECK(d.rung <= 8);
        if (tip == 100) {
            CHECK(d.rung == 0);  // the breach block: the cheapest rung
            CHECK(d.replace);
        }
        if (d.at_top && !reached_top_at) reached_top_at = tip;
        CHECK(d.past_deadline == (tip >= 243));
        part.current = d.rung;  // accepted
        previous = d.rung;
    }
    // The top rung from the first urgent block: 18 blocks left (tip 225).
    REQUIRE(reached_top_at);
    CHECK(*reached_top_at == 225);
    // Halfway through the non-urgent span (126 blocks): rung 4 of 8.
    part.current.reset();
    CHECK(decide_rung(part, {163, std::nullopt, 0}).rung == 4);
}

TEST_CASE("escalation: the estimate and the mempool minimum pick the lowest rung that meets them") {
    PartSchedule part = ladder_of_nine(100, 244);
    // 5 sat/vB estimated: rung 3 (8 sat/vB) is the lowest at or above it.
    EscalationDecision d = decide_rung(part, {100, 5000, 1000});
    CHECK(d.rung == 3);
    CHECK(d.why == EscalationDecision::Why::estimate);
    // Exactly a rung's rate: that rung.
    CHECK(decide_rung(part, {100, 4000, 1000}).rung == 2);
    // A mempool minimum above the estimate wins.
    d = decide_rung(part, {100, 2000, 30'000});
    CHECK(d.rung == 5);
    CHECK(d.why == EscalationDecision::Why::floor);
    // Above the budget: the top rung, never more.
    d = decide_rung(part, {100, 900'000, 1000});
    CHECK(d.rung == 8);
    CHECK(d.at_top);
    CHECK_FALSE(d.past_deadline);
}

TEST_CASE("escalation: a rung in the mempool is kept when nothing asks for more, and never lowered") {
    PartSchedule part = ladder_of_nine(100, 244);
    part.current = 3;
    EscalationDecision d = decide_rung(part, {101, 1000, 1000});  // the fee market calmed down
    CHECK(d.rung == 3);
    CHECK_FALSE(d.replace);
    CHECK(d.why == EscalationDecision::Why::current);
    d = decide_rung(part, {101, 20'000, 1000});  // it spiked: replace with rung 5 (32 sat/vB)
    CHECK(d.rung == 5);
    CHECK(d.replace);
}

TEST_CASE("escalation: past the deadline the top rung is still sent, flagged for the operator") {
    // An HTLC whose cltv_expiry (the deadline) is already reached at the breach.
    PartSchedule part = ladder_of_nine(100, 100);
    EscalationDecision d = decide_rung(part, {100, std::nullopt, 0});
    CHECK(d.past_deadline);
    CHECK(d.rung == 8);
    CHECK(d.why == EscalationDecision::Why::past_deadline);
    // One block left is urgent.
    part = ladder_of_nine(100, 102);
    d = decide_rung(part, {100, std::nullopt, 0});
    CHECK_FALSE(d.past_deadline);
    CHECK(d.rung == 8);
    CHECK(d.why == EscalationDecision::Why::urgent);
}

TEST_CASE("escalation: a refusal for the fee moves one rung up until the top") {
    PartSchedule part = ladder_of_nine(100, 244);
    CHECK(next_rung_after_refusal(part, 0) == 1);
    CHECK(next_rung_after_refusal(part, 7) == 8);
    CHECK_FALSE(next_rung_after_refusal(part, 8));
}
