// Spends a P2WPKH output with one key: the signature covers the BIP143 sighash,
// so the transaction is valid for a real bitcoind too.
#pragma once

#include <vector>

#include "common/keys.h"
#include "common/script.h"
#include "common/sighash.h"
#include "common/transaction.h"

namespace argus::test {

inline Transaction sign_p2wpkh_spend(const PrivateKey& key, const OutPoint& source, std::int64_t amount,
                                     std::vector<TxOut> outputs, std::uint32_t lock_time = 0,
                                     std::uint32_t sequence = 0xfffffffd) {
    Transaction tx;
    tx.version = 2;
    tx.lock_time = lock_time;
    TxIn in;
    in.prevout = source;
    in.sequence = sequence;
    tx.inputs.push_back(in);
    tx.outputs = std::move(outputs);
    PublicKey pub = key.public_key();  // one object: begin() and end() must come from the same array
    Hash256 digest = segwit_v0_sighash(tx, 0, p2wpkh_script_code(pub), amount, SIGHASH_ALL);
    Bytes sig = serialize_der(ecdsa_sign(key, digest));
    sig.push_back(SIGHASH_ALL);
    tx.inputs[0].witness = {sig, Bytes(pub.bytes().begin(), pub.bytes().end())};
    return tx;
}

}  // namespace argus::test
