// Subscribes to bitcoind's ZMQ `sequence` and `hashblock` topics. A message is
// only a wake-up for the chain follower, which reconciles over RPC; gaps in a
// topic's 4-byte little-endian sequence number (lost messages) are counted.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace argus::chain {

class ZmqSubscriber {
public:
    ZmqSubscriber(std::string endpoint, std::function<void()> on_message);
    ~ZmqSubscriber();
    void start();
    void stop();
    std::uint64_t messages() const { return messages_; }
    std::uint64_t gaps() const { return gaps_; }

private:
    void run();
    std::string endpoint_;
    std::function<void()> on_message_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> messages_{0};
    std::atomic<std::uint64_t> gaps_{0};
    std::thread thread_;
};

}  // namespace argus::chain
