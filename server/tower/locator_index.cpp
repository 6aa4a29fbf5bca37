#include "server/tower/locator_index.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <system_error>

namespace argus::tower {

namespace {
constexpr double grow_load = 0.8;      // a larger table is built past this load
constexpr double reserve_load = 0.6;   // what `reserve` sizes for
constexpr double blocking_load = 0.93; // an insert waits for the rebuild past this
constexpr double growth = 1.5;
// Tables up to this many slots (512 KiB) are rehashed in place, under the lock:
// well under a millisecond, not worth a thread.
constexpr std::size_t background_slots = std::size_t{1} << 16;

}  // namespace

LocatorIndex::LocatorIndex(Rng& rng, std::size_t capacity, TableAllocator allocate)
    : allocate_(allocate ? std::move(allocate) : [](std::size_t slots) { return std::vector<std::uint64_t>(slots, 0); }) {
    static_assert(sizeof hash_key_ == crypto_shorthash_siphash24_KEYBYTES);
    if (!rng.fill(hash_key_)) {
        // Without a secret key the index is open to hash flooding: refuse to run.
        std::fprintf(stderr, "argus: no randomness for the locator index key\n");
        std::abort();
    }
    slots_.assign(capacity < 16 ? 16 : capacity, 0);
}

LocatorIndex::~LocatorIndex() {
    wait_for_rebuild();
    if (rebuilder_.joinable()) rebuilder_.join();
}

std::uint64_t LocatorIndex::key_of(const Locator& locator) {
    std::uint64_t key = 0;
    for (int i = 0; i < 8; ++i) key = (key << 8) | locator[static_cast<std::size_t>(i)];
    return key == 0 ? 1 : key;  // 0 marks an empty slot; a prefix collision only costs a read
}

std::uint64_t LocatorIndex::hash_of(std::uint64_t key) const {
    std::uint8_t in[8];
    for (int i = 0; i < 8; ++i) in[i] = static_cast<std::uint8_t>(key >> (8 * i));
    std::uint8_t out[crypto_shorthash_siphash24_BYTES];
    crypto_shorthash_siphash24(out, in, sizeof in, hash_key_.data());
    std::uint64_t h = 0;
    for (int i = 0; i < 8; ++i) h |= std::uint64_t{out[i]} << (8 * i);
    return h;
}

std::size_t LocatorIndex::slot_of(std::uint64_t key, std::size_t table_size) const {
    return static_cast<std::size_t>(hash_of(key) % table_size);
}

bool LocatorIndex::contains_locked(std::uint64_t key) const { return probe_locked(key, hash_of(key)); }

bool LocatorIndex::probe_locked(std::uint64_t key, std::uint64_t hash) const {
    const std::size_t n = slots_.size();
    for (std::size_t i = static_cast<std::size_t>(hash % n);;) {
        if (slots_[i] == 0) return false;
        if (slots_[i] == key) return true;
        if (++i == n) i = 0;
    }
}

void LocatorIndex::place(std::vector<std::uint64_t>& table, std::uint64_t key) const {
    place_hashed(table, key, hash_of(key));
}

void LocatorIndex::place_hashed(std::vector<std::uint64_t>& table, std::uint64_t key, std::uint64_t hash) {
    const std::size_t n = table.size();
    std::size_t i = static_cast<std::size_t>(hash % n);
    while (table[i] != 0) {
        if (++i == n) i = 0;
    }
    table[i] = key;
}

bool LocatorIndex::remove(std::vector<std::uint64_t>& table, std::uint64_t key) const {
    std::size_t n = table.size();
    std::size_t i = slot_of(key, n);
    for (;; i = (i + 1) % n) {
        if (table[i] == 0) return false;
        if (table[i] == key) break;
    }
    // Backward-shift deletion keeps every probe run unbroken without tombstones.
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) % n; table[j] != 0; j = (j + 1) % n) {
        std::size_t home = slot_of(table[j], n);
        // Move j into the hole unless its home lies cyclically in (hole, j].
        bool home_between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_between) {
            table[hole] = table[j];
            hole = j;
        }
    }
    table[hole] = 0;
    return true;
}

void LocatorIndex::grow_locked(std::size_t capacity) {
    std::vector<std::uint64_t> fresh = allocate_(capacity);  // may throw: nothing changed yet
    for (std::uint64_t key : slots_) {
        if (key != 0) place(fresh, key);
    }
    slots_.swap(fresh);
}

// The rebuilding thread, when it cannot finish: the current table stays.
void LocatorIndex::abandon_rebuild() {
    std::unique_lock lock(mutex_);
    given_up_locked();
    spoiled_ = false;
    rebuilding_ = false;
    changes_.clear();
    changes_.shrink_to_fit();
    lock.unlock();
    rebuilt_.notify_all();
}

// The rebuilding thread: the larger table from the snapshot, off the lock;
// then, under it, the changes made since, and the swap.
void LocatorIndex::rebuild(std::vector<std::uint64_t> snapshot, std::size_t capacity) {
    std::vector<std::uint64_t> fresh;
    try {
        fresh = allocate_(capacity);
    } catch (const std::bad_alloc&) {
        std::vector<std::uint64_t>().swap(snapshot);
        abandon_rebuild();
        return;
    }
    for (std::uint64_t key : snapshot) {
        if (key != 0) place(fresh, key);
    }
    std::vector<std::uint64_t>().swap(snapshot);
    std::unique_lock lock(mutex_);
    if (spoiled_) {
        lock.unlock();
        abandon_rebuild();
        return;  // the rebuilt table is freed here, off the lock
    }
    for (const Change& c : changes_) {
        if (c.inserted) {
            place(fresh, c.key);
        } else {
            remove(fresh, c.key);  // present: the erase it replays found it
        }
    }
    slots_.swap(fresh);
    changes_.clear();
    changes_.shrink_to_fit();
    rebuilding_ = false;
    ++rebuilds_;
    lock.unlock();
    rebuilt_.notify_all();
    // The old table is freed here, off the lock.
}

void LocatorIndex::given_up_locked() {
    ++rebuild_failures_;
    retry_at_size_ = size_ + std::max<std::size_t>(1, slots_.size() / 64);
}

void LocatorIndex::log_change_locked(Change change) {
    if (!rebuilding_) return;
    try {
        changes_.push_back(change);
    } catch (const std::bad_alloc&) {
        spoiled_ = true;  // the rebuilt table would miss this change: it is thrown away
    }
}

void LocatorIndex::start_growth_locked() {
    auto capacity = static_cast<std::size_t>(static_cast<double>(slots_.size()) * growth);
    try {
        if (slots_.size() < background_slots) {
            grow_locked(capacity);
            return;
        }
        if (rebuilder_.joinable()) rebuilder_.join();  // the last one has finished
        std::vector<std::uint64_t> snapshot = allocate_(slots_.size());
        std::copy(slots_.begin(), slots_.end(), snapshot.begin());
        // The thread waits for this lock before it swaps anything.
        rebuilder_ = std::thread([this, snapshot = std::move(snapshot), capacity]() mutable {
            rebuild(std::move(snapshot), capacity);
        });
        rebuilding_ = true;
    } catch (const std::bad_alloc&) {
        given_up_locked();
    } catch (const std::system_error&) {  // no thread to be had: as short of memory
        given_up_locked();
    }
}

void LocatorIndex::insert(const Locator& locator) {
    std::uint64_t key = key_of(locator);
    std::uint64_t hash = hash_of(key);
    std::unique_lock lock(mutex_);
    insert_locked(lock, key, hash);
}

// Many at once (the index load): hashed off the lock, then one lock for a
// chunk, whose slots are all prefetched before any is placed, so that the
// cache misses of a table far larger than the cache overlap.
void LocatorIndex::insert_all(std::span<const Locator> locators) {
    constexpr std::size_t chunk = 256;
    std::array<std::uint64_t, chunk> keys{}, hashes{};
    for (std::size_t at = 0; at < locators.size(); at += chunk) {
        std::size_t n = std::min(chunk, locators.size() - at);
        for (std::size_t i = 0; i < n; ++i) {
            keys[i] = key_of(locators[at + i]);
            hashes[i] = hash_of(keys[i]);
        }
        std::unique_lock lock(mutex_);
        for (std::size_t i = 0; i < n; ++i) __builtin_prefetch(&slots_[hashes[i] % slots_.size()], 1);
        for (std::size_t i = 0; i < n; ++i) insert_locked(lock, keys[i], hashes[i]);
    }
}

void LocatorIndex::insert_locked(std::unique_lock<std::shared_mutex>& lock, std::uint64_t key, std::uint64_t hash) {
    auto load_after = [&] { return static_cast<double>(size_ + 1) / static_cast<double>(slots_.size()); };
    while (rebuilding_ && load_after() > blocking_load) rebuilt_.wait(lock);
    if (!rebuilding_ && load_after() > grow_load && size_ >= retry_at_size_) start_growth_locked();
    // No rebuild to wait for (none could start): grow in place if memory
    // allows, tried again only as a rebuild is (every 1/64 of the table more
    // inserts), not at every insert, and always before the last empty slot.
    bool last_slot = size_ + 2 > slots_.size();
    if (!rebuilding_ && load_after() > blocking_load && (size_ >= retry_at_size_ || last_slot)) {
        auto capacity = static_cast<std::size_t>(static_cast<double>(slots_.size()) * growth);
        try {
            grow_locked(capacity);
        } catch (const std::bad_alloc&) {
            given_up_locked();
            if (last_slot) {
                // Probing needs one empty slot; a locator left out is a breach missed.
                std::fprintf(stderr, "argus: out of memory for the locator index at %zu entries\n", size_);
                std::abort();
            }
        }
    }
    place_hashed(slots_, key, hash);
    ++size_;
    log_change_locked(Change{true, key});
}

bool LocatorIndex::erase(const Locator& locator) {
    std::unique_lock lock(mutex_);
    std::uint64_t key = key_of(locator);
    if (!remove(slots_, key)) return false;
    --size_;
    log_change_locked(Change{false, key});
    return true;
}

void LocatorIndex::wait_for_rebuild() {
    std::unique_lock lock(mutex_);
    while (rebuilding_) rebuilt_.wait(lock);
}

std::size_t LocatorIndex::rebuilds() const {
    std::shared_lock lock(mutex_);
    return rebuilds_;
}

std::size_t LocatorIndex::rebuild_failures() const {
    std::shared_lock lock(mutex_);
    return rebuild_failures_;
}

bool LocatorIndex::maybe_contains(const Locator& locator) const {
    std::shared_lock lock(mutex_);
    return contains_locked(key_of(locator));
}

// A block's keys (20,000 for a full one): hashed off the lock, then probed a
// chunk at a time with every chunk's first slots prefetched, so that the
// cache misses of a table far larger than the cache overlap (as insert_all).
std::vector<std::size_t> LocatorIndex::candidates(const std::vector<Locator>& locators) const {
    std::vector<std::uint64_t> keys(locators.size()), hashes(locators.size());
    for (std::size_t i = 0; i < locators.size(); ++i) {
        keys[i] = key_of(locators[i]);
        hashes[i] = hash_of(keys[i]);
    }
    constexpr std::size_t chunk = 64;
    std::vector<std::size_t> out;
    std::shared_lock lock(mutex_);
    const std::size_t n = slots_.size();
    for (std::size_t at = 0; at < keys.size(); at += chunk) {
        std::size_t end = std::min(keys.size(), at + chunk);
        for (std::size_t i = at; i < end; ++i) __builtin_prefetch(&slots_[hashes[i] % n]);
        for (std::size_t i = at; i < end; ++i) {
            if (probe_locked(keys[i], hashes[i])) out.push_back(i);
        }
    }
    return out;
}

// At start-up, before the tower serves: sized so that the first writes do
// not start a rebuild at once.
void LocatorIndex::reserve(std::size_t entries) {
    std::unique_lock lock(mutex_);
    while (rebuilding_) rebuilt_.wait(lock);
    auto needed = static_cast<std::size_t>(static_cast<double>(entries) / reserve_load) + 1;
    if (needed > slots_.size()) grow_locked(needed);
}

std::size_t LocatorIndex::size() const {
    std::shared_lock lock(mutex_);
    return size_;
}

std::size_t LocatorIndex::longest_run() const {
    std::shared_lock lock(mutex_);
    std::size_t longest = 0, run = 0;
    // Twice round, so a run that wraps past the end is counted whole.
    for (std::size_t i = 0; i < 2 * slots_.size(); ++i) {
        run = slots_[i % slots_.size()] != 0 ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    return std::min(longest, slots_.size());
}

std::size_t LocatorIndex::memory_bytes() const {
    std::shared_lock lock(mutex_);
    return slots_.size() * sizeof(std::uint64_t);
}

}  // namespace argus::tower
