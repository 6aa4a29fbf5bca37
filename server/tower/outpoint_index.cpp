#include "server/tower/outpoint_index.h"

#include <sodium.h>

#include <cstring>
#include <mutex>

namespace argus::tower {

OutpointIndex::OutpointIndex() : slots_(64) {
    if (sodium_init() < 0) std::abort();  // libsodium cannot start: nothing is safe to hash
    static_assert(sizeof(hash_key_) == crypto_shorthash_KEYBYTES);
    randombytes_buf(hash_key_.data(), hash_key_.size());
}

std::array<std::uint8_t, 36> OutpointIndex::key_of(const OutPoint& o) {
    std::array<std::uint8_t, 36> k{};
    std::memcpy(k.data(), o.txid.bytes.data(), 32);
    for (int i = 0; i < 4; ++i) k[32 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(o.index >> (8 * i));
    return k;
}

std::size_t OutpointIndex::home(const std::array<std::uint8_t, 36>& key, std::size_t mask) const {
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, key.data(), key.size(), hash_key_.data());
    std::uint64_t h = 0;
    std::memcpy(&h, out, sizeof h);
    return static_cast<std::size_t>(h) & mask;
}

void OutpointIndex::grow_locked() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    std::size_t mask = slots_.size() - 1;
    for (const auto& s : old) {
        if (!s.used) continue;
        for (std::size_t i = home(s.key, mask);; i = (i + 1) & mask) {
            if (!slots_[i].used) {
                slots_[i] = s;
                break;
            }
        }
    }
}

void OutpointIndex::insert(const OutPoint& outpoint) {
    auto key = key_of(outpoint);
    std::unique_lock lock(mutex_);
    if ((size_ + 1) * 2 > slots_.size()) grow_locked();
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(key, mask);; i = (i + 1) & mask) {
        if (!slots_[i].used) {
            slots_[i].key = key;
            slots_[i].used = true;
            ++size_;
            return;
        }
        if (slots_[i].key == key) return;
    }
}

bool OutpointIndex::contains(const OutPoint& outpoint) const {
    auto key = key_of(outpoint);
    std::shared_lock lock(mutex_);
    if (size_ == 0) return false;
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(key, mask);; i = (i + 1) & mask) {
        if (!slots_[i].used) return false;
        if (slots_[i].key == key) return true;
    }
}

void OutpointIndex::clear() {
    std::unique_lock lock(mutex_);
    slots_.assign(64, Slot{});
    size_ = 0;
}

std::size_t OutpointIndex::size() const {
    std::shared_lock lock(mutex_);
    return size_;
}

std::size_t OutpointIndex::memory_bytes() const {
    std::shared_lock lock(mutex_);
    return slots_.capacity() * sizeof(Slot);
}

}  // namespace argus::tower
