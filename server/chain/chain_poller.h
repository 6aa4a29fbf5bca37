// Polls bitcoind's tip and reachability. A stand-in until the chain follower
// (issue #4) processes blocks: it gives the tower its height (for subscriptions
// and start_block) and whether bitcoind is reachable (teos code 32 when not).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "server/chain/bitcoind_rpc.h"
#include "server/tower/tower_service.h"

namespace argus::chain {

class ChainPoller {
public:
    ChainPoller(BitcoindRpc& rpc, std::chrono::milliseconds interval,
                std::function<void(std::uint32_t height)> on_new_height);
    ~ChainPoller();
    void start();
    void stop();
    tower::ChainStatus status() const;
    // Polls once, synchronously (start-up waits for a first answer with this).
    bool poll_once();

private:
    void run();
    BitcoindRpc& rpc_;
    std::chrono::milliseconds interval_;
    std::function<void(std::uint32_t)> on_new_height_;
    std::atomic<std::uint32_t> height_{0};
    std::atomic<bool> reachable_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace argus::chain
