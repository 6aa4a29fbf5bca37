// Compact in-memory index of stored locators, so the watcher reads the
// database only for candidate matches. An open-addressing multiset of the
// locators' first 8 bytes (linear probing, backward-shift deletion): 8 bytes a
// slot, load kept between ~0.53 and 0.8 (0.6 after `reserve`), so 10-15 bytes
// per appointment.
// A hit means "maybe stored" (prefix match); a miss means "certainly not".
// Thread-safe: lookups share a lock, changes take it exclusively.
//
// Growing a large table rehashes every entry (about a second at 10^7), so it
// never happens under the lock: a thread rebuilds the larger table from a
// snapshot while lookups and changes go on in the current one (changes are
// also logged), then replays the log and swaps, under the lock, in
// milliseconds. Only a table filled to 0.93 while a rebuild is under way makes
// an insert wait for it. While rebuilding, memory is the snapshot and the new
// table on top of the current one (28 bytes a slot of the current table).
//
// Out of memory: a rebuild that cannot allocate is given up (counted in
// `rebuild_failures`) and tried again after 1/64 of the table more inserts;
// past 0.93 the table grows in place if it can, and else keeps filling (slower
// probes, nothing lost). Only an insert that would take the last empty slot
// with no memory to grow aborts the tower: a locator it cannot index would be
// a breach it cannot see.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <thread>
#include <vector>

#include "common/context.h"
#include "common/watchtower_crypto.h"

namespace argus::tower {

class LocatorIndex {
public:
    // The slot hash is SipHash-2-4 keyed with 16 bytes from `rng`, drawn once:
    // users choose their locators, and without the key they cannot choose
    // ones that pile into one probe run and slow every block's lookups.
    // `allocate` makes a zeroed table of that many slots (std::bad_alloc when
    // it cannot); tests inject one that fails.
    using TableAllocator = std::function<std::vector<std::uint64_t>(std::size_t slots)>;
    explicit LocatorIndex(Rng& rng, std::size_t capacity = 1024, TableAllocator allocate = {});
    ~LocatorIndex();  // waits for a rebuild under way
    LocatorIndex(const LocatorIndex&) = delete;
    LocatorIndex& operator=(const LocatorIndex&) = delete;

    void insert(const Locator& locator);
    // The same as inserting each, faster: the index load's way.
    void insert_all(std::span<const Locator> locators);
    bool erase(const Locator& locator);  // removes one occurrence
    bool maybe_contains(const Locator& locator) const;
    // Indexes of `locators` that may be stored, under one lock.
    std::vector<std::size_t> candidates(const std::vector<Locator>& locators) const;
    void reserve(std::size_t entries);

    std::size_t size() const;
    std::size_t memory_bytes() const;
    // The longest run of occupied slots: what the slowest lookup probes.
    std::size_t longest_run() const;
    // Blocks until no rebuild is under way (tests; the destructor).
    void wait_for_rebuild();
    std::size_t rebuilds() const;  // background rebuilds finished
    std::size_t rebuild_failures() const;  // growths given up for want of memory

private:
    struct Change {
        bool inserted;  // else erased
        std::uint64_t key;
    };
    static std::uint64_t key_of(const Locator& locator);
    std::uint64_t hash_of(std::uint64_t key) const;
    std::size_t slot_of(std::uint64_t key, std::size_t table_size) const;
    bool contains_locked(std::uint64_t key) const;
    bool probe_locked(std::uint64_t key, std::uint64_t hash) const;
    void place(std::vector<std::uint64_t>& table, std::uint64_t key) const;
    static void place_hashed(std::vector<std::uint64_t>& table, std::uint64_t key, std::uint64_t hash);
    void insert_locked(std::unique_lock<std::shared_mutex>& lock, std::uint64_t key, std::uint64_t hash);
    bool remove(std::vector<std::uint64_t>& table, std::uint64_t key) const;
    void grow_locked(std::size_t capacity);
    // Starts a background rebuild, or grows in place when small (lock held).
    void start_growth_locked();
    void rebuild(std::vector<std::uint64_t> snapshot, std::size_t capacity);
    void given_up_locked();  // a growth failed for want of memory
    void abandon_rebuild();  // the rebuilding thread's way out
    void log_change_locked(Change change);  // while rebuilding

    mutable std::shared_mutex mutex_;
    std::array<std::uint8_t, 16> hash_key_{};
    std::vector<std::uint64_t> slots_;  // 0 = empty
    std::size_t size_ = 0;
    bool rebuilding_ = false;
    std::vector<Change> changes_;  // made since the rebuild's snapshot
    bool spoiled_ = false;  // a change could not be logged: the rebuild is discarded
    std::size_t rebuilds_ = 0;
    std::size_t rebuild_failures_ = 0;
    std::size_t retry_at_size_ = 0;  // after a failure, no growth below this size
    TableAllocator allocate_;
    std::condition_variable_any rebuilt_;
    std::thread rebuilder_;
};

}  // namespace argus::tower
