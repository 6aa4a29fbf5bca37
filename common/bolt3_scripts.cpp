#include "common/bolt3_scripts.h"

#include <algorithm>

#include "common/hash.h"
#include "common/script.h"

namespace argus::bolt3 {

Bytes funding_script(const PublicKey& a, const PublicKey& b) {
    bool a_first = std::lexicographical_compare(a.bytes().begin(), a.bytes().end(),
                                                b.bytes().begin(), b.bytes().end());
    const PublicKey& first = a_first ? a : b;
    const PublicKey& second = a_first ? b : a;
    return ScriptBuilder()
        .op(OP_2)
        .push(first.bytes())
        .push(second.bytes())
        .op(OP_2)
        .op(OP_CHECKMULTISIG)
        .build();
}

Bytes to_local_script(const PublicKey& revocation_pubkey, std::uint16_t to_self_delay,
                      const PublicKey& local_delayed_pubkey) {
    return ScriptBuilder()
        .op(OP_IF)
        .push(revocation_pubkey.bytes())
        .op(OP_ELSE)
        .push_number(to_self_delay)
        .op(OP_CHECKSEQUENCEVERIFY)
        .op(OP_DROP)
        .push(local_delayed_pubkey.bytes())
        .op(OP_ENDIF)
        .op(OP_CHECKSIG)
        .build();
}

Bytes to_remote_anchors_script(const PublicKey& remote_pubkey) {
    return ScriptBuilder()
        .push(remote_pubkey.bytes())
        .op(OP_CHECKSIGVERIFY)
        .op(OP_1)
        .op(OP_CHECKSEQUENCEVERIFY)
        .build();
}

Bytes anchor_script(const PublicKey& funding_pubkey) {
    return ScriptBuilder()
        .push(funding_pubkey.bytes())
        .op(OP_CHECKSIG)
        .op(OP_IFDUP)
        .op(OP_NOTIF)
        .op(OP_16)
        .op(OP_CHECKSEQUENCEVERIFY)
        .op(OP_ENDIF)
        .build();
}

namespace {
void revocation_branch(ScriptBuilder& s, const PublicKey& revocation_pubkey) {
    // OP_DUP OP_HASH160 <RIPEMD160(SHA256(revocationpubkey))> OP_EQUAL OP_IF OP_CHECKSIG OP_ELSE
    s.op(OP_DUP).op(OP_HASH160).push(hash160(revocation_pubkey.bytes())).op(OP_EQUAL);
    s.op(OP_IF).op(OP_CHECKSIG).op(OP_ELSE);
}

void anchors_csv(ScriptBuilder& s, bool anchors) {
    if (anchors) s.op(OP_1).op(OP_CHECKSEQUENCEVERIFY).op(OP_DROP);
}
}  // namespace

Bytes offered_htlc_script(const PublicKey& revocation_pubkey, const PublicKey& local_htlc_pubkey,
                          const PublicKey& remote_htlc_pubkey, const Hash256& payment_hash,
                          bool anchors) {
    ScriptBuilder s;
    revocation_branch(s, revocation_pubkey);
    s.push(remote_htlc_pubkey.bytes()).op(OP_SWAP).op(OP_SIZE).push_number(32).op(OP_EQUAL);
    s.op(OP_NOTIF);
    // To local node via HTLC-timeout transaction (timelocked).
    s.op(OP_DROP).op(OP_2).op(OP_SWAP).push(local_htlc_pubkey.bytes()).op(OP_2).op(OP_CHECKMULTISIG);
    s.op(OP_ELSE);
    // To remote node with preimage.
    s.op(OP_HASH160).push(ripemd160(payment_hash)).op(OP_EQUALVERIFY).op(OP_CHECKSIG);
    s.op(OP_ENDIF);
    anchors_csv(s, anchors);
    s.op(OP_ENDIF);
    return s.build();
}

Bytes received_htlc_script(const PublicKey& revocation_pubkey, const PublicKey& local_htlc_pubkey,
                           const PublicKey& remote_htlc_pubkey, const Hash256& payment_hash,
                           std::uint32_t cltv_expiry, bool anchors) {
    ScriptBuilder s;
    revocation_branch(s, revocation_pubkey);
    s.push(remote_htlc_pubkey.bytes()).op(OP_SWAP).op(OP_SIZE).push_number(32).op(OP_EQUAL);
    s.op(OP_IF);
    // To local node via HTLC-success transaction.
    s.op(OP_HASH160).push(ripemd160(payment_hash)).op(OP_EQUALVERIFY);
    s.op(OP_2).op(OP_SWAP).push(local_htlc_pubkey.bytes()).op(OP_2).op(OP_CHECKMULTISIG);
    s.op(OP_ELSE);
    // To remote node after timeout.
    s.op(OP_DROP).push_number(cltv_expiry).op(OP_CHECKLOCKTIMEVERIFY).op(OP_DROP).op(OP_CHECKSIG);
    s.op(OP_ENDIF);
    anchors_csv(s, anchors);
    s.op(OP_ENDIF);
    return s.build();
}

}  // namespace argus::bolt3
