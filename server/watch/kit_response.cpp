#include "server/watch/kit_response.h"

#include <algorithm>

#include "common/byte_reader.h"

namespace argus::watch {

const char* to_string(PartStatus status) {
    switch (status) {
        case PartStatus::waiting: return "waiting";
        case PartStatus::live: return "live";
        case PartStatus::confirmed: return "confirmed";
        case PartStatus::lost: return "lost";
        case PartStatus::invalid: return "invalid";
        case PartStatus::moot: return "moot";
    }
    return "unknown";
}

namespace {
constexpr std::uint8_t state_version = 1;
constexpr std::uint8_t no_rung = 0xff;

bool settled(PartStatus s) { return s != PartStatus::waiting && s != PartStatus::live; }
}  // namespace

KitResponse KitResponse::start(kit::PenaltyKit kit, const Transaction& dispute, std::uint32_t height) {
    KitResponse r;
    r.kit_ = std::move(kit);
    r.commitment_txid_ = dispute.txid();
    for (const kit::Part& part : r.kit_.parts) {
        PartState s;
        s.start_height = height;
        if (part.kind == kit::PartKind::second_stage) {
            s.status = PartStatus::waiting;
        } else {
            s.status = kit::verify_part(r.kit_, part, dispute, r.commitment_txid_) ? PartStatus::live : PartStatus::invalid;
        }
        r.parts_.push_back(s);
    }
    // A second stage of an HTLC part that does not match has nothing to follow.
    for (std::size_t j = 0; j < r.parts_.size(); ++j) {
        if (r.kit_.parts[j].kind != kit::PartKind::second_stage) continue;
        for (std::size_t i = 0; i < r.parts_.size(); ++i) {
            if (r.kit_.parts[i].kind != kit::PartKind::second_stage && r.kit_.parts[i].vout == r.kit_.parts[j].vout &&
                r.parts_[i].status == PartStatus::invalid) {
                r.parts_[j].status = PartStatus::moot;
            }
        }
    }
    return r;
}

Bytes KitResponse::encode() const {
    ByteWriter w;
    w.write_u8(state_version);
    w.write_bytes(commitment_txid_.bytes);
    Bytes kit_bytes = kit::encode(kit_).value();  // a decoded kit always encodes
    w.write_var_bytes(kit_bytes);
    for (const PartState& s : parts_) {
        w.write_u8(static_cast<std::uint8_t>(s.status));
        w.write_u32_le(s.start_height);
        w.write_u8(s.rung ? *s.rung : no_rung);
        w.write_u32_le(s.settled_height);
        w.write_bytes(s.spender.bytes);
        w.write_u8(s.past_deadline ? 1 : 0);
    }
    return std::move(w).take();
}

Result<KitResponse> KitResponse::decode(ByteSpan state) {
    ByteReader r(state);
    if (r.read_u8() != state_version || !r.ok()) return make_error(ErrorCode::malformed, "kit response: unknown version");
    KitResponse out;
    out.commitment_txid_.bytes = r.read_array<32>();
    Bytes kit_bytes = r.read_var_bytes(1 << 24);
    if (!r.ok()) return make_error(ErrorCode::malformed, "kit response: truncated");
    auto kit = kit::decode(kit_bytes);
    if (!kit) return kit.error();
    out.kit_ = std::move(*kit);
    for (std::size_t i = 0; i < out.kit_.parts.size(); ++i) {
        PartState s;
        std::uint8_t status = r.read_u8();
        if (r.ok() && status > static_cast<std::uint8_t>(PartStatus::moot)) {
            return make_error(ErrorCode::malformed, "kit response: unknown part status");
        }
        s.status = static_cast<PartStatus>(status);
        s.start_height = r.read_u32_le();
        std::uint8_t rung = r.read_u8();
        if (rung != no_rung) {
            if (rung >= out.kit_.parts[i].rungs.size()) return make_error(ErrorCode::malformed, "kit response: rung");
            s.rung = rung;
        }
        s.settled_height = r.read_u32_le();
        s.spender.bytes = r.read_array<32>();
        s.past_deadline = r.read_u8() != 0;
        out.parts_.push_back(s);
    }
    r.expect_end("kit response");
    if (!r.ok()) return make_error(ErrorCode::malformed, "kit response: " + r.error().message);
    return out;
}

std::uint32_t KitResponse::deadline(std::size_t part) const {
    return kit::deadline_height(kit_, kit_.parts[part], parts_[part].start_height);
}

PartSchedule KitResponse::schedule(std::size_t i) const {
    const kit::Part& part = kit_.parts[i];
    PartSchedule p;
    for (std::size_t r = 0; r < part.rungs.size(); ++r) {
        Transaction tx = kit::signed_penalty(kit_, part, commitment_txid_, r);
        p.rungs.push_back({part.rungs[r].fee, static_cast<std::int64_t>((tx.weight() + 3) / 4)});
    }
    p.start_height = parts_[i].start_height;
    p.deadline_height = deadline(i);
    if (parts_[i].rung) p.current = *parts_[i].rung;
    return p;
}

std::optional<std::size_t> KitResponse::rung_of(std::size_t i, const Txid& txid) const {
    const kit::Part& part = kit_.parts[i];
    for (std::size_t r = 0; r < part.rungs.size(); ++r) {
        // The witness is not in the txid: the unsigned form names the rung.
        if (kit::unsigned_penalty(kit_, part, commitment_txid_, part.rungs[r].fee).txid() == txid) return r;
    }
    return std::nullopt;
}

void KitResponse::decide_part(std::size_t i, std::uint32_t tip, const FeeSnapshot& fees, KitStep& step) {
    PartState& s = parts_[i];
    if (s.status != PartStatus::live) return;
    PartSchedule sched = schedule(i);
    FeeMarket market{tip, fees.estimate_for(blocks_left(sched.deadline_height, tip)), fees.mempool_min_feerate};
    EscalationDecision d = decide_rung(sched, market);
    if (d.past_deadline && !s.past_deadline) {
        s.past_deadline = true;
        step.changed = true;
        ++step.parts_past_deadline;
    }
    // Sent every block: a replacement when higher, else the same rung again
    // (bitcoind answers "already in the mempool"; one evicted comes back).
    step.broadcasts.push_back({i, d.rung, kit::signed_penalty(kit_, kit_.parts[i], commitment_txid_, d.rung)});
}

KitStep KitResponse::decide(std::uint32_t tip, const FeeSnapshot& fees) {
    KitStep step;
    for (std::size_t i = 0; i < parts_.size(); ++i) decide_part(i, tip, fees, step);
    return step;
}

KitStep KitResponse::on_block(const Block& block, std::uint32_t height, const FeeSnapshot& fees) {
    KitStep step;
    // The outpoints of live parts, and of HTLC outputs whose second stage waits.
    for (const Transaction& tx : block.transactions) {
        Txid txid;
        bool txid_known = false;
        for (const TxIn& in : tx.inputs) {
            for (std::size_t i = 0; i < parts_.size(); ++i) {
                PartState& s = parts_[i];
                if (s.status != PartStatus::live) continue;
                const kit::Part& part = kit_.parts[i];
                if (in.prevout != kit::spent_outpoint(part, commitment_txid_)) continue;
                if (!txid_known) {
                    txid = tx.txid();
                    txid_known = true;
                }
                s.settled_height = height;
                step.changed = true;
                if (auto mined = rung_of(i, txid)) {
                    s.status = PartStatus::confirmed;
                    s.rung = static_cast<std::uint8_t>(*mined);
                    ++step.parts_confirmed;
                    step.confirmed_rung_sum += *mined;
                    std::uint32_t deadline = kit::deadline_height(kit_, part, s.start_height);
                    step.confirmed_margin_sum += deadline > height ? deadline - height : 0;
                } else {
                    s.status = PartStatus::lost;
                    s.spender = txid;
                    ++step.parts_lost;
                }
                if (part.kind == kit::PartKind::second_stage) continue;
                // The HTLC's second stage: live if the cheater published the
                // transaction it sweeps, else nothing to do.
                for (std::size_t j = 0; j < parts_.size(); ++j) {
                    const kit::Part& second = kit_.parts[j];
                    if (second.kind != kit::PartKind::second_stage || second.vout != part.vout ||
                        parts_[j].status != PartStatus::waiting) {
                        continue;
                    }
                    if (s.status == PartStatus::lost && txid == second.second_stage_txid) {
                        bool valid = static_cast<bool>(kit::verify_part(kit_, second, tx, commitment_txid_));
                        parts_[j].status = valid ? PartStatus::live : PartStatus::invalid;
                        parts_[j].start_height = height;
                        if (valid) ++step.second_stages_started;
                    } else {
                        parts_[j].status = PartStatus::moot;
                        parts_[j].start_height = height;
                    }
                }
            }
        }
    }
    for (std::size_t i = 0; i < parts_.size(); ++i) decide_part(i, height, fees, step);
    return step;
}

bool KitResponse::on_disconnected(std::uint32_t height) {
    bool changed = false;
    for (std::size_t i = 0; i < parts_.size(); ++i) {
        PartState& s = parts_[i];
        const kit::Part& part = kit_.parts[i];
        if (part.kind == kit::PartKind::second_stage && s.status != PartStatus::waiting && s.start_height >= height) {
            // The transaction it sweeps (or its HTLC's other fate) left the chain.
            s = PartState{};
            s.status = PartStatus::waiting;
            changed = true;
            continue;
        }
        if ((s.status == PartStatus::confirmed || s.status == PartStatus::lost) && s.settled_height >= height) {
            s.status = PartStatus::live;
            s.settled_height = 0;
            s.spender = Txid{};
            changed = true;
        }
    }
    return changed;
}

KitStep KitResponse::on_report(std::size_t i, std::size_t rung, const chain::BroadcastResult& result, std::uint32_t tip) {
    using Kind = chain::BroadcastResult::Kind;
    KitStep step;
    if (i >= parts_.size() || rung >= kit_.parts[i].rungs.size()) return step;
    PartState& s = parts_[i];
    if (s.status != PartStatus::live) return step;
    switch (result.kind) {
        case Kind::accepted:
        case Kind::already_in_mempool:
            if (!s.rung || rung > *s.rung) {
                if (s.rung && result.kind == Kind::accepted) ++step.replacements;
                s.rung = static_cast<std::uint8_t>(rung);
                step.changed = true;
            }
            break;
        case Kind::already_in_chain:
            // Mined in a block we cannot see without txindex: count it from now.
            s.status = PartStatus::confirmed;
            s.rung = static_cast<std::uint8_t>(std::max<std::size_t>(rung, s.rung.value_or(0)));
            s.settled_height = tip;
            step.changed = true;
            ++step.parts_confirmed;
            break;
        case Kind::fee_too_low: {
            // Below the mempool minimum, or not enough to replace what spends
            // the output now (ours or the cheater's): the next rung at once.
            PartSchedule sched = schedule(i);
            if (auto next = next_rung_after_refusal(sched, rung)) {
                step.broadcasts.push_back({i, *next, kit::signed_penalty(kit_, kit_.parts[i], commitment_txid_, *next)});
            }
            break;
        }
        default:
            // Rejected (its input spent by another transaction, say): the
            // block that mines that spend says which; tried again next block.
            break;
    }
    return step;
}

bool KitResponse::resolved(std::uint32_t tip, std::uint32_t resolve_depth) const {
    for (std::size_t i = 0; i < parts_.size(); ++i) {
        const PartState& s = parts_[i];
        if (!settled(s.status)) return false;
        if ((s.status == PartStatus::confirmed || s.status == PartStatus::lost) &&
            tip + 1 < s.settled_height + resolve_depth) {
            return false;
        }
    }
    return true;
}

Transaction KitResponse::main_penalty() const {
    std::optional<std::size_t> any;
    for (std::size_t i = 0; i < parts_.size(); ++i) {
        if (!parts_[i].rung) continue;
        if (kit_.parts[i].kind == kit::PartKind::to_local) return kit::signed_penalty(kit_, kit_.parts[i], commitment_txid_, *parts_[i].rung);
        if (!any) any = i;
    }
    if (any) return kit::signed_penalty(kit_, kit_.parts[*any], commitment_txid_, *parts_[*any].rung);
    return kit::signed_penalty(kit_, kit_.parts.front(), commitment_txid_, 0);
}

}  // namespace argus::watch
