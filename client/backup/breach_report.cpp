#include "client/backup/breach_report.h"

#include "common/penalty_kit.h"

#include <optional>

#include "common/check.h"
#include "common/watchtower_crypto.h"

namespace argus::client {

Result<BreachRecord> check_dispute_report(const BackupRecord& backup, const AppointmentState& state,
                                          const PublicKey& tower, std::int64_t now_ms) {
    ARGUS_CHECK(state.status == AppointmentState::Status::dispute_responded);
    // teos: the locator is the first half of the dispute txid, and the blob
    // opens only with the whole of it; any other txid is not our commitment.
    if (state.dispute_txid != backup.commitment_txid) {
        return make_error(ErrorCode::invalid_argument, "reports a dispute " +
                                                           state.dispute_txid.to_display_hex() +
                                                           " for the backup of commitment " +
                                                           backup.commitment_txid.to_display_hex());
    }
    auto reported = parse_transaction(state.penalty_rawtx);
    if (!reported || reported->txid() != state.penalty_txid) {
        return make_error(ErrorCode::invalid_argument,
                          "reports a penalty_rawtx that is not penalty_txid " +
                              state.penalty_txid.to_display_hex());
    }
    auto plain = teos::decrypt_penalty(backup.encrypted_blob, backup.commitment_txid);
    std::optional<Txid> ours;
    if (plain) {
        if (auto tx = parse_transaction(*plain)) ours = tx->txid();
    }
    // A kit tower answers with one of the kit's penalties (any part, any rung).
    if ((!ours || *ours != state.penalty_txid) && !backup.kit_blob.empty()) {
        if (auto kit_plain = teos::decrypt_penalty(backup.kit_blob, backup.commitment_txid)) {
            if (auto k = kit::decode(*kit_plain)) {
                for (const auto& part : k->parts) {
                    for (const auto& rung : part.rungs) {
                        Txid txid = kit::unsigned_penalty(*k, part, backup.commitment_txid, rung.fee).txid();
                        if (txid == state.penalty_txid) ours = txid;
                    }
                }
            }
        }
    }
    // Txids, not bytes: the witness may be re-encoded, the transaction cannot change.
    if (!ours || *ours != state.penalty_txid) {
        return make_error(ErrorCode::invalid_argument, "reports a penalty " +
                                                           state.penalty_txid.to_display_hex() +
                                                           " that is not the one backed up");
    }
    BreachRecord record{.locator = backup.locator,
                        .channel_id = backup.channel_id,
                        .commitment_number = backup.commitment_number,
                        .dispute_txid = state.dispute_txid,
                        .penalty_txid = state.penalty_txid,
                        .reported_by = tower,
                        .reported_ms = now_ms};
    return record;
}

}  // namespace argus::client
