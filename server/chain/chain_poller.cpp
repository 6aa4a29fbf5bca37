#include "server/chain/chain_poller.h"

namespace argus::chain {

ChainPoller::ChainPoller(BitcoindRpc& rpc, std::chrono::milliseconds interval,
                         std::function<void(std::uint32_t)> on_new_height)
    : rpc_(rpc), interval_(interval), on_new_height_(std::move(on_new_height)) {}

ChainPoller::~ChainPoller() { stop(); }

void ChainPoller::start() {
    thread_ = std::thread([this] { run(); });
}

void ChainPoller::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

tower::ChainStatus ChainPoller::status() const { return {height_.load(), reachable_.load()}; }

bool ChainPoller::poll_once() {
    auto count = rpc_.call("getblockcount");
    if (!count || !count->is_number_unsigned()) {
        reachable_ = false;
        return false;
    }
    auto height = count->get<std::uint32_t>();
    std::uint32_t previous = height_.exchange(height);
    reachable_ = true;
    if (height != previous && on_new_height_) on_new_height_(height);
    return true;
}

void ChainPoller::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        poll_once();
        lock.lock();
        wake_.wait_for(lock, interval_, [&] { return stopping_; });
    }
}

}  // namespace argus::chain
