// Sends queued backups to every tower: registers (and tops up before slots or
// the subscription run out), uploads, verifies and stores receipts, retries an
// unreachable tower with exponential backoff, and marks a tower misbehaving
// when a receipt fails verification or it denies an appointment it signed for.
//
// Time comes from an injected Clock: due times stored in the queue are wall
// clock (they outlive the process), the thread's idle wait is monotonic.
//
// A queue write that fails is logged and counted (queue_errors(), exported as
// argus_client_queue_errors_total) and never taken for done: a delivery whose
// receipt could not be recorded stays pending and is sent again later, which
// a teos tower treats as an update of the same size (no slot charged).
//
// Breaches: every `breach_check_interval` the worker asks each active tower
// (get_appointment) about the backups it acknowledged for channels with no
// recorded breach, at most `breach_check_budget` per tower per round, going
// round the backups in locator order from where the last round stopped. So a
// node with up to `breach_check_budget` backups per tower has every one asked
// each round, and a larger one each of them once every
// ceil(backups / budget) rounds. (Only the latest commitments would be the
// wrong subset: a cheating peer broadcasts whichever old state pays it best.)
// A "dispute_responded" answer is checked against the backup
// (check_dispute_report) and recorded durably; a report that contradicts the
// backup marks the tower misbehaving.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "client/backup/backup_queue.h"
#include "common/context.h"

namespace argus::client {

struct BackupWorkerOptions {
    std::chrono::milliseconds tower_timeout{10'000};
    std::int64_t min_backoff_ms = 500;
    std::int64_t max_backoff_ms = 60'000;
    std::uint32_t top_up_below_slots = 10;       // re-register when fewer slots remain
    std::uint32_t top_up_blocks_before_expiry = 144;
    std::chrono::milliseconds idle_wait{1'000};  // also the pause after a pass that hit queue errors
    std::chrono::milliseconds breach_check_interval{300'000};  // 0: no periodic breach checks
    std::size_t breach_check_budget = 200;                      // get_appointment requests per tower per round
    // Called on the worker's thread (or the caller's, for run_once and
    // check_breaches), after the queue recorded the fact.
    std::function<void(const PublicKey& tower, const BackupRecord& backup)> on_acknowledged;
    std::function<void(const BreachRecord& breach)> on_breach;
};

class BackupWorker {
public:
    BackupWorker(BackupQueue& queue, PrivateKey user_key, Clock& clock, BackupWorkerOptions options = {});
    ~BackupWorker();

    // One pass over every tower's due deliveries. Returns how many were attempted.
    std::size_t run_once();
    // Asks each tower for every locator it acknowledged; a missing one marks it misbehaving.
    Status audit();
    // One round of breach checks (see above). Returns how many new breaches were recorded.
    Result<std::size_t> check_breaches();
    void start();
    void stop();
    void wake();
    // Whether each tower answered the last attempt to reach it (tower id hex -> reachable).
    std::map<std::string, bool> reachability();
    // Failed queue operations since start, by operation name (mark_acked, mark_retry, ...).
    std::map<std::string, std::uint64_t> queue_errors();

private:
    TeosClient& client_for(const TowerRecord& tower);
    // Registers or tops up when needed; `tower` learns what a new receipt says (kits).
    bool ensure_subscription(TowerRecord& tower, TeosClient& client, std::size_t needed);
    std::int64_t backoff(std::uint32_t attempts) const;
    std::int64_t now_ms();
    // Logs and counts a failed queue operation (no secrets: ids and locators only).
    void note_queue_error(const char* operation, const Error& error, const PublicKey* tower, const Locator* locator);
    void retry_later(const PublicKey& tower, const Delivery& delivery, const std::string& why);
    void fail(const PublicKey& tower, const Delivery& delivery, const std::string& why);
    void mark_misbehaving(const PublicKey& tower, const std::string& why);
    void note_contact(const PublicKey& tower, bool reached);

    BackupQueue& queue_;
    PrivateKey user_key_;
    // Held by run_once, audit and check_breaches: they share clients_ (and
    // each TeosClient's one connection), and audit comes from the API thread.
    std::mutex operations_mutex_;
    std::map<ByteArray<33>, Locator> breach_cursors_;  // per tower: the last locator asked about
    Clock& clock_;
    BackupWorkerOptions options_;
    std::map<ByteArray<33>, std::unique_ptr<TeosClient>> clients_;
    std::mutex reachability_mutex_;
    std::map<std::string, bool> reachable_;
    std::mutex errors_mutex_;
    std::map<std::string, std::uint64_t> queue_errors_;
    std::atomic<bool> pass_hit_queue_error_{false};  // set by note_queue_error, read after a pass
    std::mutex mutex_;
    std::condition_variable wake_;
    bool woken_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace argus::client
