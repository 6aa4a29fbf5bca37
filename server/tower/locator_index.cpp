#include "server/tower/locator_index.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace argus::tower {

namespace {
constexpr double max_load = 0.85;

}  // namespace

LocatorIndex::LocatorIndex(Rng& rng, std::size_t capacity) {
    static_assert(sizeof hash_key_ == crypto_shorthash_siphash24_KEYBYTES);
    if (!rng.fill(hash_key_)) {
        // Without a secret key the index is open to hash flooding: refuse to run.
        std::fprintf(stderr, "argus: no randomness for the locator index key\n");
        std::abort();
    }
    slots_.assign(capacity < 16 ? 16 : capacity, 0);
}

std::uint64_t LocatorIndex::key_of(const Locator& locator) {
    std::uint64_t key = 0;
    for (int i = 0; i < 8; ++i) key = (key << 8) | locator[static_cast<std::size_t>(i)];
    return key == 0 ? 1 : key;  // 0 marks an empty slot; a prefix collision only costs a read
}

std::size_t LocatorIndex::slot_of(std::uint64_t key) const {
    std::uint8_t in[8];
    for (int i = 0; i < 8; ++i) in[i] = static_cast<std::uint8_t>(key >> (8 * i));
    std::uint8_t out[crypto_shorthash_siphash24_BYTES];
    crypto_shorthash_siphash24(out, in, sizeof in, hash_key_.data());
    std::uint64_t h = 0;
    for (int i = 0; i < 8; ++i) h |= std::uint64_t{out[i]} << (8 * i);
    return static_cast<std::size_t>(h % slots_.size());
}

bool LocatorIndex::contains_locked(std::uint64_t key) const {
    for (std::size_t i = slot_of(key);; i = (i + 1) % slots_.size()) {
        if (slots_[i] == 0) return false;
        if (slots_[i] == key) return true;
    }
}

void LocatorIndex::insert_locked(std::uint64_t key) {
    std::size_t i = slot_of(key);
    while (slots_[i] != 0) i = (i + 1) % slots_.size();
    slots_[i] = key;
    ++size_;
}

void LocatorIndex::grow_locked(std::size_t capacity) {
    std::vector<std::uint64_t> old;
    old.swap(slots_);
    slots_.assign(capacity, 0);
    size_ = 0;
    for (std::uint64_t key : old) {
        if (key != 0) insert_locked(key);
    }
}

void LocatorIndex::insert(const Locator& locator) {
    std::unique_lock lock(mutex_);
    if (static_cast<double>(size_ + 1) > max_load * static_cast<double>(slots_.size())) {
        grow_locked(slots_.size() + slots_.size() / 2);
    }
    insert_locked(key_of(locator));
}

bool LocatorIndex::erase(const Locator& locator) {
    std::unique_lock lock(mutex_);
    std::uint64_t key = key_of(locator);
    std::size_t n = slots_.size();
    std::size_t i = slot_of(key);
    for (;; i = (i + 1) % n) {
        if (slots_[i] == 0) return false;
        if (slots_[i] == key) break;
    }
    // Backward-shift deletion keeps every probe run unbroken without tombstones.
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) % n; slots_[j] != 0; j = (j + 1) % n) {
        std::size_t home = slot_of(slots_[j]);
        // Move j into the hole unless its home lies cyclically in (hole, j].
        bool home_between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_between) {
            slots_[hole] = slots_[j];
            hole = j;
        }
    }
    slots_[hole] = 0;
    --size_;
    return true;
}

bool LocatorIndex::maybe_contains(const Locator& locator) const {
    std::shared_lock lock(mutex_);
    return contains_locked(key_of(locator));
}

std::vector<std::size_t> LocatorIndex::candidates(const std::vector<Locator>& locators) const {
    std::vector<std::size_t> out;
    std::shared_lock lock(mutex_);
    for (std::size_t i = 0; i < locators.size(); ++i) {
        if (contains_locked(key_of(locators[i]))) out.push_back(i);
    }
    return out;
}

void LocatorIndex::reserve(std::size_t entries) {
    std::unique_lock lock(mutex_);
    auto needed = static_cast<std::size_t>(static_cast<double>(entries) / max_load) + 1;
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
