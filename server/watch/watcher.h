// The watcher: finds the appointments a block breaches. For each transaction
// it derives the teos locator (the txid's first 16 bytes), asks the in-memory
// index which may be stored, reads only those from the store, and decrypts each
// with the txid-derived key. A blob that fails to decrypt or parse is invalid
// (rust-teos drops such appointments). It remembers the locators of the last
// few blocks so an appointment arriving just after its breach still triggers.
#pragma once

#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/block.h"
#include "server/store/store.h"
#include "server/tower/locator_index.h"

namespace argus::watch {

struct Breach {
    store::AppointmentRecord appointment;
    Transaction dispute;
    Transaction penalty;
};

struct BlockScan {
    std::vector<Breach> breaches;
    std::vector<store::AppointmentKey> invalid;  // matched, but the blob did not open
    std::size_t index_hits = 0;                  // locators the index could not rule out
};

struct RecentMatch {
    Hash256 block_hash{};
    std::uint32_t height = 0;
    std::size_t transaction_index = 0;
};

class Watcher {
public:
    Watcher(store::Store& store, const tower::LocatorIndex& index, std::size_t recent_blocks = 6);

    Result<BlockScan> scan(const Block& block, const Hash256& block_hash, std::uint32_t height);
    void forget_block(const Hash256& block_hash);  // disconnected: no longer a recent breach
    std::optional<RecentMatch> recent_match(const Locator& locator) const;

    // Decrypts the appointment with the dispute's txid and parses the penalty.
    static std::optional<Breach> open(const store::AppointmentRecord& appointment, const Transaction& dispute);

private:
    struct LocatorHash {
        std::size_t operator()(const Locator& l) const;
    };
    struct RecentBlock {
        Hash256 hash{};
        std::uint32_t height = 0;
        std::unordered_map<Locator, std::size_t, LocatorHash> locators;  // -> transaction index
    };

    store::Store& store_;
    const tower::LocatorIndex& index_;
    std::size_t recent_blocks_;
    mutable std::mutex mutex_;
    std::deque<RecentBlock> recent_;
};

}  // namespace argus::watch
