#include "common/justice.h"

#include "common/hash.h"
#include "common/script.h"
#include "common/sighash.h"

namespace argus::bolt3 {

std::vector<RevokedOutput> revocable_outputs(const Commitment& commitment) {
    std::vector<RevokedOutput> out;
    Txid txid = commitment.tx.txid();
    for (std::size_t i = 0; i < commitment.outputs.size(); ++i) {
        const CommitmentOutput& o = commitment.outputs[i];
        if (o.kind == OutputKind::to_local || o.kind == OutputKind::offered_htlc ||
            o.kind == OutputKind::received_htlc) {
            out.push_back({OutPoint{txid, static_cast<std::uint32_t>(i)},
                           commitment.tx.outputs[i].value, o.witness_script, o.kind});
        }
    }
    return out;
}

namespace {
// BOLT #3: to_local is spent with <revocation_sig> 1, an HTLC output with
// <revocation_sig> <revocationpubkey>.
void set_witness(TxIn& in, const RevokedOutput& spent, Bytes signature,
                 const PublicKey& revocation_pubkey) {
    in.witness.clear();
    in.witness.push_back(std::move(signature));
    if (spent.kind == OutputKind::to_local) {
        in.witness.push_back(Bytes{0x01});
    } else {
        in.witness.push_back(Bytes(revocation_pubkey.bytes().begin(), revocation_pubkey.bytes().end()));
    }
    in.witness.push_back(spent.witness_script);
}

Status check_script_uses_key(const RevokedOutput& spent, const PublicKey& revocation_pubkey) {
    auto ops = decode_script(spent.witness_script);
    if (!ops) return ops.error();
    Bytes key(revocation_pubkey.bytes().begin(), revocation_pubkey.bytes().end());
    Hash160 key_hash = hash160(key);
    Bytes hash_bytes(key_hash.begin(), key_hash.end());
    for (const auto& op : *ops) {
        if (op.data == key || op.data == hash_bytes) return {};
    }
    return make_error(ErrorCode::invalid_argument,
                      "witness script does not commit to the revocation key");
}
}  // namespace

Result<Transaction> build_justice_transaction(const JusticeRequest& request,
                                              const PrivateKey& revocation_privkey) {
    if (request.outputs.empty()) {
        return make_error(ErrorCode::invalid_argument, "no revoked outputs to sweep");
    }
    PublicKey revocation_pubkey = revocation_privkey.public_key();
    Transaction tx;
    tx.version = 2;
    tx.lock_time = 0;
    std::int64_t total = 0;
    for (const auto& spent : request.outputs) {
        if (auto ok = check_script_uses_key(spent, revocation_pubkey); !ok) return ok.error();
        TxIn in;
        in.prevout = spent.outpoint;
        in.sequence = 0xfffffffd;  // signals RBF so a fee bump stays possible
        // Largest DER signature plus hash byte: the weight below is an upper bound.
        set_witness(in, spent, Bytes(73, 0), revocation_pubkey);
        tx.inputs.push_back(std::move(in));
        total += spent.amount;
    }
    tx.outputs.push_back(TxOut{0, request.destination_script});
    std::int64_t weight = static_cast<std::int64_t>(tx.weight());
    std::int64_t fee = (static_cast<std::int64_t>(request.feerate_per_kw) * weight + 999) / 1000;
    if (total - fee < justice_dust_limit) {
        return make_error(ErrorCode::invalid_argument,
                          "revoked outputs (" + std::to_string(total) + " sat) do not cover fee " +
                              std::to_string(fee) + " sat plus dust");
    }
    tx.outputs[0].value = total - fee;

    for (std::size_t i = 0; i < tx.inputs.size(); ++i) {
        const RevokedOutput& spent = request.outputs[i];
        Hash256 digest =
            segwit_v0_sighash(tx, i, spent.witness_script, spent.amount, SIGHASH_ALL);
        EcdsaSignature sig = ecdsa_sign(revocation_privkey, digest);
        set_witness(tx.inputs[i], spent, signature_with_hash_type(sig, SIGHASH_ALL),
                    revocation_pubkey);
    }
    if (auto ok = verify_justice_transaction(tx, request, revocation_pubkey); !ok) {
        return ok.error();
    }
    return tx;
}

Status verify_justice_transaction(const Transaction& tx, const JusticeRequest& request,
                                  const PublicKey& revocation_pubkey) {
    if (tx.inputs.size() != request.outputs.size()) {
        return make_error(ErrorCode::invalid_argument, "input count differs from request");
    }
    for (std::size_t i = 0; i < tx.inputs.size(); ++i) {
        const TxIn& in = tx.inputs[i];
        const RevokedOutput& spent = request.outputs[i];
        if (!(in.prevout == spent.outpoint) || in.witness.size() != 3 ||
            in.witness[2] != spent.witness_script) {
            return make_error(ErrorCode::invalid_argument,
                              "input " + std::to_string(i) + " does not spend its revoked output");
        }
        const Bytes& sig = in.witness[0];
        if (sig.empty() || sig.back() != SIGHASH_ALL) {
            return make_error(ErrorCode::invalid_signature, "justice signature must be SIGHASH_ALL");
        }
        auto parsed = parse_der_signature(ByteSpan(sig.data(), sig.size() - 1));
        if (!parsed) return parsed.error();
        Hash256 digest =
            segwit_v0_sighash(tx, i, spent.witness_script, spent.amount, SIGHASH_ALL);
        if (!ecdsa_verify(revocation_pubkey, digest, *parsed)) {
            return make_error(ErrorCode::invalid_signature,
                              "signature of input " + std::to_string(i) + " does not verify");
        }
    }
    return {};
}

}  // namespace argus::bolt3
