#include "server/chain/zmq_subscriber.h"

#include <chrono>
#include <map>
#include <zmq.hpp>

#include "log/log.h"

namespace argus::chain {

ZmqSubscriber::ZmqSubscriber(std::string endpoint, std::function<void()> on_message)
    : endpoint_(std::move(endpoint)), on_message_(std::move(on_message)) {}

ZmqSubscriber::~ZmqSubscriber() { stop(); }

void ZmqSubscriber::start() {
    thread_ = std::thread([this] { run(); });
}

void ZmqSubscriber::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
}

void ZmqSubscriber::run() {
    try {
        zmq::context_t context(1);
        zmq::socket_t socket(context, zmq::socket_type::sub);
        socket.set(zmq::sockopt::subscribe, "sequence");
        socket.set(zmq::sockopt::subscribe, "hashblock");
        socket.set(zmq::sockopt::rcvtimeo, 100);  // lets stop() and the join timer be noticed
        socket.set(zmq::sockopt::linger, 0);
        socket.connect(endpoint_);
        std::map<std::string, std::uint32_t> last_sequence;
        // ZMQ's "slow joiner": messages published before the subscription
        // reaches the publisher are dropped silently. Reconcile once the
        // subscription has had time to become live, so nothing sent in that
        // window waits for the poll timer.
        auto joined_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
        bool joined = false;
        while (!stopping_) {
            if (!joined && std::chrono::steady_clock::now() >= joined_at) {
                joined = true;
                on_message_();
            }
            zmq::message_t topic;
            if (!socket.recv(topic, zmq::recv_flags::none)) continue;
            std::vector<zmq::message_t> frames;
            while (topic.more() || (!frames.empty() && frames.back().more())) {
                zmq::message_t frame;
                if (!socket.recv(frame, zmq::recv_flags::none)) break;
                frames.push_back(std::move(frame));
                if (!frames.back().more()) break;
            }
            ++messages_;
            if (frames.size() == 2 && frames[1].size() == 4) {
                const auto* p = static_cast<const std::uint8_t*>(frames[1].data());
                std::uint32_t seq = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
                std::string name = topic.to_string();
                auto it = last_sequence.find(name);
                if (it != last_sequence.end() && seq != it->second + 1) {
                    ++gaps_;
                    log_event(LogLevel::warn, "zmq_gap", {{"topic", name}, {"expected", std::to_string(it->second + 1)},
                                                          {"got", std::to_string(seq)}});
                }
                last_sequence[name] = seq;
            }
            on_message_();
        }
    } catch (const std::exception& e) {
        log_event(LogLevel::error, "zmq_failed", {{"endpoint", endpoint_}, {"error", e.what()}});
    }
}

}  // namespace argus::chain
