#include "server/watch/responder.h"

#include <set>

namespace argus::watch {

Responder::Responder(chain::Broadcaster& broadcaster, ResponderOptions options)
    : broadcaster_(broadcaster), options_(options) {}

void Responder::load(const std::vector<store::TrackerRecord>& trackers) {
    std::lock_guard lock(mutex_);
    trackers_.clear();
    for (const auto& t : trackers) trackers_[{t.locator, t.user_id}] = t;
}

BreachOutcome Responder::handle_breach(const Breach& breach, std::uint32_t height) {
    chain::BroadcastResult result = broadcaster_.broadcast(breach.penalty);
    BreachOutcome outcome;
    if (result.kind == chain::BroadcastResult::Kind::unavailable) {
        outcome.kind = BreachOutcome::Kind::unavailable;
        outcome.reason = result.message;
        return outcome;
    }
    if (result.kind == chain::BroadcastResult::Kind::rejected) {
        outcome.kind = BreachOutcome::Kind::rejected;
        outcome.reason = "bitcoind rejected the penalty (" + std::to_string(result.code) + "): " + result.message;
        return outcome;
    }
    store::TrackerRecord t;
    t.locator = breach.appointment.locator;
    t.user_id = breach.appointment.user_id;
    t.dispute_txid = breach.dispute.txid();
    t.dispute_tx = breach.dispute.serialize();
    t.penalty_txid = breach.penalty.txid();
    t.penalty_tx = breach.penalty.serialize();
    t.broadcast_height = height;
    t.blob_size = static_cast<std::uint32_t>(breach.appointment.blob.size());
    // Already in chain: confirmed somewhere we cannot see without txindex; count from now.
    if (result.kind == chain::BroadcastResult::Kind::already_in_chain) t.confirmed_height = height;
    outcome.kind = BreachOutcome::Kind::tracked;
    outcome.tracker = std::move(t);
    return outcome;
}

Status Responder::rebroadcast(store::TrackerRecord& tracker, std::uint32_t height) {
    auto in_mempool = broadcaster_.in_mempool(tracker.penalty_txid);
    if (!in_mempool) return in_mempool.error();
    if (*in_mempool) return {};
    // The dispute may have been reorged out with its block: send it first.
    if (auto dispute = parse_transaction(tracker.dispute_tx)) {
        auto r = broadcaster_.broadcast(*dispute);
        if (r.kind == chain::BroadcastResult::Kind::unavailable) return make_error(ErrorCode::unavailable, r.message);
    }
    if (auto penalty = parse_transaction(tracker.penalty_tx)) {
        auto r = broadcaster_.broadcast(*penalty);
        if (r.kind == chain::BroadcastResult::Kind::unavailable) return make_error(ErrorCode::unavailable, r.message);
    }
    tracker.broadcast_height = height;
    return {};
}

Result<TrackerChanges> Responder::on_block_connected(const Block& block, std::uint32_t height) {
    std::set<Txid> in_block;
    for (const auto& tx : block.transactions) in_block.insert(tx.txid());
    std::vector<store::TrackerRecord> current = all();
    TrackerChanges changes;
    for (auto t : current) {
        bool changed = false;
        if (!t.confirmed_height && in_block.count(t.penalty_txid)) {
            t.confirmed_height = height;
            ++changes.confirmed;
            changed = true;
        }
        if (t.confirmed_height && height + 1 - *t.confirmed_height >= options_.resolve_depth) {
            changes.resolved.push_back(t);
            continue;
        }
        if (!t.confirmed_height && height >= t.broadcast_height + options_.rebroadcast_after) {
            std::uint32_t before = t.broadcast_height;
            if (auto ok = rebroadcast(t, height); !ok) return ok.error();
            if (t.broadcast_height != before) {
                ++changes.rebroadcasts;
                changed = true;
            }
        }
        if (changed) changes.updated.push_back(t);
    }
    return changes;
}

Result<TrackerChanges> Responder::on_block_disconnected(const Block& block, std::uint32_t height) {
    std::set<Txid> in_block;
    for (const auto& tx : block.transactions) in_block.insert(tx.txid());
    TrackerChanges changes;
    for (auto t : all()) {
        if (in_block.count(t.dispute_txid)) {
            // The breach itself is gone from the chain: watch for it again.
            changes.undone.push_back(t);
            continue;
        }
        if (t.confirmed_height && *t.confirmed_height >= height) {
            // Reorged out: unconfirmed again; put dispute and penalty back out.
            t.confirmed_height.reset();
            t.broadcast_height = height - 1;
            if (auto ok = rebroadcast(t, height - 1); !ok) return ok.error();
            ++changes.rebroadcasts;
            changes.updated.push_back(t);
        }
    }
    return changes;
}

void Responder::apply(const std::vector<store::TrackerRecord>& added, const TrackerChanges& changes) {
    std::lock_guard lock(mutex_);
    for (const auto& t : added) trackers_[{t.locator, t.user_id}] = t;
    for (const auto& t : changes.updated) trackers_[{t.locator, t.user_id}] = t;
    for (const auto& t : changes.resolved) trackers_.erase({t.locator, t.user_id});
    for (const auto& t : changes.undone) trackers_.erase({t.locator, t.user_id});
}

std::optional<store::TrackerRecord> Responder::find(const Locator& locator, const store::UserId& user) const {
    std::lock_guard lock(mutex_);
    auto it = trackers_.find({locator, user});
    if (it == trackers_.end()) return std::nullopt;
    return it->second;
}

std::vector<store::TrackerRecord> Responder::all() const {
    std::lock_guard lock(mutex_);
    std::vector<store::TrackerRecord> out;
    for (const auto& [key, t] : trackers_) out.push_back(t);
    return out;
}

std::size_t Responder::size() const {
    std::lock_guard lock(mutex_);
    return trackers_.size();
}

}  // namespace argus::watch
