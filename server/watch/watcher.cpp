#include "server/watch/watcher.h"

#include <algorithm>

#include "common/watchtower_crypto.h"

namespace argus::watch {

std::size_t Watcher::LocatorHash::operator()(const Locator& l) const {
    std::size_t h = 0;
    for (int i = 0; i < 8; ++i) h = (h << 8) | l[static_cast<std::size_t>(i)];
    return h;
}

Watcher::Watcher(store::Store& store, const tower::LocatorIndex& index, std::size_t recent_blocks)
    : store_(store), index_(index), recent_blocks_(recent_blocks) {}

std::optional<Breach> Watcher::open(const store::AppointmentRecord& appointment, const Transaction& dispute) {
    if (appointment.trigger != store::TriggerKind::txid_locator ||
        appointment.payload != store::PayloadKind::encrypted_penalty) {
        return std::nullopt;  // other front doors' kinds are not handled yet
    }
    auto plain = teos::decrypt_penalty(appointment.blob, dispute.txid());
    if (!plain) return std::nullopt;
    auto penalty = parse_transaction(*plain);
    if (!penalty) return std::nullopt;
    return Breach{appointment, dispute, std::move(*penalty)};
}

Result<BlockScan> Watcher::scan(const Block& block, const Hash256& block_hash, std::uint32_t height) {
    std::vector<Txid> txids;
    std::vector<Locator> locators;
    txids.reserve(block.transactions.size());
    locators.reserve(block.transactions.size());
    for (const auto& tx : block.transactions) {
        txids.push_back(tx.txid());
        locators.push_back(teos::locator(txids.back()));
    }
    BlockScan scan;
    std::vector<std::size_t> hits = index_.candidates(locators);
    scan.index_hits = hits.size();
    for (std::size_t i : hits) {
        auto stored = store_.find_by_locator(locators[i]);
        if (!stored) return stored.error();
        for (auto& appointment : *stored) {
            auto breach = open(appointment, block.transactions[i]);
            if (breach) {
                scan.breaches.push_back(std::move(*breach));
            } else if (appointment.trigger == store::TriggerKind::txid_locator) {
                scan.invalid.push_back({appointment.locator, appointment.user_id});
            }
        }
    }
    RecentBlock recent;
    recent.hash = block_hash;
    recent.height = height;
    for (std::size_t i = 0; i < locators.size(); ++i) recent.locators.emplace(locators[i], i);
    std::lock_guard lock(mutex_);
    recent_.push_back(std::move(recent));
    while (recent_.size() > recent_blocks_) recent_.pop_front();
    return scan;
}

void Watcher::forget_block(const Hash256& block_hash) {
    std::lock_guard lock(mutex_);
    recent_.erase(std::remove_if(recent_.begin(), recent_.end(), [&](const RecentBlock& b) { return b.hash == block_hash; }),
                  recent_.end());
}

std::optional<RecentMatch> Watcher::recent_match(const Locator& locator) const {
    std::lock_guard lock(mutex_);
    for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) {
        auto found = it->locators.find(locator);
        if (found != it->locators.end()) return RecentMatch{it->hash, it->height, found->second};
    }
    return std::nullopt;
}

}  // namespace argus::watch
