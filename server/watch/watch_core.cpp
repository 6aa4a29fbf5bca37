#include "server/watch/watch_core.h"

#include <algorithm>

#include <set>

#include "common/check.h"
#include "common/commitment.h"
#include "common/hash.h"
#include "common/lnd_justice.h"
#include "common/penalty_kit.h"
#include "common/teos_protocol.h"

namespace argus::watch {

std::shared_ptr<const BlockView> make_block_view(std::shared_ptr<const Block> block, const Hash256& hash,
                                                 std::uint32_t height, bool with_hints) {
    auto view = std::make_shared<BlockView>();
    view->height = height;
    view->hash = hash;
    view->txids = txids_of(*block);  // as parsed, most often
    std::size_t n = view->txids.size();
    view->locators.reserve(n);
    if (with_hints) view->hints.reserve(n);
    for (const auto& txid : view->txids) {
        view->locators.push_back(teos::locator(txid));
        if (with_hints) view->hints.push_back(lnd::breach_hint(txid));
    }
    view->block = std::move(block);
    return view;
}

const Locator* trigger_of(const BlockView& view, store::TriggerKind kind, std::size_t i) {
    switch (kind) {
        case store::TriggerKind::txid_locator:
            return i < view.locators.size() ? &view.locators[i] : nullptr;
        case store::TriggerKind::txid_hint:
            return i < view.hints.size() ? &view.hints[i] : nullptr;
        case store::TriggerKind::spent_outpoint:
            return nullptr;  // the Electrum front door's
    }
    return nullptr;
}

OpenedPayload open_payload(const store::AppointmentRecord& appointment, const Transaction& dispute,
                           const std::optional<store::SessionRecord>& session) {
    OpenedPayload opened;
    if (appointment.trigger == store::TriggerKind::txid_locator &&
        appointment.payload == store::PayloadKind::encrypted_penalty) {
        // teos: the blob is the penalty, encrypted with SHA256(dispute txid).
        auto plain = teos::decrypt_penalty(appointment.blob, dispute.txid());
        if (!plain) {
            opened.reason = "the blob does not decrypt with the dispute txid";
            return opened;
        }
        if (kit::is_kit(*plain)) {
            // An Argus penalty kit: one penalty per output, each with a fee ladder.
            auto decoded = kit::decode(*plain);
            if (!decoded) {
                opened.reason = "the decrypted penalty kit does not decode: " + decoded.error().message;
                return opened;
            }
            opened.kind = OpenedPayload::Kind::kit;
            opened.kit = std::move(*decoded);
            return opened;
        }
        auto penalty = parse_transaction(*plain);
        if (!penalty) {
            opened.reason = "the decrypted blob is not a transaction";
            return opened;
        }
        opened.kind = OpenedPayload::Kind::penalty;
        opened.penalty = std::move(*penalty);
        return opened;
    }
    if (appointment.trigger == store::TriggerKind::txid_hint &&
        appointment.payload == store::PayloadKind::encrypted_justice_kit) {
        if (!session) {
            // The session was deleted meanwhile: nothing says how to build it.
            opened.reason = "the appointment's wtwire session no longer exists";
            return opened;
        }
        // lnd lookout: decrypt the kit with SHA256(txid || txid), then build the
        // justice transaction from it and the session's policy.
        auto kit = lnd::decrypt_justice_kit(session->blob_type, appointment.blob, dispute.txid());
        if (!kit) {
            opened.reason = "the justice kit does not open: " + kit.error().message;
            return opened;
        }
        lnd::SessionPolicy policy;
        policy.blob_type = session->blob_type;
        policy.reward_base = session->reward_base;
        policy.reward_rate = session->reward_rate;
        policy.sweep_fee_rate = session->sweep_fee_rate;
        policy.reward_script = session->reward_script;
        auto justice = lnd::build_justice_transaction(*kit, policy, dispute);
        if (!justice) {
            opened.reason = "no valid justice transaction from the kit: " + justice.error().message;
            return opened;
        }
        opened.kind = OpenedPayload::Kind::penalty;
        opened.penalty = std::move(*justice);
        return opened;
    }
    if (appointment.trigger == store::TriggerKind::txid_locator &&
        appointment.payload == store::PayloadKind::plaintext_sweep) {
        // Electrum: funding outpoint (36) and ctn (8) as the front door stored
        // them, then the client's signed sweep, sent as it is. It must spend
        // an output of the transaction that triggered it (a locator is only
        // 16 bytes of the txid).
        constexpr std::size_t header = 44;
        if (appointment.blob.size() <= header) {
            opened.reason = "the stored sweep is empty";
            return opened;
        }
        auto sweep = parse_transaction(ByteSpan(appointment.blob).subspan(header));
        if (!sweep) {
            opened.reason = "the stored sweep is not a transaction";
            return opened;
        }
        Txid trigger = dispute.txid();
        bool spends = std::any_of(sweep->inputs.begin(), sweep->inputs.end(),
                                  [&](const TxIn& in) { return in.prevout.txid == trigger; });
        if (!spends) {
            opened.reason = "the sweep spends nothing of the transaction its locator matched";
            return opened;
        }
        opened.kind = OpenedPayload::Kind::penalty;
        opened.penalty = std::move(*sweep);
        return opened;
    }
    opened.kind = OpenedPayload::Kind::unsupported;
    return opened;
}

store::CloseType classify_close(const Transaction& closing, bool tower_holds_sweeps_of_it) {
    if (tower_holds_sweeps_of_it) return store::CloseType::breach;
    return bolt3::has_commitment_marks(closing) ? store::CloseType::unilateral : store::CloseType::cooperative;
}

WatchCore::WatchCore(CoreOptions options, store::ChainPosition tip, const std::vector<store::TrackerRecord>& trackers)
    : options_(options), tip_(tip) {
    for (const auto& t : trackers) {
        trackers_[{t.locator, t.user_id}] = t;
        if (t.kit_state.empty()) continue;
        // Written by this core: a state that does not decode leaves the
        // tracker following its one penalty, as a classic one.
        if (auto response = KitResponse::decode(t.kit_state)) kits_.emplace(Key{t.locator, t.user_id}, std::move(*response));
    }
}

std::vector<Action> WatchCore::handle(const Event& event) {
    return std::visit(
        [&](const auto& e) -> std::vector<Action> {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, BlockConnected>) return on_connected(e);
            if constexpr (std::is_same_v<E, BlockDisconnected>) return on_disconnected(e);
            if constexpr (std::is_same_v<E, AppointmentStored>) return on_stored(e);
            if constexpr (std::is_same_v<E, BroadcastReport>) return on_broadcast(e);
            if constexpr (std::is_same_v<E, MempoolReport>) return on_mempool(e);
        },
        event);
}

void WatchCore::respond(const store::AppointmentRecord& appointment,
                        const std::optional<store::SessionRecord>& session, const Transaction& dispute, bool late,
                        const std::vector<const BlockView*>& blocks, const chain::FeeSnapshot& fees,
                        std::vector<Action>& out) {
    Key key{appointment.locator, appointment.user_id};
    // Already responding (a block seen again, or a late event for an
    // appointment its block's scan already found): nothing new to do.
    if (trackers_.count(key) || pending_.count(key)) return;
    Hash256 blob_digest = sha256(appointment.blob);
    if (auto d = dropped_.find(key); d != dropped_.end() && d->second.blob_digest == blob_digest) return;
    OpenedPayload opened = open_payload(appointment, dispute, session);
    if (opened.kind == OpenedPayload::Kind::unsupported) return;
    if (opened.kind == OpenedPayload::Kind::invalid) {
        dropped_[key] = Dropped{blob_digest, tip_.height};
        // rust-teos: a triggered appointment whose blob does not open is
        // dropped; so is an lnd kit that yields no valid justice transaction
        // (never broadcast blindly).
        ++counters_.invalid_appointments;
        out.push_back(DropAppointment{appointment_key(key), DropReason::invalid_payload, opened.reason});
        return;
    }
    ++counters_.breaches;
    if (late) ++counters_.late_breaches;
    if (opened.kind == OpenedPayload::Kind::kit) {
        answer_with_kit(key, appointment, std::move(*opened.kit), dispute, late, blocks, fees, out);
        return;
    }
    store::TrackerRecord t;
    t.locator = appointment.locator;
    t.user_id = appointment.user_id;
    t.dispute_txid = dispute.txid();
    t.dispute_tx = dispute.serialize();
    t.penalty_txid = opened.penalty->txid();
    t.penalty_tx = opened.penalty->serialize();
    t.broadcast_height = tip_.height;
    t.blob_size = static_cast<std::uint32_t>(appointment.blob.size());
    pending_[key] = PendingBreach{t, late, appointment.to_self_delay, blob_digest};
    out.push_back(Broadcast{appointment_key(key), BroadcastPurpose::penalty, std::move(*opened.penalty)});
}

void WatchCore::answer_with_kit(const Key& key, const store::AppointmentRecord& appointment, kit::PenaltyKit kit,
                                const Transaction& dispute, bool late, const std::vector<const BlockView*>& blocks,
                                const chain::FeeSnapshot& fees, std::vector<Action>& out) {
    ARGUS_CHECK(!blocks.empty());
    ++counters_.kit_breaches;
    KitResponse response = KitResponse::start(std::move(kit), dispute, blocks.front()->height);
    // The dispute's block and any after it (a late appointment): spends of
    // its outputs there (the cheater's HTLC transaction in the same block),
    // then one decision at the tip. Only the last block's broadcasts count.
    KitStep step;
    for (const BlockView* b : blocks) {
        KitStep at = response.on_block(*b->block, b->height, b == blocks.back() ? fees : chain::FeeSnapshot{});
        step.parts_confirmed += at.parts_confirmed;
        step.parts_lost += at.parts_lost;
        step.parts_past_deadline += at.parts_past_deadline;
        step.second_stages_started += at.second_stages_started;
        step.confirmed_rung_sum += at.confirmed_rung_sum;
        step.confirmed_margin_sum += at.confirmed_margin_sum;
        step.broadcasts = std::move(at.broadcasts);
    }
    store::TrackerRecord t;
    t.locator = appointment.locator;
    t.user_id = appointment.user_id;
    t.dispute_txid = dispute.txid();
    t.dispute_tx = dispute.serialize();
    Transaction main = response.main_penalty();
    t.penalty_txid = main.txid();
    t.penalty_tx = main.serialize();
    t.broadcast_height = tip_.height;
    t.blob_size = static_cast<std::uint32_t>(appointment.blob.size());
    t.kit_state = response.encode();
    (void)late;
    trackers_[key] = t;
    kits_.insert_or_assign(key, std::move(response));
    out.push_back(PersistTracker{t, true});
    step.changed = false;  // persisted above
    apply_kit_step(key, step, out);
}

void WatchCore::apply_kit_step(const Key& key, const KitStep& step, std::vector<Action>& out) {
    counters_.kit_replacements += step.replacements;
    counters_.kit_outputs_swept += step.parts_confirmed;
    counters_.kit_outputs_lost += step.parts_lost;
    counters_.kit_outputs_past_deadline += step.parts_past_deadline;
    counters_.kit_second_stages += step.second_stages_started;
    counters_.kit_confirmed_rung_sum += step.confirmed_rung_sum;
    counters_.kit_confirmed_margin_sum += step.confirmed_margin_sum;
    auto t = trackers_.find(key);
    auto r = kits_.find(key);
    if (t == trackers_.end() || r == kits_.end()) return;
    if (step.changed) {
        Transaction main = r->second.main_penalty();
        t->second.penalty_txid = main.txid();
        t->second.penalty_tx = main.serialize();
        t->second.kit_state = r->second.encode();
        out.push_back(PersistTracker{t->second, false});
    }
    for (const auto& b : step.broadcasts) {
        out.push_back(Broadcast{appointment_key(key), BroadcastPurpose::kit_rung, b.transaction, b.part, b.rung});
    }
}

std::vector<Action> WatchCore::on_kit_report(const BroadcastReport& e) {
    std::vector<Action> out;
    Key key = key_of(e.key);
    auto r = kits_.find(key);
    if (r == kits_.end()) return out;  // resolved or undone meanwhile
    if (e.result.ok() && e.result.kind != chain::BroadcastResult::Kind::already_in_chain) ++counters_.kit_rungs_accepted;
    KitStep step = r->second.on_report(e.kit_part, e.kit_rung, e.result, tip_.height);
    apply_kit_step(key, step, out);
    return out;
}

void WatchCore::remember(std::shared_ptr<const BlockView> block) {
    ARGUS_CHECK(block && block->block && block->height <= tip_.height);
    auto recent = std::make_shared<RecentBlock>();
    recent->view = std::move(block);
    recent_.push_back(std::move(recent));
    while (recent_.size() > 2 * options_.recent_blocks) recent_.pop_front();
}

std::vector<Action> WatchCore::on_connected(const BlockConnected& e) {
    ARGUS_CHECK(e.block && e.block->block);
    const BlockView& view = *e.block;
    std::vector<Action> out;
    tip_ = {view.height, view.hash};
    ++counters_.blocks_connected;

    // Remember the block for appointments that arrive after its scan.
    auto recent = std::make_shared<RecentBlock>();
    recent->view = e.block;
    recent_.push_back(std::move(recent));
    // Twice the window is kept, so a reorg (of up to recent_blocks) does not
    // shrink the window below recent_blocks of the new branch.
    while (recent_.size() > 2 * options_.recent_blocks) recent_.pop_front();
    std::erase_if(dropped_, [&](const auto& d) { return d.second.height + 2 * options_.recent_blocks < view.height; });

    // Confirmations, resolutions and rebroadcasts of what we already track.
    // Trackers are few and blocks large: look their penalties up in the block.
    std::set<Txid> awaited;
    for (const auto& [k, t] : trackers_) {
        if (!t.confirmed_height) awaited.insert(t.penalty_txid);
    }
    std::set<Txid> in_block;
    if (!awaited.empty()) {
        for (const auto& txid : view.txids) {
            if (awaited.count(txid)) in_block.insert(txid);
        }
    }
    for (auto it = trackers_.begin(); it != trackers_.end();) {
        store::TrackerRecord& t = it->second;
        if (auto kit = kits_.find(it->first); kit != kits_.end()) {
            // A kit: every output followed on its own.
            KitStep step = kit->second.on_block(*view.block, view.height, e.fees);
            if (kit->second.resolved(view.height, options_.resolve_depth)) {
                ++counters_.penalties_resolved;
                counters_.kit_outputs_swept += step.parts_confirmed;
                counters_.kit_outputs_lost += step.parts_lost;
                counters_.kit_confirmed_rung_sum += step.confirmed_rung_sum;
                counters_.kit_confirmed_margin_sum += step.confirmed_margin_sum;
                out.push_back(ResolveTracker{t, teos::appointment_slots(t.blob_size)});
                kits_.erase(kit);
                it = trackers_.erase(it);
                continue;
            }
            Key key = it->first;
            ++it;
            apply_kit_step(key, step, out);
            continue;
        }
        bool changed = false;
        if (!t.confirmed_height && in_block.count(t.penalty_txid)) {
            t.confirmed_height = view.height;
            t.waiting_for_fee_until.reset();  // mined after all (someone else's broadcast)
            ++counters_.penalties_confirmed;
            changed = true;
        }
        if (t.waiting_for_fee_until) {
            if (view.height > *t.waiting_for_fee_until) {
                // The cheater may sweep from here on: nothing left to win.
                ++counters_.penalties_abandoned;
                out.push_back(AbandonTracker{t, "the dispute's CSV window closed while the penalty waited for fee"});
                it = trackers_.erase(it);
                continue;
            }
            // Fees may have fallen: offer it again.
            if (auto penalty = parse_transaction(t.penalty_tx)) {
                out.push_back(Broadcast{appointment_key(it->first), BroadcastPurpose::fee_retry, std::move(*penalty)});
            }
            ++it;
            continue;
        }
        if (t.confirmed_height && view.height + 1 - *t.confirmed_height >= options_.resolve_depth) {
            ++counters_.penalties_resolved;
            // A wtwire session's slots count its remaining updates: nothing to refund.
            std::uint32_t refund = store::is_session_account(t.user_id) ? 0 : teos::appointment_slots(t.blob_size);
            out.push_back(ResolveTracker{t, refund});
            it = trackers_.erase(it);
            continue;
        }
        if (!t.confirmed_height && view.height >= t.broadcast_height + options_.rebroadcast_after) {
            out.push_back(QueryMempool{appointment_key(it->first), t.penalty_txid});
        }
        if (changed) out.push_back(PersistTracker{t, false});
        ++it;
    }

    // New breaches: every candidate whose trigger is this block's transaction.
    for (const auto& c : e.candidates) {
        ARGUS_CHECK(c.transaction_index < view.block->transactions.size());
        // The index matches prefixes of locators and hints alike: keep only an
        // appointment whose own trigger kind computes to its key.
        const Locator* trigger = trigger_of(view, c.appointment.trigger, c.transaction_index);
        if (!trigger || c.appointment.locator != *trigger) continue;
        respond(c.appointment, c.session, view.block->transactions[c.transaction_index], false, {&view}, e.fees, out);
    }

    // Channel monitoring: each watched funding outpoint spent in this block.
    for (const auto& spend : e.funding_spends) {
        ARGUS_CHECK(spend.transaction_index < view.block->transactions.size());
        const Transaction& closing = view.block->transactions[spend.transaction_index];
        // Sweeps of this very transaction, for this channel: a revoked commitment.
        std::optional<Txid> penalty;
        bool sweeps = false;
        for (const auto& c : e.candidates) {
            const auto& a = c.appointment;
            if (c.transaction_index != spend.transaction_index || a.payload != store::PayloadKind::plaintext_sweep ||
                a.blob.size() < 36 || !std::equal(spend.funding.txid.bytes.begin(), spend.funding.txid.bytes.end(), a.blob.begin())) {
                continue;
            }
            std::uint32_t vout = a.blob[32] | a.blob[33] << 8 | a.blob[34] << 16 | static_cast<std::uint32_t>(a.blob[35]) << 24;
            if (vout != spend.funding.index) continue;
            sweeps = true;
            auto opened = open_payload(a, closing);
            if (opened.kind == OpenedPayload::Kind::penalty) penalty = opened.penalty->txid();
        }
        store::CloseType type = classify_close(closing, sweeps);
        ++(type == store::CloseType::breach       ? counters_.channels_closed_breach
           : type == store::CloseType::unilateral ? counters_.channels_closed_unilateral
                                                  : counters_.channels_closed_cooperative);
        out.push_back(RecordChannelClose{{spend.funding.txid, spend.funding.index, view.txids[spend.transaction_index],
                                          view.height, type, penalty}});
    }
    out.push_back(SetTip{tip_});
    return out;
}

std::vector<Action> WatchCore::on_disconnected(const BlockDisconnected& e) {
    ARGUS_CHECK(e.block);
    const BlockView& view = *e.block;
    std::vector<Action> out;
    ++counters_.blocks_disconnected;
    std::erase_if(recent_, [&](const auto& r) { return r->view->hash == view.hash; });
    std::set<Txid> in_block;
    if (!trackers_.empty()) in_block.insert(view.txids.begin(), view.txids.end());
    for (auto it = trackers_.begin(); it != trackers_.end();) {
        store::TrackerRecord& t = it->second;
        if (in_block.count(t.dispute_txid)) {
            // The breach itself left the chain: watch for it again.
            ++counters_.breaches_reorged_out;
            out.push_back(UndoTracker{t});
            kits_.erase(it->first);
            it = trackers_.erase(it);
            continue;
        }
        if (auto kit = kits_.find(it->first); kit != kits_.end()) {
            // What this block settled or started is open again; the next
            // block's decisions send the penalties out again.
            if (kit->second.on_disconnected(view.height)) {
                KitStep step;
                step.changed = true;
                Key key = it->first;
                ++it;
                apply_kit_step(key, step, out);
                continue;
            }
            ++it;
            continue;
        }
        if (t.confirmed_height && *t.confirmed_height >= view.height) {
            // Reorged out: unconfirmed again; put dispute and penalty back out.
            t.confirmed_height.reset();
            t.broadcast_height = e.new_tip.height;
            ++counters_.penalties_rebroadcast;
            for (auto& a : rebroadcast(t)) out.push_back(std::move(a));
            out.push_back(PersistTracker{t, false});
        }
        ++it;
    }
    for (const auto& spend : e.funding_spends) out.push_back(UndoChannelClose{spend.funding.txid, spend.funding.index});
    tip_ = e.new_tip;
    out.push_back(SetTip{tip_});
    return out;
}

const WatchCore::RecentBlock::Table& WatchCore::RecentBlock::table(store::TriggerKind kind) const {
    bool hints = kind == store::TriggerKind::txid_hint;
    auto& slot = hints ? by_hint : by_locator;
    if (!slot) {
        slot.emplace();
        slot->reserve(view->txids.size());
        if (hints && view->hints.empty()) {
            // The view was made while no session existed; a session's first
            // appointment may still be for a transaction of this block.
            for (std::size_t i = 0; i < view->txids.size(); ++i) slot->emplace(lnd::breach_hint(view->txids[i]), i);
        } else {
            const auto& keys = hints ? view->hints : view->locators;
            for (std::size_t i = 0; i < keys.size(); ++i) slot->emplace(keys[i], i);
        }
    }
    return *slot;
}

std::optional<std::pair<const BlockView*, std::size_t>> WatchCore::find_in_window(store::TriggerKind kind,
                                                                                  const Locator& trigger) const {
    if (kind != store::TriggerKind::txid_locator && kind != store::TriggerKind::txid_hint) return std::nullopt;
    for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) {
        if (tip_.height + 1 - (*it)->view->height > options_.recent_blocks) break;  // deeper than the window
        const auto& table = (*it)->table(kind);
        auto found = table.find(trigger);
        if (found != table.end()) return std::make_pair((*it)->view.get(), found->second);
    }
    return std::nullopt;
}

bool WatchCore::in_window(const store::AppointmentRecord& appointment) const {
    return find_in_window(appointment.trigger, appointment.locator).has_value();
}

std::vector<Action> WatchCore::on_stored(const AppointmentStored& e) {
    std::vector<Action> out;
    if (auto found = find_in_window(e.appointment.trigger, e.appointment.locator)) {
        // The dispute's block and the recent ones after it, oldest first.
        std::vector<const BlockView*> blocks;
        for (const auto& r : recent_) {
            if (r->view->height >= found->first->height) blocks.push_back(r->view.get());
        }
        respond(e.appointment, e.session, found->first->block->transactions[found->second], true, blocks, {}, out);
    }
    return out;
}

std::vector<Action> WatchCore::on_broadcast(const BroadcastReport& e) {
    using Kind = chain::BroadcastResult::Kind;
    if (e.result.kind == Kind::unavailable) return {Abort{"bitcoind unavailable: " + e.result.message}};
    if (e.purpose == BroadcastPurpose::fee_retry) return on_fee_retry(e);
    if (e.purpose == BroadcastPurpose::kit_rung) return on_kit_report(e);
    if (e.purpose != BroadcastPurpose::penalty) return {};  // rebroadcasts: checked again next block
    auto it = pending_.find(key_of(e.key));
    if (it == pending_.end()) return {};  // not ours to decide (a stale report)
    store::TrackerRecord t = std::move(it->second.tracker);
    std::uint32_t to_self_delay = it->second.to_self_delay;
    Hash256 blob_digest = it->second.blob_digest;
    pending_.erase(it);
    if (e.result.kind == Kind::fee_too_low) {
        // Valid, but below what the mempool takes now: keep it and retry every
        // block while the dispute's CSV window is open.
        ++counters_.penalties_refused_for_fee;
        std::uint32_t window = to_self_delay > 0 ? std::min(to_self_delay, options_.max_fee_wait) : options_.max_fee_wait;
        t.waiting_for_fee_until = t.broadcast_height + window;
        trackers_[key_of(e.key)] = t;
        return {PersistTracker{std::move(t), true}};
    }
    if (e.result.kind == Kind::rejected) {
        // rust-teos: a penalty bitcoind refuses drops the appointment (no refund).
        ++counters_.penalties_rejected;
        dropped_[key_of(e.key)] = Dropped{blob_digest, tip_.height};
        return {DropAppointment{e.key, DropReason::penalty_rejected,
                                "bitcoind rejected the penalty (" + std::to_string(e.result.code) +
                                    "): " + e.result.message}};
    }
    // Already in chain: confirmed somewhere we cannot see without txindex; count from now.
    if (e.result.kind == Kind::already_in_chain) t.confirmed_height = tip_.height;
    ++counters_.penalties_broadcast;
    trackers_[key_of(e.key)] = t;
    return {PersistTracker{std::move(t), true}};
}

std::vector<Action> WatchCore::on_fee_retry(const BroadcastReport& e) {
    using Kind = chain::BroadcastResult::Kind;
    auto it = trackers_.find(key_of(e.key));
    if (it == trackers_.end() || !it->second.waiting_for_fee_until) return {};
    store::TrackerRecord& t = it->second;
    switch (e.result.kind) {
        case Kind::fee_too_low:
            return {};  // still too low: again next block
        case Kind::rejected: {
            // No longer valid (its input spent by the cheater's sweep, say).
            ++counters_.penalties_rejected;
            ++counters_.penalties_abandoned;
            AbandonTracker abandon{t, "bitcoind rejected the penalty (" + std::to_string(e.result.code) +
                                          "): " + e.result.message};
            trackers_.erase(it);
            return {std::move(abandon)};
        }
        case Kind::already_in_chain:
            t.confirmed_height = tip_.height;
            break;
        default:  // accepted or already in the mempool: followed as any tracker from now
            break;
    }
    t.waiting_for_fee_until.reset();
    t.broadcast_height = tip_.height;
    ++counters_.penalties_broadcast;
    return {PersistTracker{t, false}};
}

std::size_t WatchCore::waiting_for_fee() const {
    std::size_t n = 0;
    for (const auto& [k, t] : trackers_) n += t.waiting_for_fee_until.has_value();
    return n;
}

std::vector<Action> WatchCore::on_mempool(const MempoolReport& e) {
    auto it = trackers_.find(key_of(e.key));
    if (e.in_mempool || it == trackers_.end() || it->second.confirmed_height) return {};
    store::TrackerRecord& t = it->second;
    t.broadcast_height = tip_.height;
    ++counters_.penalties_rebroadcast;
    std::vector<Action> out = rebroadcast(t);
    out.push_back(PersistTracker{t, false});
    return out;
}

std::vector<Action> WatchCore::rebroadcast(const store::TrackerRecord& t) {
    std::vector<Action> out;
    store::AppointmentKey key{t.locator, t.user_id};
    // The dispute may have been reorged out with its block: send it first.
    if (auto dispute = parse_transaction(t.dispute_tx)) {
        out.push_back(Broadcast{key, BroadcastPurpose::rebroadcast_dispute, std::move(*dispute)});
    }
    if (auto penalty = parse_transaction(t.penalty_tx)) {
        out.push_back(Broadcast{key, BroadcastPurpose::rebroadcast_penalty, std::move(*penalty)});
    }
    return out;
}

}  // namespace argus::watch
