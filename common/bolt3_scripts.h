// BOLT #3 witness scripts of funding, commitment and HTLC outputs.
#pragma once

#include "common/keys.h"

namespace argus::bolt3 {

// BOLT #3: 2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG, keys in lexicographic order.
Bytes funding_script(const PublicKey& a, const PublicKey& b);
Bytes to_local_script(const PublicKey& revocation_pubkey, std::uint16_t to_self_delay,
                      const PublicKey& local_delayed_pubkey);
// option_anchors: <remotepubkey> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY
Bytes to_remote_anchors_script(const PublicKey& remote_pubkey);
Bytes anchor_script(const PublicKey& funding_pubkey);
Bytes offered_htlc_script(const PublicKey& revocation_pubkey, const PublicKey& local_htlc_pubkey,
                          const PublicKey& remote_htlc_pubkey, const Hash256& payment_hash,
                          bool anchors);
Bytes received_htlc_script(const PublicKey& revocation_pubkey, const PublicKey& local_htlc_pubkey,
                           const PublicKey& remote_htlc_pubkey, const Hash256& payment_hash,
                           std::uint32_t cltv_expiry, bool anchors);

}  // namespace argus::bolt3
