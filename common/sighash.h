// Signature hashes: BIP143 (segwit v0) and BIP341 (taproot key and script path).
#pragma once

#include <optional>
#include <vector>

#include "common/result.h"
#include "common/transaction.h"

namespace argus {

enum SighashType : std::uint32_t {
    SIGHASH_DEFAULT = 0x00,  // taproot only: ALL without an explicit byte
    SIGHASH_ALL = 0x01,
    SIGHASH_NONE = 0x02,
    SIGHASH_SINGLE = 0x03,
    SIGHASH_ANYONECANPAY = 0x80,
};

// BIP143. `script_code` excludes its length prefix. input_index must be valid.
Hash256 segwit_v0_sighash(const Transaction& tx, std::size_t input_index, ByteSpan script_code,
                          std::int64_t amount, std::uint32_t hash_type);

struct TaprootScriptPath {
    Hash256 tapleaf_hash;
    std::uint32_t codeseparator_position = 0xffffffff;
};

// BIP341 SigMsg, prefixed with the epoch byte 0x00 (the TapSighash preimage).
// Fails on an invalid hash type, a spent-output count that does not match the
// inputs, or SIGHASH_SINGLE without a matching output.
Result<Bytes> taproot_signature_message(const Transaction& tx, std::size_t input_index,
                                        const std::vector<TxOut>& spent_outputs,
                                        std::uint32_t hash_type,
                                        const std::optional<Bytes>& annex,
                                        const std::optional<TaprootScriptPath>& script_path);
Result<Hash256> taproot_sighash(const Transaction& tx, std::size_t input_index,
                                const std::vector<TxOut>& spent_outputs, std::uint32_t hash_type,
                                const std::optional<Bytes>& annex = std::nullopt,
                                const std::optional<TaprootScriptPath>& script_path = std::nullopt);

// BIP341 tagged hashes for script trees.
Hash256 tapleaf_hash(std::uint8_t leaf_version, ByteSpan script);
Hash256 tapbranch_hash(const Hash256& a, const Hash256& b);  // sorts its inputs

}  // namespace argus
