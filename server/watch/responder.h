// The responder: broadcasts penalties and follows them to a safe depth. A
// tracker lives beside its appointment (which stays stored and indexed), so a
// reorg that removes the dispute simply drops the tracker and the appointment
// is watched again.
// Decisions are proposed (returned) and applied only after the caller has made
// them durable, so a crash between the two replays the block instead of
// forgetting a tracker. rust-teos behaviour: -27 (already in chain) counts as
// responded; -25/-26/-22 rejections drop the appointment; a penalty missing
// from the mempool `rebroadcast_after` blocks after its broadcast is sent again
// (with its dispute); a penalty `resolve_depth` deep is resolved and the
// user's slots refunded.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/chain/chain_source.h"
#include "server/store/store.h"
#include "server/watch/watcher.h"

namespace argus::watch {

struct ResponderOptions {
    std::uint32_t resolve_depth = 100;      // rust-teos IRREVOCABLY_RESOLVED
    std::uint32_t rebroadcast_after = 6;
};

struct BreachOutcome {
    enum class Kind { tracked, rejected, unavailable } kind = Kind::unavailable;
    std::optional<store::TrackerRecord> tracker;
    std::string reason;
};

struct TrackerChanges {
    std::vector<store::TrackerRecord> updated;   // confirmed, unconfirmed by a reorg, or rebroadcast
    std::vector<store::TrackerRecord> resolved;  // deep enough: delete with the appointment, refund
    std::vector<store::TrackerRecord> undone;    // their dispute was reorged out: back to watching
    std::size_t rebroadcasts = 0;
    std::size_t confirmed = 0;
};

class Responder {
public:
    Responder(chain::Broadcaster& broadcaster, ResponderOptions options = {});

    void load(const std::vector<store::TrackerRecord>& trackers);
    BreachOutcome handle_breach(const Breach& breach, std::uint32_t height);
    Result<TrackerChanges> on_block_connected(const Block& block, std::uint32_t height);
    Result<TrackerChanges> on_block_disconnected(const Block& block, std::uint32_t height);
    // After the changes are durable.
    void apply(const std::vector<store::TrackerRecord>& added, const TrackerChanges& changes);

    std::optional<store::TrackerRecord> find(const Locator& locator, const store::UserId& user) const;
    std::vector<store::TrackerRecord> all() const;
    std::size_t size() const;

private:
    using Key = std::pair<Locator, store::UserId>;
    Status rebroadcast(store::TrackerRecord& tracker, std::uint32_t height);

    chain::Broadcaster& broadcaster_;
    ResponderOptions options_;
    mutable std::mutex mutex_;
    std::map<Key, store::TrackerRecord> trackers_;
};

}  // namespace argus::watch
