#include "server/watch/chain_follower.h"

#include <map>
#include <set>

#include "common/check.h"
#include "common/hex.h"
#include "log/log.h"

namespace argus::watch {

namespace {
std::string display(const Hash256& h) { return to_hex(reversed(h)); }
}  // namespace

ChainFollower::ChainFollower(chain::ChainSource& source, chain::Broadcaster& broadcaster,
                             const tower::LocatorIndex& index, tower::TowerService& service, store::Store& store,
                             FollowerOptions options, Clock& clock)
    : source_(source),
      broadcaster_(broadcaster),
      index_(index),
      service_(service),
      store_(store),
      options_(std::move(options)),
      clock_(clock),
      core_(options_.core) {}

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
        batch.set_chain_position(store::ChainPosition{header->height, *best});
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
    core_ = WatchCore(options_.core, **position, *trackers);
    // The window of recent blocks, as the core had it before this start: an
    // appointment stored just before a restart or a takeover is still
    // checked against the blocks scanned before it was indexed.
    std::size_t window = std::min<std::size_t>(options_.core.recent_blocks, recent_.size());
    for (std::size_t i = recent_.size() - window; i < recent_.size(); ++i) {
        auto block = source_.block(recent_[i].hash);
        if (!block) {
            if (block.error().code == ErrorCode::unavailable) return block.error();
            // This node's bitcoind lacks it (a header only): the window is
            // best effort; the blocks from the position on are processed.
            log_event(LogLevel::warn, "recent_block_unavailable",
                      {{"height", std::to_string(recent_[i].height)}, {"error", block.error().message}});
            continue;
        }
        core_.remember(make_block_view(std::make_shared<const Block>(std::move(*block)), recent_[i].hash,
                                       recent_[i].height, service_.hints_needed()));
    }
    caught_up_ = false;
    std::lock_guard lock(mutex_);
    published_ = core_.trackers();
    return {};
}

tower::ChainStatus ChainFollower::status() const { return {height_.load(), reachable_.load()}; }

FollowerStats ChainFollower::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

std::optional<std::string> ChainFollower::halted() const {
    std::lock_guard lock(mutex_);
    return halted_;
}

std::optional<store::TrackerRecord> ChainFollower::tracker(const Locator& locator, const store::UserId& user) const {
    std::lock_guard lock(mutex_);
    auto it = published_.find({locator, user});
    if (it == published_.end()) return std::nullopt;
    return it->second;
}

std::size_t ChainFollower::tracker_count() const {
    std::lock_guard lock(mutex_);
    return published_.size();
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
    if (auto reason = halted()) return make_error(ErrorCode::invalid_argument, *reason);
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
                // Deeper than we can follow safely: stop and tell the operator,
                // rather than retry for ever or skip blocks.
                std::string reason = "reorg deeper than max_reorg_depth (" +
                                     std::to_string(options_.max_reorg_depth) + ") at height " +
                                     std::to_string(recent_.back().height) +
                                     ": the watcher halted; restart with a larger --max-reorg-depth";
                log_event(LogLevel::error, "chain_halted", {{"reason", reason}});
                std::lock_guard lock(mutex_);
                halted_ = reason;
                stats_.halted = true;
                caught_up_ = false;
                return make_error(ErrorCode::invalid_argument, reason);
            }
            if (auto ok = disconnect_tip(); !ok) return fail(ok.error());
            if (auto ok = check_stored_appointments(); !ok) return fail(ok.error());
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
            if (auto ok = connect(std::make_shared<const Block>(std::move(*block)), **hash, next); !ok) {
                return fail(ok.error());
            }
            ++connected;
            // Appointments stored while this block was processed, before the
            // next block pushes it further back.
            if (auto ok = check_stored_appointments(); !ok) return fail(ok.error());
        }
    }
    if (auto ok = check_stored_appointments(); !ok) return fail(ok.error());
    caught_up_ = true;
    return connected;
}

Result<BlockConnected> read_block_candidates(std::shared_ptr<const BlockView> view, const tower::LocatorIndex& index,
                                             store::Store& store, const SessionLookup& session_of) {
    BlockConnected event;
    // One index holds teos locators and lnd hints (both 16 uniform bytes);
    // the core keeps only appointments whose own trigger kind matches. All
    // candidates are read in one lookup.
    std::vector<std::pair<Locator, std::size_t>> hits;  // (locator, transaction), in block order per key set
    for (const auto* keys : {&view->locators, &view->hints}) {
        for (std::size_t i : index.candidates(*keys)) hits.emplace_back((*keys)[i], i);
    }
    if (!hits.empty()) {
        std::set<Locator> unique;
        for (const auto& hit : hits) unique.insert(hit.first);
        std::vector<Locator> wanted(unique.begin(), unique.end());
        auto stored = store.find_by_locators(wanted);
        if (!stored) return stored.error();
        std::map<Locator, std::vector<const store::AppointmentRecord*>> by_locator;
        for (const auto& a : *stored) by_locator[a.locator].push_back(&a);
        for (const auto& [locator, i] : hits) {
            auto found = by_locator.find(locator);
            if (found == by_locator.end()) continue;
            for (const auto* appointment : found->second) {
                Candidate c{i, *appointment, std::nullopt};
                if (c.appointment.trigger == store::TriggerKind::txid_hint && session_of) {
                    c.session = session_of(c.appointment.user_id);
                }
                event.candidates.push_back(std::move(c));
            }
        }
    }
    event.block = std::move(view);
    return event;
}

std::vector<FundingSpend> funding_spends(const BlockView& view, const tower::OutpointIndex& watched) {
    std::vector<FundingSpend> out;
    if (watched.size() == 0) return out;
    const auto& txs = view.block->transactions;
    for (std::size_t i = 0; i < txs.size(); ++i) {
        for (const auto& in : txs[i].inputs) {
            if (watched.contains(in.prevout)) out.push_back({i, in.prevout});
        }
    }
    return out;
}

Status run_round(WatchCore& draft, Event first, chain::Broadcaster& broadcaster, Round& round) {
    std::deque<Event> events;
    events.push_back(std::move(first));
    while (!events.empty()) {
        std::vector<Action> actions = draft.handle(events.front());
        events.pop_front();
        for (auto& action : actions) {
            if (auto* a = std::get_if<Abort>(&action)) return make_error(ErrorCode::unavailable, a->reason);
            if (auto* b = std::get_if<Broadcast>(&action)) {
                events.push_back(BroadcastReport{b->key, b->purpose, broadcaster.broadcast(b->transaction), b->kit_part,
                                                 b->kit_rung});
                continue;
            }
            if (auto* q = std::get_if<QueryMempool>(&action)) {
                auto in_mempool = broadcaster.in_mempool(q->txid);
                if (!in_mempool) return in_mempool.error();
                events.push_back(MempoolReport{q->key, *in_mempool});
                continue;
            }
            if (auto* p = std::get_if<PersistTracker>(&action)) {
                round.batch.put_tracker(p->tracker);
            } else if (auto* d = std::get_if<DropAppointment>(&action)) {
                round.batch.remove_appointment(d->key);
            } else if (auto* r = std::get_if<ResolveTracker>(&action)) {
                store::AppointmentKey key{r->tracker.locator, r->tracker.user_id};
                round.batch.remove_tracker(key).remove_appointment(key);
                round.refunds.emplace_back(r->tracker.user_id, r->refund_slots);
            } else if (auto* u = std::get_if<UndoTracker>(&action)) {
                round.batch.remove_tracker({u->tracker.locator, u->tracker.user_id});
            } else if (auto* a = std::get_if<AbandonTracker>(&action)) {
                store::AppointmentKey key{a->tracker.locator, a->tracker.user_id};
                round.batch.remove_tracker(key).remove_appointment(key);
            } else if (auto* c = std::get_if<RecordChannelClose>(&action)) {
                round.batch.put_channel_close(c->close);
            } else if (auto* reopened = std::get_if<UndoChannelClose>(&action)) {
                round.batch.remove_channel_close(reopened->funding_txid, reopened->funding_vout);
            } else if (auto* t = std::get_if<SetTip>(&action)) {
                round.batch.set_chain_position(t->position);
            }
            round.done.push_back(std::move(action));
        }
    }
    ARGUS_CHECK(draft.awaiting_reports() == 0);  // every broadcast's result was fed back
    return {};
}

Status ChainFollower::round(Event first) {
    std::vector<Event> events;
    events.push_back(std::move(first));
    return round(std::move(events));
}

Status ChainFollower::round(std::vector<Event> events) {
    WatchCore draft = core_;
    Round r;
    for (auto& event : events) {
        if (auto ok = run_round(draft, std::move(event), broadcaster_, r); !ok) return ok;
    }
    if (!r.batch.empty()) {
        if (auto ok = service_.commit_chain_effects(std::move(r.batch), r.refunds); !ok) return ok;
    }
    core_ = std::move(draft);
    {
        std::lock_guard lock(mutex_);
        published_ = core_.trackers();
        stats_.core = core_.counters();
        stats_.penalties_waiting_for_fee = core_.waiting_for_fee();
    }
    height_ = core_.tip().height;
    for (const auto& action : r.done) {
        if (auto* p = std::get_if<PersistTracker>(&action); p && p->is_new && p->tracker.waiting_for_fee_until) {
            log_event(LogLevel::warn, "penalty_waiting_for_fee",
                      {{"height", std::to_string(core_.tip().height)},
                       {"dispute_txid", p->tracker.dispute_txid.to_display_hex()},
                       {"penalty_txid", p->tracker.penalty_txid.to_display_hex()},
                       {"retry_until", std::to_string(*p->tracker.waiting_for_fee_until)}});
        } else if (p && p->is_new) {
            log_event(LogLevel::info, "breach_punished",
                      {{"height", std::to_string(core_.tip().height)},
                       {"dispute_txid", p->tracker.dispute_txid.to_display_hex()},
                       {"penalty_txid", p->tracker.penalty_txid.to_display_hex()}});
        } else if (auto* d = std::get_if<DropAppointment>(&action)) {
            log_event(LogLevel::warn, d->reason == DropReason::penalty_rejected ? "penalty_rejected" : "appointment_invalid",
                      {{"locator", to_hex(d->key.locator)}, {"reason", d->detail}});
        } else if (auto* res = std::get_if<ResolveTracker>(&action)) {
            log_event(LogLevel::info, "penalty_resolved", {{"penalty_txid", res->tracker.penalty_txid.to_display_hex()}});
        } else if (auto* u = std::get_if<UndoTracker>(&action)) {
            log_event(LogLevel::warn, "breach_reorged_out", {{"dispute_txid", u->tracker.dispute_txid.to_display_hex()}});
        } else if (auto* c = std::get_if<RecordChannelClose>(&action)) {
            log_event(LogLevel::info, "channel_closed",
                      {{"funding", c->close.funding_txid.to_display_hex() + ":" + std::to_string(c->close.funding_vout)},
                       {"closing_txid", c->close.closing_txid.to_display_hex()},
                       {"height", std::to_string(c->close.height)}, {"type", store::to_string(c->close.type)}});
        } else if (auto* uc = std::get_if<UndoChannelClose>(&action)) {
            log_event(LogLevel::warn, "channel_close_reorged_out",
                      {{"funding", uc->funding_txid.to_display_hex() + ":" + std::to_string(uc->funding_vout)}});
        } else if (auto* a = std::get_if<AbandonTracker>(&action)) {
            log_event(LogLevel::error, "penalty_abandoned",
                      {{"penalty_txid", a->tracker.penalty_txid.to_display_hex()}, {"reason", a->reason}});
        }
    }
    return {};
}

Status ChainFollower::connect(std::shared_ptr<const Block> block, const Hash256& hash, std::uint32_t height) {
    auto started = clock_.monotonic_now();
    // lnd hints (one SHA256 per transaction) only while sessions exist: a
    // session is counted before its first update can be stored, and the core
    // computes a block's hints itself for an appointment that arrives late.
    auto view = make_block_view(std::move(block), hash, height, service_.hints_needed());
    std::size_t transactions = view->txids.size();
    auto event = read_block_candidates(std::move(view), index_, store_,
                                       [this](const store::UserId& account) { return service_.session(account); });
    if (!event) return event.error();
    event->funding_spends = funding_spends(*event->block, service_.funding_outpoints());
    // Penalty kits escalate against the fee market: read it while the core
    // answers one, or when a candidate may be one. Unreadable: the kits follow
    // their deadline schedule this block (never a reason to stop watching).
    if (core_.answers_kits() || !event->candidates.empty()) {
        if (auto fees = broadcaster_.fee_snapshot()) {
            event->fees = std::move(*fees);
        } else {
            log_event(LogLevel::warn, "fee_market_unreadable",
                      {{"height", std::to_string(height)}, {"error", fees.error().message}});
        }
    }
    if (options_.after_candidates_read) options_.after_candidates_read(height);
    if (auto ok = round(std::move(*event)); !ok) return ok;
    recent_.push_back({height, hash});
    while (recent_.size() > options_.max_reorg_depth + 1) recent_.pop_front();

    if (auto removed = service_.remove_outdated_users(height); !removed) {
        // Not a reason to stop watching: retried at the next block.
        log_event(LogLevel::warn, "outdated_users_not_removed", {{"error", removed.error().message}});
    }
    double seconds = std::chrono::duration<double>(clock_.monotonic_now() - started).count();
    {
        std::lock_guard lock(mutex_);
        stats_.last_block_seconds = seconds;
    }
    if (options_.on_block_processed) options_.on_block_processed(seconds);
    log_event(LogLevel::debug, "block_connected",
              {{"height", std::to_string(height)}, {"hash", display(hash)},
               {"txs", std::to_string(transactions)}});
    return {};
}

Status ChainFollower::disconnect_tip() {
    Ref tip = recent_.back();
    auto block = source_.block(tip.hash);
    if (!block) return block.error();
    Ref previous = recent_[recent_.size() - 2];
    BlockDisconnected event;
    event.block = make_block_view(std::make_shared<const Block>(std::move(*block)), tip.hash, tip.height,
                                  service_.hints_needed());
    event.new_tip = store::ChainPosition{previous.height, previous.hash};
    event.funding_spends = funding_spends(*event.block, service_.funding_outpoints());
    if (auto ok = round(std::move(event)); !ok) return ok;
    recent_.pop_back();
    log_event(LogLevel::warn, "block_disconnected", {{"height", std::to_string(tip.height)}, {"hash", display(tip.hash)}});
    return {};
}

void ChainFollower::appointment_stored(store::AppointmentRecord appointment) {
    std::lock_guard lock(mutex_);
    stored_.push_back(std::move(appointment));
    wake_.notify_all();
}

void ChainFollower::appointment_key_stored(const store::AppointmentKey& key) {
    std::lock_guard lock(mutex_);
    stored_keys_.push_back(key);
    wake_.notify_all();
}

Status ChainFollower::check_stored_appointments() {
    // Everything queued so far is one round and one commit, however many of
    // them hit the window: a flood of appointments for recent txids costs the
    // follower one transaction, not one per appointment.
    std::size_t taken = 0, keys_taken = 0;
    std::vector<Event> events;
    std::vector<store::AppointmentKey> hits;  // another tower's, in the window: read in full
    {
        std::lock_guard lock(mutex_);
        taken = stored_.size();
        for (const auto& appointment : stored_) {
            // Almost every appointment triggers nothing: it needs no round.
            if (core_.in_window(appointment)) events.push_back(AppointmentStored{appointment, std::nullopt});
        }
        keys_taken = stored_keys_.size();
        for (const auto& key : stored_keys_) {
            store::AppointmentRecord probe;
            probe.locator = key.locator;
            probe.trigger = store::TriggerKind::txid_locator;
            bool hit = core_.in_window(probe);
            probe.trigger = store::TriggerKind::txid_hint;
            if (hit || core_.in_window(probe)) hits.push_back(key);
        }
    }
    for (const auto& key : hits) {
        auto stored = store_.get_appointment(key);
        if (!stored) return stored.error();  // kept queued: retried
        if (*stored) events.push_back(AppointmentStored{std::move(**stored), std::nullopt});
    }
    // Sessions are looked up outside the lock: the service's locks come first
    // in the order API threads take them (user lock, then this one).
    for (auto& e : events) {
        auto& stored = std::get<AppointmentStored>(e);
        if (stored.appointment.trigger == store::TriggerKind::txid_hint) {
            stored.session = service_.session(stored.appointment.user_id);
        }
    }
    if (taken == 0 && keys_taken == 0) return {};
    if (!events.empty()) {
        if (auto ok = round(std::move(events)); !ok) return ok;  // kept queued: an outage retries them
    }
    std::lock_guard lock(mutex_);
    stored_.erase(stored_.begin(), stored_.begin() + static_cast<std::ptrdiff_t>(taken));
    stored_keys_.erase(stored_keys_.begin(), stored_keys_.begin() + static_cast<std::ptrdiff_t>(keys_taken));
    stats_.appointments_checked_late += taken + keys_taken;
    return {};
}

void ChainFollower::start() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = false;  // started again after a stop (a watcher re-elected)
    }
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
    auto next_sync = clock_.monotonic_now();
    bool stored_blocked = false;  // a stored appointment's round failed: wait for the next sync
    for (;;) {
        if (clock_.monotonic_now() >= next_sync) {
            std::chrono::milliseconds wait = options_.poll_interval;
            if (!halted()) {
                auto result = sync();
                if (!result) {
                    log_event(LogLevel::warn, "chain_sync_failed",
                              {{"error", result.error().message}, {"retry_ms", std::to_string(backoff.count())}});
                    wait = backoff;
                    backoff = std::min(backoff * 2, options_.max_backoff);
                } else {
                    backoff = std::chrono::milliseconds(250);
                }
                stored_blocked = !result;
            }
            next_sync = clock_.monotonic_now() + wait;
        } else if (!stored_blocked) {
            if (auto ok = check_stored_appointments(); !ok) {
                // A late breach could not be broadcast: retried with the next sync.
                log_event(LogLevel::warn, "late_check_failed", {{"error", ok.error().message}});
                stored_blocked = true;
                next_sync = std::min(next_sync, clock_.monotonic_now() + backoff);
            }
        }
        std::unique_lock lock(mutex_);
        if (stopping_) return;
        auto until = std::chrono::ceil<std::chrono::milliseconds>(next_sync - clock_.monotonic_now());
        clock_.wait_for(lock, wake_, std::max(until, std::chrono::milliseconds(0)),
                        [&] { return stopping_ || woken_ || ((!stored_.empty() || !stored_keys_.empty()) && !stored_blocked); });
        if (stopping_) return;
        if (woken_) {
            woken_ = false;
            next_sync = clock_.monotonic_now();
        }
    }
}

}  // namespace argus::watch
