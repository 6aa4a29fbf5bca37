// The funding outpoints the tower watches (channel monitoring: Electrum's
// get_ctn registers them), checked against every input of every block in the
// same pass as the txid locators. Open addressing, linear probing, keys
// hashed with SipHash-2-4 under a per-process random key (registrants cannot
// aim collisions); one slot is 37 bytes (36-byte outpoint, a used flag)
// and the table stays at most half full, so an entry costs 74-148 bytes
// (77.6 measured at 10^6) (memory_bytes() reports it; tests/unit/server/outpoint_index_test.cpp
// measures it). Thread-safe: the API inserts, the watcher looks up.
#pragma once

#include <array>
#include <cstdint>
#include <shared_mutex>
#include <vector>

#include "common/transaction.h"

namespace argus::tower {

class OutpointIndex {
public:
    OutpointIndex();
    void insert(const OutPoint& outpoint);
    bool contains(const OutPoint& outpoint) const;
    void clear();
    std::size_t size() const;
    std::size_t memory_bytes() const;

private:
    struct Slot {
        std::array<std::uint8_t, 36> key{};
        bool used = false;
    };
    static std::array<std::uint8_t, 36> key_of(const OutPoint& o);
    std::size_t home(const std::array<std::uint8_t, 36>& key, std::size_t mask) const;
    void grow_locked();

    std::array<std::uint8_t, 16> hash_key_{};
    mutable std::shared_mutex mutex_;
    std::vector<Slot> slots_;
    std::size_t size_ = 0;
};

}  // namespace argus::tower
