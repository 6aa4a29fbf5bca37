// Bitcoin scripts: building, decoding into operations, standard templates.
#pragma once

#include <optional>
#include <vector>

#include "common/bytes.h"
#include "common/keys.h"
#include "common/result.h"

namespace argus {

enum Opcode : std::uint8_t {
    OP_0 = 0x00,
    OP_PUSHDATA1 = 0x4c,
    OP_PUSHDATA2 = 0x4d,
    OP_PUSHDATA4 = 0x4e,
    OP_1NEGATE = 0x4f,
    OP_1 = 0x51,
    OP_2 = 0x52,
    OP_16 = 0x60,
    OP_NOTIF = 0x64,
    OP_IF = 0x63,
    OP_ELSE = 0x67,
    OP_ENDIF = 0x68,
    OP_DROP = 0x75,
    OP_DUP = 0x76,
    OP_SWAP = 0x7c,
    OP_SIZE = 0x82,
    OP_EQUAL = 0x87,
    OP_EQUALVERIFY = 0x88,
    OP_IFDUP = 0x73,
    OP_HASH160 = 0xa9,
    OP_CHECKSIG = 0xac,
    OP_CHECKSIGVERIFY = 0xad,
    OP_CHECKMULTISIG = 0xae,
    OP_CHECKLOCKTIMEVERIFY = 0xb1,
    OP_CHECKSEQUENCEVERIFY = 0xb2,
};

class ScriptBuilder {
public:
    ScriptBuilder& op(std::uint8_t opcode);
    // Minimal push of a byte string (direct push or OP_PUSHDATA1/2/4).
    ScriptBuilder& push(ByteSpan data);
    // Minimal push of a number (OP_0, OP_1..OP_16, or CScriptNum bytes).
    ScriptBuilder& push_number(std::int64_t value);
    Bytes build() const { return script_; }

private:
    Bytes script_;
};

struct ScriptOperation {
    std::uint8_t opcode = 0;
    Bytes data;  // the pushed bytes, for push operations
};

// Splits a script into operations; fails on a push that runs past the end.
Result<std::vector<ScriptOperation>> decode_script(ByteSpan script);

enum class ScriptTemplate { p2pkh, p2sh, p2wpkh, p2wsh, p2tr, witness_unknown, op_return, nonstandard };

struct WitnessProgram {
    int version = 0;  // 0..16
    Bytes program;    // 2..40 bytes
};

ScriptTemplate classify_script(ByteSpan script_pubkey);
std::optional<WitnessProgram> witness_program(ByteSpan script_pubkey);
Bytes witness_script_pubkey(const WitnessProgram& program);

Bytes p2wpkh_script(const PublicKey& key);
Bytes p2wsh_script(ByteSpan witness_script);
Bytes p2tr_script(const XOnlyPublicKey& output_key);
Bytes p2pkh_script(const Hash160& key_hash);
// BIP143: the scriptCode of a P2WPKH input is the P2PKH script of its key hash.
Bytes p2wpkh_script_code(const PublicKey& key);

}  // namespace argus
