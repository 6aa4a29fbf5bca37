#include "client/node/chain_view.h"

#include "common/check.h"
#include "common/commitment.h"

namespace argus::client {

const char* to_string(CloseType type) {
    switch (type) {
        case CloseType::cooperative: return "cooperative";
        case CloseType::unilateral: return "unilateral";
        case CloseType::breach: return "breach";
    }
    return "unknown";
}

std::optional<CloseType> close_type_from_string(std::string_view text) {
    for (CloseType t : {CloseType::cooperative, CloseType::unilateral, CloseType::breach}) {
        if (text == to_string(t)) return t;
    }
    return std::nullopt;
}

void ChainView::watch_funding(const std::string& channel_id, const OutPoint& funding) {
    auto known = funding_of_.find(channel_id);
    if (known != funding_of_.end()) {
        if (known->second == funding) return;
        fundings_.erase(known->second);
    }
    funding_of_[channel_id] = funding;
    fundings_[funding] = channel_id;
}

void ChainView::add_revoked(const RevokedCommitment& revoked) { revoked_[revoked.commitment_txid] = revoked; }

void ChainView::watch_penalty(const std::string& channel_id, const Txid& penalty_txid) {
    penalties_.emplace(penalty_txid, channel_id);
}

void ChainView::restore(std::optional<ChainTip> tip, const std::vector<ObservedClose>& closes,
                        const std::vector<PenaltyConfirmation>& confirmations) {
    tip_ = tip;
    for (const auto& c : closes) {
        closes_[c.channel_id] = c;
        if (c.penalty_txid) watch_penalty(c.channel_id, *c.penalty_txid);
    }
    for (const auto& c : confirmations) {
        confirmations_[{c.channel_id, c.penalty_txid}] = c;
        watch_penalty(c.channel_id, c.penalty_txid);
    }
}

std::uint32_t ChainView::penalty_confirmations(const std::string& channel_id, const Txid& penalty_txid) const {
    auto it = confirmations_.find({channel_id, penalty_txid});
    if (it == confirmations_.end() || !tip_ || tip_->height < it->second.height) return 0;
    return tip_->height - it->second.height + 1;
}

std::vector<ChainAction> ChainView::handle(const ChainEvent& event) {
    if (const auto* connected = std::get_if<ChainBlockConnected>(&event)) return on_connected(*connected);
    return on_disconnected(std::get<ChainBlockDisconnected>(event));
}

std::vector<ChainAction> ChainView::on_connected(const ChainBlockConnected& e) {
    ARGUS_CHECK(e.block != nullptr);
    const Block& block = *e.block;
    Hash256 hash = block.header.hash();
    std::vector<ChainAction> out;
    for (const auto& tx : block.transactions) {
        Txid txid = tx.txid();
        if (!fundings_.empty()) {
            for (const auto& in : tx.inputs) {
                auto watched = fundings_.find(in.prevout);
                if (watched == fundings_.end()) continue;
                const std::string& channel = watched->second;
                if (closes_.count(channel)) continue;  // spent once: a second spend is impossible
                ObservedClose close{channel, in.prevout, txid, e.height, hash, CloseType::cooperative, {}, {}};
                auto revoked = revoked_.find(txid);
                if (revoked != revoked_.end() && revoked->second.channel_id == channel) {
                    close.type = CloseType::breach;
                    close.commitment_number = revoked->second.commitment_number;
                    close.penalty_txid = revoked->second.penalty_txid;
                    penalties_.emplace(revoked->second.penalty_txid, channel);
                } else if (bolt3::has_commitment_marks(tx)) {
                    close.type = CloseType::unilateral;
                }
                closes_[channel] = close;
                out.push_back(RecordClose{close});
            }
        }
        auto [first, last] = penalties_.equal_range(txid);
        for (auto it = first; it != last; ++it) {
            PenaltyConfirmation c{it->second, txid, e.height, hash};
            auto [slot, inserted] = confirmations_.try_emplace({it->second, txid}, c);
            if (!inserted) continue;  // mined once already (a block seen again)
            out.push_back(RecordPenaltyConfirmation{c});
        }
    }
    tip_ = ChainTip{e.height, hash};
    out.push_back(SetChainTip{*tip_});
    return out;
}

std::vector<ChainAction> ChainView::on_disconnected(const ChainBlockDisconnected& e) {
    std::vector<ChainAction> out;
    for (auto it = closes_.begin(); it != closes_.end();) {
        if (it->second.height == e.height && it->second.block_hash == e.hash) {
            out.push_back(ForgetClose{it->first});
            it = closes_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = confirmations_.begin(); it != confirmations_.end();) {
        if (it->second.height == e.height && it->second.block_hash == e.hash) {
            out.push_back(ForgetPenaltyConfirmation{it->second.channel_id, it->second.penalty_txid});
            it = confirmations_.erase(it);
        } else {
            ++it;
        }
    }
    if (e.height > 0) {
        tip_ = ChainTip{e.height - 1, e.parent};
        out.push_back(SetChainTip{*tip_});
    }
    return out;
}

}  // namespace argus::client
