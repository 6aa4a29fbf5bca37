#include "server/watch/chain_follower.h"

#include "common/hex.h"
#include "server/log.h"

namespace argus::watch {

namespace {
std::string display(const Hash256& h) { return to_hex(reversed(h)); }
}  // namespace

ChainFollower::ChainFollower(chain::ChainSource& source, Watcher& watcher, Responder& responder,
                             tower::TowerService& service, store::Store& store, FollowerOptions options)
    : source_(source), watcher_(watcher), responder_(responder), service_(service), store_(store), options_(options) {}

ChainFollower::~ChainFollower() { stop(); }

Status ChainFollower::initialize() {
    auto position = store_.chain_position();
    if (!position) return position.error();
    if (!*position) {
        // First run: watch from bitcoind's current tip onwards.
        auto best = source_.best_block_hash();
        if (!best) return best.error();
        auto header = source_.header(*best);
        if (!header) return header.error();
        store::WriteBatch batch;
        batch.chain_position = store::ChainPosition{header->height, *best};
        if (auto ok = service_.commit_chain_effects(std::move(batch), {}); !ok) return ok;
        *position = store::ChainPosition{header->height, *best};
    }
    recent_.clear();
    recent_.push_back({(*position)->height, (*position)->block_hash});
    // Rebuild our recent chain from headers, which bitcoind keeps for stale blocks too.
    Hash256 hash = (*position)->block_hash;
    for (std::uint32_t i = 0; i < options_.max_reorg_depth && recent_.front().height > 0; ++i) {
        auto header = source_.header(hash);
        if (!header) return header.error();
        hash = header->previous;
        recent_.push_front({recent_.front().height - 1, hash});
    }
    height_ = (*position)->height;
    reachable_ = true;
    auto trackers = store_.load_trackers();
    if (!trackers) return trackers.error();
    responder_.load(*trackers);
    return {};
}

tower::ChainStatus ChainFollower::status() const { return {height_.load(), reachable_.load()}; }

FollowerStats ChainFollower::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

Result<std::size_t> ChainFollower::sync() {
    std::size_t connected = 0;
    auto fail = [&](const Error& e) -> Error {
        caught_up_ = false;
        if (e.code == ErrorCode::unavailable) reachable_ = false;
        std::lock_guard lock(mutex_);
        ++stats_.rpc_errors;
        return e;
    };
    for (int rounds = 0; rounds < 1000; ++rounds) {
        auto best = source_.best_block_hash();
        if (!best) return fail(best.error());
        reachable_ = true;
        if (*best == recent_.back().hash) {
            best_height_ = recent_.back().height;
            break;
        }
        caught_up_ = false;
        if (auto header = source_.header(*best)) best_height_ = header->height;

        // Disconnect while our tip is not on bitcoind's active chain.
        for (;;) {
            auto remote = source_.block_hash(recent_.back().height);
            if (!remote) return fail(remote.error());
            if (*remote && **remote == recent_.back().hash) break;
            if (recent_.size() <= 1) {
                return make_error(ErrorCode::invalid_argument,
                                  "reorg deeper than max_reorg_depth (" + std::to_string(options_.max_reorg_depth) + ")");
            }
            if (auto ok = disconnect_tip(); !ok) return fail(ok.error());
        }
        // Connect the new branch in order.
        for (;;) {
            std::uint32_t next = recent_.back().height + 1;
            auto hash = source_.block_hash(next);
            if (!hash) return fail(hash.error());
            if (!*hash) break;
            auto block = source_.block(**hash);
            if (!block) return fail(block.error());
            if (block->header.previous_block != recent_.back().hash) break;  // moved under us: reconcile again
            if (auto ok = connect(*block, **hash, next); !ok) return fail(ok.error());
            ++connected;
        }
    }
    if (auto ok = check_late_appointments(); !ok) return fail(ok.error());
    caught_up_ = true;
    return connected;
}

Status ChainFollower::connect(const Block& block, const Hash256& hash, std::uint32_t height) {
    auto started = std::chrono::steady_clock::now();
    auto scan = watcher_.scan(block, hash, height);
    if (!scan) return scan.error();
    store::WriteBatch batch;
    std::vector<store::TrackerRecord> added;
    std::size_t rejected = 0;
    for (const auto& breach : scan->breaches) {
        store::AppointmentKey key{breach.appointment.locator, breach.appointment.user_id};
        if (responder_.find(key.locator, key.user_id)) continue;  // already responding (e.g. reconnected block)
        auto outcome = responder_.handle_breach(breach, height);
        if (outcome.kind == BreachOutcome::Kind::unavailable) {
            watcher_.forget_block(hash);
            return make_error(ErrorCode::unavailable, "broadcasting a penalty: " + outcome.reason);
        }
        if (outcome.kind == BreachOutcome::Kind::tracked) {
            log_event(LogLevel::info, "breach_punished",
                      {{"height", std::to_string(height)},
                       {"dispute_txid", breach.dispute.txid().to_display_hex()},
                       {"penalty_txid", outcome.tracker->penalty_txid.to_display_hex()}});
            added.push_back(*outcome.tracker);
            batch.trackers.push_back(*outcome.tracker);
        } else {
            // rust-teos: a penalty bitcoind refuses drops the appointment (no refund).
            log_event(LogLevel::warn, "penalty_rejected",
                      {{"height", std::to_string(height)}, {"dispute_txid", breach.dispute.txid().to_display_hex()},
                       {"reason", outcome.reason}});
            ++rejected;
            batch.removed_appointments.push_back(key);
        }
    }
    for (const auto& key : scan->invalid) batch.removed_appointments.push_back(key);
    auto changes = responder_.on_block_connected(block, height);
    if (!changes) {
        watcher_.forget_block(hash);
        return changes.error();
    }
    batch.trackers.insert(batch.trackers.end(), changes->updated.begin(), changes->updated.end());
    std::vector<std::pair<store::UserId, std::uint32_t>> refunds;
    for (const auto& t : changes->resolved) {
        batch.removed_trackers.push_back({t.locator, t.user_id});
        batch.removed_appointments.push_back({t.locator, t.user_id});
        refunds.emplace_back(t.user_id, teos::appointment_slots(t.blob_size));
        log_event(LogLevel::info, "penalty_resolved",
                  {{"penalty_txid", t.penalty_txid.to_display_hex()}, {"depth", std::to_string(height + 1 - *t.confirmed_height)}});
    }
    batch.chain_position = store::ChainPosition{height, hash};
    if (auto ok = service_.commit_chain_effects(std::move(batch), refunds); !ok) {
        watcher_.forget_block(hash);
        return ok;
    }
    responder_.apply(added, *changes);
    recent_.push_back({height, hash});
    while (recent_.size() > options_.max_reorg_depth + 1) recent_.pop_front();
    height_ = height;
    (void)service_.remove_outdated_users(height);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    {
        std::lock_guard lock(mutex_);
        ++stats_.blocks_connected;
        stats_.breaches += scan->breaches.size();
        stats_.penalties_broadcast += added.size();
        stats_.penalties_rebroadcast += changes->rebroadcasts;
        stats_.penalties_confirmed += changes->confirmed;
        stats_.penalties_rejected += rejected;
        stats_.invalid_appointments += scan->invalid.size();
        stats_.last_block_seconds = seconds;
    }
    if (options_.on_block_processed) options_.on_block_processed(seconds);
    log_event(LogLevel::debug, "block_connected",
              {{"height", std::to_string(height)}, {"hash", display(hash)}, {"txs", std::to_string(block.transactions.size())},
               {"breaches", std::to_string(scan->breaches.size())}});
    return {};
}

Status ChainFollower::disconnect_tip() {
    Ref tip = recent_.back();
    auto block = source_.block(tip.hash);
    if (!block) return block.error();
    auto changes = responder_.on_block_disconnected(*block, tip.height);
    if (!changes) return changes.error();
    store::WriteBatch batch;
    batch.trackers = changes->updated;
    for (const auto& t : changes->undone) {
        batch.removed_trackers.push_back({t.locator, t.user_id});
        log_event(LogLevel::warn, "breach_reorged_out", {{"dispute_txid", t.dispute_txid.to_display_hex()}});
    }
    Ref previous = recent_[recent_.size() - 2];
    batch.chain_position = store::ChainPosition{previous.height, previous.hash};
    if (auto ok = service_.commit_chain_effects(std::move(batch), {}); !ok) return ok;
    responder_.apply({}, *changes);
    watcher_.forget_block(tip.hash);
    recent_.pop_back();
    height_ = previous.height;
    log_event(LogLevel::warn, "block_disconnected", {{"height", std::to_string(tip.height)}, {"hash", display(tip.hash)}});
    std::lock_guard lock(mutex_);
    ++stats_.blocks_disconnected;
    stats_.breaches_reorged_out += changes->undone.size();
    return {};
}

void ChainFollower::appointment_stored(const store::AppointmentRecord& appointment) {
    if (!watcher_.recent_match(appointment.locator)) return;
    {
        std::lock_guard lock(mutex_);
        pending_.push_back(appointment);
    }
    wake();
}

Status ChainFollower::check_late_appointments() {
    for (;;) {
        store::AppointmentRecord appointment;
        {
            std::lock_guard lock(mutex_);
            if (pending_.empty()) return {};
            appointment = pending_.front();
        }
        auto match = watcher_.recent_match(appointment.locator);
        store::WriteBatch batch;
        std::vector<store::TrackerRecord> added;
        if (match) {
            auto block = source_.block(match->block_hash);
            if (!block) return block.error();
            const Transaction& dispute = block->transactions.at(match->transaction_index);
            auto breach = Watcher::open(appointment, dispute);
            if (breach) {
                auto outcome = responder_.handle_breach(*breach, height_);
                if (outcome.kind == BreachOutcome::Kind::unavailable) return make_error(ErrorCode::unavailable, outcome.reason);
                if (outcome.kind == BreachOutcome::Kind::tracked) {
                    log_event(LogLevel::info, "breach_punished_late",
                              {{"dispute_txid", dispute.txid().to_display_hex()},
                               {"penalty_txid", outcome.tracker->penalty_txid.to_display_hex()}});
                    added.push_back(*outcome.tracker);
                    batch.trackers.push_back(*outcome.tracker);
                } else {
                    batch.removed_appointments.push_back({appointment.locator, appointment.user_id});
                }
            } else {
                batch.removed_appointments.push_back({appointment.locator, appointment.user_id});
            }
            if (auto ok = service_.commit_chain_effects(std::move(batch), {}); !ok) return ok;
            responder_.apply(added, {});
        }
        std::lock_guard lock(mutex_);
        pending_.pop_front();
    }
}

void ChainFollower::start() {
    thread_ = std::thread([this] { run(); });
}

void ChainFollower::wake() {
    std::lock_guard lock(mutex_);
    woken_ = true;
    wake_.notify_all();
}

void ChainFollower::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        wake_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
}

void ChainFollower::run() {
    std::chrono::milliseconds backoff{250};
    for (;;) {
        auto result = sync();
        std::chrono::milliseconds wait = options_.poll_interval;
        if (!result) {
            log_event(LogLevel::warn, "chain_sync_failed",
                      {{"error", result.error().message}, {"retry_ms", std::to_string(backoff.count())}});
            wait = backoff;
            backoff = std::min(backoff * 2, options_.max_backoff);
        } else {
            backoff = std::chrono::milliseconds(250);
        }
        std::unique_lock lock(mutex_);
        if (stopping_) return;
        wake_.wait_for(lock, wait, [&] { return stopping_ || woken_; });
        if (stopping_) return;
        woken_ = false;
    }
}

}  // namespace argus::watch
