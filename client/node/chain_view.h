// The client's own view of the chain, as a pure decision core: blocks in,
// records out (the adapter, chain_watch.h, reads blocks from bitcoind and
// writes the records). It watches each channel's funding outpoint and the
// penalty transactions it knows of, and says:
//   - a funding outpoint was spent, by what and how: a breach when the
//     spending transaction is a revoked commitment the client backed up, a
//     unilateral close when it carries BOLT 3's commitment marks, else a
//     cooperative close;
//   - a known penalty transaction was mined (a breach's own justice
//     transaction, or one a tower reported), so its confirmations are known;
//   - a block that carried either was disconnected: the record goes again.
// No I/O, no clock: the same blocks give the same actions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/block.h"

namespace argus::client {

enum class CloseType { cooperative, unilateral, breach };
const char* to_string(CloseType type);
std::optional<CloseType> close_type_from_string(std::string_view text);

// A revoked commitment the client backed up, with its justice transaction's txid.
struct RevokedCommitment {
    std::string channel_id;
    std::uint64_t commitment_number = 0;
    Txid commitment_txid;
    Txid penalty_txid;
};

struct ObservedClose {
    std::string channel_id;
    OutPoint funding;
    Txid closing_txid;
    std::uint32_t height = 0;
    Hash256 block_hash{};  // internal order
    CloseType type = CloseType::cooperative;
    std::optional<std::uint64_t> commitment_number;  // breach: the revoked state
    std::optional<Txid> penalty_txid;                // breach: the client's justice transaction
};

// A penalty transaction seen in a block.
struct PenaltyConfirmation {
    std::string channel_id;
    Txid penalty_txid;
    std::uint32_t height = 0;
    Hash256 block_hash{};
};

struct ChainTip {
    std::uint32_t height = 0;
    Hash256 hash{};  // internal order
};

// Events.
struct ChainBlockConnected {
    std::uint32_t height = 0;
    const Block* block = nullptr;  // its header's previous_block is the current tip
};
struct ChainBlockDisconnected {
    std::uint32_t height = 0;  // the tip's height
    Hash256 hash{};            // the tip's hash
    Hash256 parent{};          // its parent: the tip afterwards
};
using ChainEvent = std::variant<ChainBlockConnected, ChainBlockDisconnected>;

// Actions, applied in order (in one transaction per event).
struct RecordClose {
    ObservedClose close;
};
struct ForgetClose {
    std::string channel_id;
};
struct RecordPenaltyConfirmation {
    PenaltyConfirmation confirmation;
};
struct ForgetPenaltyConfirmation {
    std::string channel_id;
    Txid penalty_txid;
};
struct SetChainTip {
    ChainTip tip;
};
using ChainAction = std::variant<RecordClose, ForgetClose, RecordPenaltyConfirmation, ForgetPenaltyConfirmation, SetChainTip>;

class ChainView {
public:
    // A channel whose funding outpoint to watch. A channel has one outpoint;
    // registering it again with the same outpoint changes nothing, with
    // another one replaces it (a spliced or re-registered channel).
    void watch_funding(const std::string& channel_id, const OutPoint& funding);
    void add_revoked(const RevokedCommitment& revoked);
    // A penalty (a tower's report) whose confirmation to follow.
    void watch_penalty(const std::string& channel_id, const Txid& penalty_txid);
    // What the records said at the last start.
    void restore(std::optional<ChainTip> tip, const std::vector<ObservedClose>& closes,
                 const std::vector<PenaltyConfirmation>& confirmations);

    std::vector<ChainAction> handle(const ChainEvent& event);

    std::optional<ChainTip> tip() const { return tip_; }
    const std::map<std::string, ObservedClose>& closes() const { return closes_; }
    // Confirmations of a channel's penalty at the current tip (0: not mined).
    std::uint32_t penalty_confirmations(const std::string& channel_id, const Txid& penalty_txid) const;
    std::size_t watched_fundings() const { return fundings_.size(); }

private:
    std::vector<ChainAction> on_connected(const ChainBlockConnected& e);
    std::vector<ChainAction> on_disconnected(const ChainBlockDisconnected& e);

    std::optional<ChainTip> tip_;
    std::map<OutPoint, std::string> fundings_;          // funding outpoint -> channel id
    std::map<std::string, OutPoint> funding_of_;        // channel id -> its outpoint
    std::map<Txid, RevokedCommitment> revoked_;         // by commitment txid
    std::map<Txid, std::string> penalties_;             // penalty txid -> channel id
    std::map<std::string, ObservedClose> closes_;       // by channel id
    std::map<std::pair<std::string, Txid>, PenaltyConfirmation> confirmations_;
};

}  // namespace argus::client
