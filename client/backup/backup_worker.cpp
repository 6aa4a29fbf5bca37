#include "client/backup/backup_worker.h"

#include "client/backup/breach_report.h"
#include "log/log.h"
#include "common/hex.h"

namespace argus::client {

BackupWorker::BackupWorker(BackupQueue& queue, PrivateKey user_key, Clock& clock, BackupWorkerOptions options)
    : queue_(queue), user_key_(std::move(user_key)), clock_(clock), options_(options) {}

BackupWorker::~BackupWorker() { stop(); }

std::int64_t BackupWorker::now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.system_now().time_since_epoch()).count();
}

std::int64_t BackupWorker::backoff(std::uint32_t attempts) const {
    std::int64_t delay = options_.min_backoff_ms;
    for (std::uint32_t i = 0; i < attempts && delay < options_.max_backoff_ms; ++i) delay *= 2;
    return std::min(delay, options_.max_backoff_ms);
}

void BackupWorker::note_queue_error(const char* operation, const Error& error, const PublicKey* tower,
                                    const Locator* locator) {
    pass_hit_queue_error_ = true;
    {
        std::lock_guard lock(errors_mutex_);
        ++queue_errors_[operation];
    }
    log_event(LogLevel::error, "backup_queue_write_failed",
                     {{"operation", operation},
                      {"tower", tower ? to_hex(tower->bytes()) : std::string("-")},
                      {"locator", locator ? to_hex(*locator) : std::string("-")},
                      {"error", error.message}});
}

std::map<std::string, std::uint64_t> BackupWorker::queue_errors() {
    std::lock_guard lock(errors_mutex_);
    return queue_errors_;
}

void BackupWorker::retry_later(const PublicKey& tower, const Delivery& d, const std::string& why) {
    // If this write fails too the delivery keeps its old due time: still pending, sent on a later pass.
    if (auto ok = queue_.mark_retry(tower, d.backup.locator, why, now_ms() + backoff(d.attempts)); !ok) {
        note_queue_error("mark_retry", ok.error(), &tower, &d.backup.locator);
    }
}

void BackupWorker::fail(const PublicKey& tower, const Delivery& d, const std::string& why) {
    if (auto ok = queue_.mark_failed(tower, d.backup.locator, why); !ok) {
        note_queue_error("mark_failed", ok.error(), &tower, &d.backup.locator);
    }
}

void BackupWorker::mark_misbehaving(const PublicKey& tower, const std::string& why) {
    // Not recorded: the tower stays active and the next pass or audit finds the misbehaviour again.
    if (auto ok = queue_.mark_misbehaving(tower, why); !ok) note_queue_error("mark_misbehaving", ok.error(), &tower, nullptr);
}

TeosClient& BackupWorker::client_for(const TowerRecord& tower) {
    auto& slot = clients_[tower.address.id.bytes()];
    if (!slot || slot->tower().host != tower.address.host || slot->tower().port != tower.address.port) {
        slot = std::make_unique<TeosClient>(tower.address, user_key_, options_.tower_timeout);
    }
    return *slot;
}

bool BackupWorker::ensure_subscription(TowerRecord& tower, TeosClient& client, std::size_t needed) {
    bool low = tower.available_slots < needed + options_.top_up_below_slots;
    bool expiring = tower.subscription_expiry <= tower.last_seen_height + options_.top_up_blocks_before_expiry;
    if (tower.registered && !low && !expiring) return true;
    auto receipt = client.register_user();
    if (!receipt) {
        if (receipt.error().kind == TowerError::Kind::misbehaving) mark_misbehaving(tower.address.id, receipt.error().message);
        return tower.registered && tower.available_slots >= needed;  // carry on with what is left
    }
    tower.kit_max_blob = receipt->kit_max_blob;
    // Registered at the tower even if not recorded here; the next pass registers again (teos: it tops up).
    if (auto ok = queue_.set_registration(tower.address.id, *receipt); !ok) {
        note_queue_error("set_registration", ok.error(), &tower.address.id, nullptr);
    }
    return true;
}

void BackupWorker::note_contact(const PublicKey& tower, bool reached) {
    std::lock_guard lock(reachability_mutex_);
    reachable_[to_hex(tower.bytes())] = reached;
}

std::map<std::string, bool> BackupWorker::reachability() {
    std::lock_guard lock(reachability_mutex_);
    return reachable_;
}

std::size_t BackupWorker::run_once() {
    std::lock_guard operations(operations_mutex_);
    pass_hit_queue_error_ = false;
    auto towers = queue_.towers();
    if (!towers) {
        note_queue_error("towers", towers.error(), nullptr, nullptr);
        return 0;
    }
    std::size_t attempted = 0;
    for (auto& tower : *towers) {
        if (tower.standing != "active") continue;
        const PublicKey& id = tower.address.id;
        auto due = queue_.due(id, now_ms(), 256);
        if (!due) {
            note_queue_error("due", due.error(), &id, nullptr);
            continue;
        }
        if (due->empty()) continue;
        TeosClient& client = client_for(tower);
        if (!ensure_subscription(tower, client, due->size())) {
            for (const auto& d : *due) retry_later(id, d, "cannot register with the tower");
            continue;
        }
        for (const auto& d : *due) {
            ++attempted;
            // A penalty kit to a tower that takes kits of its size; else the classic penalty.
            const Bytes& blob = !d.backup.kit_blob.empty() && d.backup.kit_blob.size() <= tower.kit_max_blob
                                    ? d.backup.kit_blob
                                    : d.backup.encrypted_blob;
            auto receipt = client.add_appointment(d.backup.locator, blob, d.backup.to_self_delay);
            if (!receipt && receipt.error().kind == TowerError::Kind::rejected && receipt.error().code == teos::error::invalid_signature_or_subscription) {
                // Out of slots or expired: top up once and try again.
                auto registration = client.register_user();
                if (registration) {
                    if (auto ok = queue_.set_registration(id, *registration); !ok) {
                        note_queue_error("set_registration", ok.error(), &id, nullptr);
                    }
                    receipt = client.add_appointment(d.backup.locator, blob, d.backup.to_self_delay);
                }
            }
            if (receipt) {
                note_contact(id, true);
                if (auto ok = queue_.mark_acked(id, d.backup.locator, *receipt); !ok) {
                    // The tower holds it, but without the receipt on disk it is not done: keep it
                    // pending and send it again. teos: an update charges only the difference in
                    // slots, so the same blob again costs nothing.
                    note_queue_error("mark_acked", ok.error(), &id, &d.backup.locator);
                    retry_later(id, d, "receipt not recorded: " + ok.error().message);
                } else if (options_.on_acknowledged) {
                    options_.on_acknowledged(id, d.backup);
                }
                continue;
            }
            const TowerError& e = receipt.error();
            note_contact(id, e.kind != TowerError::Kind::unreachable);
            switch (e.kind) {
                case TowerError::Kind::misbehaving:
                    mark_misbehaving(id, e.message);
                    fail(id, d, e.message);
                    break;
                case TowerError::Kind::rejected:
                    if (e.code == teos::error::service_unavailable || e.code == teos::error::unexpected) {  // tower temporarily unable
                        retry_later(id, d, e.message);
                    } else {
                        fail(id, d, "tower refused (" + std::to_string(e.code) + "): " + e.message);
                    }
                    break;
                case TowerError::Kind::unreachable:
                case TowerError::Kind::bad_response:
                    retry_later(id, d, e.message);
                    break;
            }
            if (e.kind == TowerError::Kind::misbehaving) break;
            if (e.kind == TowerError::Kind::unreachable) {
                // Do not hammer a tower that is down: back the rest off too.
                for (const auto& rest : *due) {
                    if (rest.backup.locator != d.backup.locator) retry_later(id, rest, e.message);
                }
                break;
            }
        }
    }
    return attempted;
}

Status BackupWorker::audit() {
    std::lock_guard operations(operations_mutex_);
    auto towers = queue_.towers();
    if (!towers) return towers.error();
    for (const auto& tower : *towers) {
        if (tower.standing != "active") continue;
        auto acked = queue_.acked_locators(tower.address.id);
        if (!acked) return acked.error();
        TeosClient& client = client_for(tower);
        for (const auto& locator : *acked) {
            auto held = client.has_appointment(locator);
            if (held && !*held) {
                auto marked = queue_.mark_misbehaving(tower.address.id,
                                                      "denies appointment " + to_hex(locator) + " it signed a receipt for");
                if (!marked) {
                    note_queue_error("mark_misbehaving", marked.error(), &tower.address.id, &locator);
                    return marked.error();
                }
                break;
            }
        }
    }
    return {};
}

Result<std::size_t> BackupWorker::check_breaches() {
    std::lock_guard operations(operations_mutex_);
    auto towers = queue_.towers();
    if (!towers) {
        note_queue_error("towers", towers.error(), nullptr, nullptr);
        return towers.error();
    }
    std::size_t found = 0;
    std::set<std::string> breached;  // channels found breached this round: not asked about again
    for (const auto& tower : *towers) {
        if (tower.standing != "active") continue;
        const PublicKey& id = tower.address.id;
        Locator& cursor = breach_cursors_[id.bytes()];
        auto batch = queue_.breach_check_candidates(id, cursor, options_.breach_check_budget);
        if (!batch) {
            note_queue_error("breach_check_candidates", batch.error(), &id, nullptr);
            continue;
        }
        bool round_complete = true;
        TeosClient& client = client_for(tower);
        for (const auto& backup : *batch) {
            if (!backup.channel_id.empty() && breached.count(backup.channel_id) != 0) {
                cursor = backup.locator;
                continue;
            }
            auto state = client.get_appointment(backup.locator);
            if (!state) {
                note_contact(id, state.error().kind != TowerError::Kind::unreachable);
                if (state.error().kind == TowerError::Kind::unreachable) {
                    round_complete = false;  // this tower resumes here next round
                    break;
                }
                cursor = backup.locator;  // a refusal or garbage for this one: on with the rest
                continue;
            }
            note_contact(id, true);
            // not_found is the audit's business; being_watched is the usual answer.
            if (state->status == AppointmentState::Status::dispute_responded) {
                auto breach = check_dispute_report(backup, *state, id, now_ms());
                if (!breach) {
                    mark_misbehaving(id, "breach report for " + to_hex(backup.locator) + ": " + breach.error().message);
                    round_complete = false;
                    break;
                }
                auto inserted = queue_.record_breach(*breach);
                if (!inserted) {
                    // Not recorded: asked again next round.
                    note_queue_error("record_breach", inserted.error(), &id, &backup.locator);
                    round_complete = false;
                    break;
                }
                if (!backup.channel_id.empty()) breached.insert(backup.channel_id);
                if (*inserted) {
                    ++found;
                    log_event(LogLevel::warn, "breach_reported",
                              {{"channel_id", breach->channel_id},
                               {"commitnum", std::to_string(breach->commitment_number)},
                               {"dispute_txid", breach->dispute_txid.to_display_hex()},
                               {"penalty_txid", breach->penalty_txid.to_display_hex()},
                               {"tower", to_hex(id.bytes())}});
                    if (options_.on_breach) options_.on_breach(*breach);
                }
            }
            cursor = backup.locator;
        }
        // Fewer than a budget's worth left: the next round starts over.
        if (round_complete && batch->size() < options_.breach_check_budget) cursor = Locator{};
    }
    return found;
}

void BackupWorker::start() {
    thread_ = std::thread([this] {
        // The first round right after the first pass, then every interval.
        auto next_breach_check = clock_.monotonic_now();
        for (;;) {
            std::size_t attempted = run_once();
            if (options_.breach_check_interval.count() > 0 && clock_.monotonic_now() >= next_breach_check) {
                if (auto checked = check_breaches(); !checked) {
                    log_event(LogLevel::error, "breach_check_failed", {{"error", checked.error().message}});
                }
                next_breach_check = clock_.monotonic_now() + options_.breach_check_interval;
            }
            // Idle, or the queue is failing: wait rather than spin (and re-send) at full speed.
            bool pause = attempted == 0 || pass_hit_queue_error_;
            std::unique_lock lock(mutex_);
            if (stopping_) return;
            if (pause) clock_.wait_for(lock, wake_, options_.idle_wait, [&] { return stopping_ || woken_; });
            woken_ = false;
            if (stopping_) return;
        }
    });
}

void BackupWorker::wake() {
    std::lock_guard lock(mutex_);
    woken_ = true;
    wake_.notify_all();
}

void BackupWorker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        wake_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
}

}  // namespace argus::client
