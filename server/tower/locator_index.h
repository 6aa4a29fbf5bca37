// Compact in-memory index of stored locators, so the watcher reads the
// database only for candidate matches. An open-addressing multiset of the
// locators' first 8 bytes (linear probing, backward-shift deletion): 8 bytes a
// slot, load kept between ~0.57 and 0.85, so 9.4-14.1 bytes per appointment.
// A hit means "maybe stored" (prefix match); a miss means "certainly not".
// Thread-safe: lookups share a lock, changes take it exclusively.
#pragma once

#include <array>
#include <cstdint>
#include <shared_mutex>
#include <vector>

#include "common/context.h"
#include "common/watchtower_crypto.h"

namespace argus::tower {

class LocatorIndex {
public:
    // The slot hash is SipHash-2-4 keyed with 16 bytes from `rng`, drawn once:
    // users choose their locators, and without the key they cannot choose
    // ones that pile into one probe run and slow every block's lookups.
    explicit LocatorIndex(Rng& rng, std::size_t capacity = 1024);

    void insert(const Locator& locator);
    bool erase(const Locator& locator);  // removes one occurrence
    bool maybe_contains(const Locator& locator) const;
    // Indexes of `locators` that may be stored, under one lock.
    std::vector<std::size_t> candidates(const std::vector<Locator>& locators) const;
    void reserve(std::size_t entries);

    std::size_t size() const;
    std::size_t memory_bytes() const;
    // The longest run of occupied slots: what the slowest lookup probes.
    std::size_t longest_run() const;

private:
    static std::uint64_t key_of(const Locator& locator);
    std::size_t slot_of(std::uint64_t key) const;
    bool contains_locked(std::uint64_t key) const;
    void insert_locked(std::uint64_t key);
    void grow_locked(std::size_t capacity);

    mutable std::shared_mutex mutex_;
    std::array<std::uint8_t, 16> hash_key_{};
    std::vector<std::uint64_t> slots_;  // 0 = empty
    std::size_t size_ = 0;
};

}  // namespace argus::tower
