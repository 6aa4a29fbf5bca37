// The justice (penalty) transaction: sweeps to_local and every HTLC output of a
// revoked commitment through the revocation key (BOLT #3 witness forms).
#pragma once

#include <vector>

#include "common/commitment.h"

namespace argus::bolt3 {

struct RevokedOutput {
    OutPoint outpoint;
    std::int64_t amount = 0;
    Bytes witness_script;
    OutputKind kind = OutputKind::to_local;  // to_local, offered_htlc or received_htlc
};

// The outputs of a (revoked) commitment that the revocation key can spend.
std::vector<RevokedOutput> revocable_outputs(const Commitment& commitment);

struct JusticeRequest {
    std::vector<RevokedOutput> outputs;
    Bytes destination_script;     // the victim's address
    std::uint32_t feerate_per_kw = 253;
};

// Minimum output value we will create (P2WSH dust at 3 sat/vB, the strictest
// standard destination).
inline constexpr std::int64_t justice_dust_limit = 330;

// Builds and signs. Fails when there is nothing to sweep, a witness script does
// not belong to the revocation key, or the fee leaves less than dust.
Result<Transaction> build_justice_transaction(const JusticeRequest& request,
                                              const PrivateKey& revocation_privkey);

// Verifies every input's signature against its BIP143 sighash and checks each
// witness script hashes to nothing but what the request says it spends.
Status verify_justice_transaction(const Transaction& tx, const JusticeRequest& request,
                                  const PublicKey& revocation_pubkey);

}  // namespace argus::bolt3
