// Sends queued backups to every tower: registers (and tops up before slots or
// the subscription run out), uploads, verifies and stores receipts, retries an
// unreachable tower with exponential backoff, and marks a tower misbehaving
// when a receipt fails verification or it denies an appointment it signed for.
// The clock is injected; the thread only waits on it.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "client/backup/backup_queue.h"

namespace argus::client {

struct BackupWorkerOptions {
    std::chrono::milliseconds tower_timeout{10'000};
    std::int64_t min_backoff_ms = 500;
    std::int64_t max_backoff_ms = 60'000;
    std::uint32_t top_up_below_slots = 10;       // re-register when fewer slots remain
    std::uint32_t top_up_blocks_before_expiry = 144;
    std::chrono::milliseconds idle_wait{1'000};
};

class BackupWorker {
public:
    using Clock = std::function<std::int64_t()>;  // milliseconds
    BackupWorker(BackupQueue& queue, PrivateKey user_key, Clock now_ms, BackupWorkerOptions options = {});
    ~BackupWorker();

    // One pass over every tower's due deliveries. Returns how many were attempted.
    std::size_t run_once();
    // Asks each tower for every locator it acknowledged; a missing one marks it misbehaving.
    Status audit();
    void start();
    void stop();
    void wake();
    // Whether each tower answered the last attempt to reach it (tower id hex -> reachable).
    std::map<std::string, bool> reachability();

private:
    TeosClient& client_for(const TowerRecord& tower);
    bool ensure_subscription(const TowerRecord& tower, TeosClient& client, std::size_t needed);
    std::int64_t backoff(std::uint32_t attempts) const;

    BackupQueue& queue_;
    PrivateKey user_key_;
    Clock now_ms_;
    BackupWorkerOptions options_;
    std::map<ByteArray<33>, std::unique_ptr<TeosClient>> clients_;
    void note_contact(const PublicKey& tower, bool reached);
    std::mutex reachability_mutex_;
    std::map<std::string, bool> reachable_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool woken_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace argus::client
