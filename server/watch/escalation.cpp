#include "server/watch/escalation.h"

#include <algorithm>

namespace argus::watch {

const char* to_string(EscalationDecision::Why why) {
    switch (why) {
        case EscalationDecision::Why::floor: return "floor";
        case EscalationDecision::Why::estimate: return "estimate";
        case EscalationDecision::Why::schedule: return "schedule";
        case EscalationDecision::Why::urgent: return "urgent";
        case EscalationDecision::Why::current: return "current";
        case EscalationDecision::Why::past_deadline: return "past_deadline";
    }
    return "unknown";
}

std::uint32_t blocks_left(std::uint32_t deadline_height, std::uint32_t tip) {
    return deadline_height > tip + 1 ? deadline_height - tip - 1 : 0;
}

std::uint32_t urgent_blocks(std::uint32_t window) { return std::max<std::uint32_t>(1, window / 8); }

namespace {
// The lowest rung paying at least `feerate`, else the top one.
std::size_t lowest_meeting(const std::vector<RungFee>& rungs, std::int64_t feerate) {
    for (std::size_t i = 0; i < rungs.size(); ++i) {
        if (rungs[i].feerate_per_kvb() >= feerate) return i;
    }
    return rungs.size() - 1;
}
}  // namespace

EscalationDecision decide_rung(const PartSchedule& part, const FeeMarket& market) {
    EscalationDecision d;
    if (part.rungs.empty()) return d;
    const std::size_t top = part.rungs.size() - 1;
    auto raise = [&](std::size_t rung, EscalationDecision::Why why) {
        if (rung > d.rung) {
            d.rung = rung;
            d.why = why;
        }
    };
    d.rung = lowest_meeting(part.rungs, market.mempool_min_feerate);
    d.why = EscalationDecision::Why::floor;
    std::uint32_t left = blocks_left(part.deadline_height, market.tip_height);
    if (left == 0) {
        d.past_deadline = true;
        d.rung = top;
        d.why = EscalationDecision::Why::past_deadline;
    } else {
        if (market.estimate_feerate) raise(lowest_meeting(part.rungs, *market.estimate_feerate), EscalationDecision::Why::estimate);
        std::uint32_t window = part.deadline_height > part.start_height ? part.deadline_height - part.start_height : 1;
        std::uint32_t urgent = urgent_blocks(window);
        if (left <= urgent) {
            raise(top, EscalationDecision::Why::urgent);
        } else {
            // Linear over the window before the urgent blocks.
            std::uint32_t used = market.tip_height >= part.start_height ? market.tip_height - part.start_height : 0;
            std::uint32_t span = window > urgent ? window - urgent : 1;
            std::size_t scheduled = static_cast<std::size_t>(static_cast<std::uint64_t>(top) * used / span);
            raise(std::min(scheduled, top), EscalationDecision::Why::schedule);
        }
    }
    if (part.current && *part.current >= d.rung) {
        d.rung = *part.current;
        d.why = EscalationDecision::Why::current;
    }
    d.replace = !part.current || d.rung > *part.current;
    d.at_top = d.rung == top;
    return d;
}

std::optional<std::size_t> next_rung_after_refusal(const PartSchedule& part, std::size_t refused) {
    if (refused + 1 >= part.rungs.size()) return std::nullopt;
    return refused + 1;
}

}  // namespace argus::watch
