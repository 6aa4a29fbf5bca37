#include "client/backup/backup_worker.h"

#include "common/hex.h"

namespace argus::client {

BackupWorker::BackupWorker(BackupQueue& queue, PrivateKey user_key, Clock now_ms, BackupWorkerOptions options)
    : queue_(queue), user_key_(std::move(user_key)), now_ms_(std::move(now_ms)), options_(options) {}

BackupWorker::~BackupWorker() { stop(); }

std::int64_t BackupWorker::backoff(std::uint32_t attempts) const {
    std::int64_t delay = options_.min_backoff_ms;
    for (std::uint32_t i = 0; i < attempts && delay < options_.max_backoff_ms; ++i) delay *= 2;
    return std::min(delay, options_.max_backoff_ms);
}

TeosClient& BackupWorker::client_for(const TowerRecord& tower) {
    auto& slot = clients_[tower.address.id.bytes()];
    if (!slot || slot->tower().host != tower.address.host || slot->tower().port != tower.address.port) {
        slot = std::make_unique<TeosClient>(tower.address, user_key_, options_.tower_timeout);
    }
    return *slot;
}

bool BackupWorker::ensure_subscription(const TowerRecord& tower, TeosClient& client, std::size_t needed) {
    bool low = tower.available_slots < needed + options_.top_up_below_slots;
    bool expiring = tower.subscription_expiry <= tower.last_seen_height + options_.top_up_blocks_before_expiry;
    if (tower.registered && !low && !expiring) return true;
    auto receipt = client.register_user();
    if (!receipt) {
        if (receipt.error().kind == TowerError::Kind::misbehaving) {
            (void)queue_.mark_misbehaving(tower.address.id, receipt.error().message);
        }
        return tower.registered && tower.available_slots >= needed;  // carry on with what is left
    }
    (void)queue_.set_registration(tower.address.id, *receipt);
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
    auto towers = queue_.towers();
    if (!towers) return 0;
    std::size_t attempted = 0;
    for (const auto& tower : *towers) {
        if (tower.standing != "active") continue;
        auto due = queue_.due(tower.address.id, now_ms_(), 256);
        if (!due || due->empty()) continue;
        TeosClient& client = client_for(tower);
        if (!ensure_subscription(tower, client, due->size())) {
            for (const auto& d : *due) {
                (void)queue_.mark_retry(tower.address.id, d.backup.locator, "cannot register with the tower",
                                        now_ms_() + backoff(d.attempts));
            }
            continue;
        }
        for (const auto& d : *due) {
            ++attempted;
            auto receipt = client.add_appointment(d.backup.locator, d.backup.encrypted_blob, d.backup.to_self_delay);
            if (!receipt && receipt.error().kind == TowerError::Kind::rejected && receipt.error().code == 7) {
                // Out of slots or expired: top up once and try again.
                auto registration = client.register_user();
                if (registration) {
                    (void)queue_.set_registration(tower.address.id, *registration);
                    receipt = client.add_appointment(d.backup.locator, d.backup.encrypted_blob, d.backup.to_self_delay);
                }
            }
            if (receipt) {
                note_contact(tower.address.id, true);
                (void)queue_.mark_acked(tower.address.id, d.backup.locator, *receipt);
                continue;
            }
            const TowerError& e = receipt.error();
            note_contact(tower.address.id, e.kind != TowerError::Kind::unreachable);
            switch (e.kind) {
                case TowerError::Kind::misbehaving:
                    (void)queue_.mark_misbehaving(tower.address.id, e.message);
                    (void)queue_.mark_failed(tower.address.id, d.backup.locator, e.message);
                    break;
                case TowerError::Kind::rejected:
                    if (e.code == 32 || e.code == 255) {  // tower temporarily unable
                        (void)queue_.mark_retry(tower.address.id, d.backup.locator, e.message, now_ms_() + backoff(d.attempts));
                    } else {
                        (void)queue_.mark_failed(tower.address.id, d.backup.locator,
                                                 "tower refused (" + std::to_string(e.code) + "): " + e.message);
                    }
                    break;
                case TowerError::Kind::unreachable:
                case TowerError::Kind::bad_response:
                    (void)queue_.mark_retry(tower.address.id, d.backup.locator, e.message, now_ms_() + backoff(d.attempts));
                    break;
            }
            if (e.kind == TowerError::Kind::misbehaving) break;
            if (e.kind == TowerError::Kind::unreachable) {
                // Do not hammer a tower that is down: back the rest off too.
                for (const auto& rest : *due) {
                    if (rest.backup.locator == d.backup.locator) continue;
                    (void)queue_.mark_retry(tower.address.id, rest.backup.locator, e.message,
                                            now_ms_() + backoff(rest.attempts));
                }
                break;
            }
        }
    }
    return attempted;
}

Status BackupWorker::audit() {
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
                (void)queue_.mark_misbehaving(tower.address.id,
                                              "denies appointment " + to_hex(locator) + " it signed a receipt for");
                break;
            }
        }
    }
    return {};
}

void BackupWorker::start() {
    thread_ = std::thread([this] {
        for (;;) {
            std::size_t attempted = run_once();
            std::unique_lock lock(mutex_);
            if (stopping_) return;
            if (attempted == 0) wake_.wait_for(lock, options_.idle_wait, [&] { return stopping_ || woken_; });
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
