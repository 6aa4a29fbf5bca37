#include "net/connection_table.h"

#include <boost/asio/ip/address.hpp>
#include <vector>

namespace argus::api {

namespace net = boost::asio;

namespace {

// An IPv4 address, or the /64 an IPv6 host usually holds (v4-mapped: the IPv4).
struct Source {
    std::string key;
    bool loopback = false;
};

Source source_of(const std::string& peer_address) {
    boost::system::error_code ec;
    auto address = net::ip::make_address(peer_address, ec);
    if (ec) return {peer_address, false};
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
    }
    if (address.is_v4()) return {address.to_string(), address.is_loopback()};
    auto bytes = address.to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return {net::ip::address_v6(bytes).to_string() + "/64", address.is_loopback()};
}

}  // namespace

std::shared_ptr<ConnectionSlot> ConnectionTable::admit(const std::string& peer_address, Clock::time_point now) {
    Source source = source_of(peer_address);
    auto slot = std::make_shared<ConnectionSlot>();
    slot->enter(ConnectionPhase::receiving, now);
    slot->source_ = std::move(source.key);
    std::shared_ptr<EvictableConnection> evicted;
    {
        std::lock_guard lock(mutex_);
        slot->limited_ = limits_.max_connections_per_source > 0 && (!source.loopback || limits_.limit_loopback_sources);
        ++accepted_;
        std::shared_ptr<ConnectionSlot> victim;
        bool source_full = slot->limited_ && per_source_[slot->source_] >= limits_.max_connections_per_source;
        if (source_full || slots_.size() >= limits_.max_connections) {
            victim = choose_victim_locked(source_full ? &slot->source_ : nullptr, now);
            if (!victim) {
                ++refused_;
                if (slot->limited_ && per_source_[slot->source_] == 0) per_source_.erase(slot->source_);
                return nullptr;
            }
            if (source_full) {
                ++evicted_per_source_;
            } else {
                ++(victim->phase_.load(std::memory_order_relaxed) == ConnectionPhase::waiting ? evicted_idle_
                                                                                              : evicted_stalled_);
            }
            evicted = victim->owner_.lock();
            remove_locked(victim);
        }
        slot->position_ = slots_.insert(slots_.end(), slot);
        if (slot->limited_) ++per_source_[slot->source_];
    }
    if (evicted) evicted->evict();  // outside the lock: it posts to the victim's executor
    return slot;
}

void ConnectionTable::set_limits(ConnectionLimits limits) {
    std::lock_guard lock(mutex_);
    limits_ = limits;
}

void ConnectionTable::evict_waiting() {
    std::vector<std::shared_ptr<EvictableConnection>> idle;
    {
        std::lock_guard lock(mutex_);
        for (auto it = slots_.begin(); it != slots_.end();) {
            auto slot = *it++;
            if (slot->phase_.load(std::memory_order_relaxed) != ConnectionPhase::waiting) continue;
            if (auto owner = slot->owner_.lock()) idle.push_back(std::move(owner));
        }
    }
    for (auto& connection : idle) connection->evict_if_waiting();
}

std::array<std::size_t, 3> ConnectionTable::phases() const {
    std::array<std::size_t, 3> out{};
    std::lock_guard lock(mutex_);
    for (const auto& slot : slots_) ++out[static_cast<std::size_t>(slot->phase_.load(std::memory_order_relaxed))];
    return out;
}

void ConnectionTable::bind(const std::shared_ptr<ConnectionSlot>& slot, std::weak_ptr<EvictableConnection> owner) {
    std::lock_guard lock(mutex_);
    slot->owner_ = std::move(owner);
}

void ConnectionTable::release(const std::shared_ptr<ConnectionSlot>& slot) {
    if (!slot) return;
    std::lock_guard lock(mutex_);
    if (!slot->removed_) remove_locked(slot);
}

void ConnectionTable::remove_locked(const std::shared_ptr<ConnectionSlot>& slot) {
    slot->removed_ = true;
    if (slot->limited_) {
        auto it = per_source_.find(slot->source_);
        if (it != per_source_.end() && --it->second == 0) per_source_.erase(it);
    }
    slots_.erase(slot->position_);
}

std::shared_ptr<ConnectionSlot> ConnectionTable::choose_victim_locked(const std::string* source,
                                                                      Clock::time_point now) const {
    const Clock::rep now_count = now.time_since_epoch().count();
    std::shared_ptr<ConnectionSlot> best;
    Clock::rep best_age = 0;
    for (const auto& slot : slots_) {
        if (source && slot->source_ != *source) continue;
        if (slot->phase_.load(std::memory_order_relaxed) == ConnectionPhase::busy || slot->owner_.expired()) continue;
        Clock::rep age = now_count - slot->since_.load(std::memory_order_relaxed);
        if (!best || age > best_age) {
            best = slot;
            best_age = age;
        }
    }
    return best;
}

ConnectionStats ConnectionTable::stats() const {
    std::lock_guard lock(mutex_);
    ConnectionStats s;
    s.accepted = accepted_;
    s.open = slots_.size();
    s.refused = refused_;
    s.evicted_idle = evicted_idle_;
    s.evicted_stalled = evicted_stalled_;
    s.evicted_per_source = evicted_per_source_;
    s.slow_transfer = slow_transfer_.load(std::memory_order_relaxed);
    return s;
}

std::size_t ConnectionTable::open() const {
    std::lock_guard lock(mutex_);
    return slots_.size();
}

}  // namespace argus::api
