#include "common/script.h"

#include "common/hash.h"

namespace argus {

ScriptBuilder& ScriptBuilder::op(std::uint8_t opcode) {
    script_.push_back(opcode);
    return *this;
}

ScriptBuilder& ScriptBuilder::push(ByteSpan data) {
    std::size_t n = data.size();
    if (n < OP_PUSHDATA1) {
        script_.push_back(static_cast<std::uint8_t>(n));
    } else if (n <= 0xff) {
        script_.push_back(OP_PUSHDATA1);
        script_.push_back(static_cast<std::uint8_t>(n));
    } else if (n <= 0xffff) {
        script_.push_back(OP_PUSHDATA2);
        script_.push_back(static_cast<std::uint8_t>(n & 0xff));
        script_.push_back(static_cast<std::uint8_t>(n >> 8));
    } else {
        script_.push_back(OP_PUSHDATA4);
        for (int i = 0; i < 4; ++i) script_.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
    }
    append(script_, data);
    return *this;
}

ScriptBuilder& ScriptBuilder::push_number(std::int64_t value) {
    if (value == 0) return op(OP_0);
    if (value == -1) return op(OP_1NEGATE);
    if (value >= 1 && value <= 16) return op(static_cast<std::uint8_t>(OP_1 + value - 1));
    // CScriptNum: little-endian magnitude, sign in the top bit of the last byte.
    Bytes bytes;
    bool negative = value < 0;
    std::uint64_t magnitude = negative ? static_cast<std::uint64_t>(-(value + 1)) + 1
                                       : static_cast<std::uint64_t>(value);
    while (magnitude > 0) {
        bytes.push_back(static_cast<std::uint8_t>(magnitude & 0xff));
        magnitude >>= 8;
    }
    if (bytes.back() & 0x80) {
        bytes.push_back(negative ? 0x80 : 0x00);
    } else if (negative) {
        bytes.back() |= 0x80;
    }
    return push(bytes);
}

Result<std::vector<ScriptOperation>> decode_script(ByteSpan script) {
    std::vector<ScriptOperation> ops;
    std::size_t i = 0;
    while (i < script.size()) {
        ScriptOperation op;
        op.opcode = script[i++];
        std::size_t size = 0;
        if (op.opcode >= 0x01 && op.opcode < OP_PUSHDATA1) {
            size = op.opcode;
        } else if (op.opcode == OP_PUSHDATA1 || op.opcode == OP_PUSHDATA2 ||
                   op.opcode == OP_PUSHDATA4) {
            std::size_t width = op.opcode == OP_PUSHDATA1 ? 1 : op.opcode == OP_PUSHDATA2 ? 2 : 4;
            if (script.size() - i < width) {
                return make_error(ErrorCode::truncated, "push length runs past end of script");
            }
            for (std::size_t b = 0; b < width; ++b) size |= std::size_t{script[i + b]} << (8 * b);
            i += width;
        }
        if (size > script.size() - i) {
            return make_error(ErrorCode::truncated, "push of " + std::to_string(size) +
                                                        " bytes runs past end of script");
        }
        op.data.assign(script.begin() + static_cast<std::ptrdiff_t>(i),
                       script.begin() + static_cast<std::ptrdiff_t>(i + size));
        i += size;
        ops.push_back(std::move(op));
    }
    return ops;
}

std::optional<WitnessProgram> witness_program(ByteSpan s) {
    // BIP141: a version byte (OP_0 or OP_1..OP_16) then one direct push of 2..40 bytes.
    if (s.size() < 4 || s.size() > 42) return std::nullopt;
    if (s[0] != OP_0 && (s[0] < OP_1 || s[0] > OP_16)) return std::nullopt;
    if (std::size_t{s[1]} + 2 != s.size()) return std::nullopt;
    WitnessProgram wp;
    wp.version = s[0] == OP_0 ? 0 : static_cast<int>(s[0]) - static_cast<int>(OP_1) + 1;
    wp.program.assign(s.begin() + 2, s.end());
    return wp;
}

Bytes witness_script_pubkey(const WitnessProgram& wp) {
    Bytes out;
    out.push_back(wp.version == 0 ? std::uint8_t{OP_0} : static_cast<std::uint8_t>(OP_1 + wp.version - 1));
    out.push_back(static_cast<std::uint8_t>(wp.program.size()));
    append(out, wp.program);
    return out;
}

ScriptTemplate classify_script(ByteSpan s) {
    if (s.size() == 25 && s[0] == OP_DUP && s[1] == OP_HASH160 && s[2] == 20 &&
        s[23] == OP_EQUALVERIFY && s[24] == OP_CHECKSIG) {
        return ScriptTemplate::p2pkh;
    }
    if (s.size() == 23 && s[0] == OP_HASH160 && s[1] == 20 && s[22] == OP_EQUAL) {
        return ScriptTemplate::p2sh;
    }
    if (!s.empty() && s[0] == 0x6a) return ScriptTemplate::op_return;
    if (auto wp = witness_program(s)) {
        if (wp->version == 0 && wp->program.size() == 20) return ScriptTemplate::p2wpkh;
        if (wp->version == 0 && wp->program.size() == 32) return ScriptTemplate::p2wsh;
        if (wp->version == 1 && wp->program.size() == 32) return ScriptTemplate::p2tr;
        if (wp->version == 0) return ScriptTemplate::nonstandard;
        return ScriptTemplate::witness_unknown;
    }
    return ScriptTemplate::nonstandard;
}

Bytes p2wpkh_script(const PublicKey& key) {
    Hash160 h = hash160(key.bytes());
    return witness_script_pubkey({0, Bytes(h.begin(), h.end())});
}

Bytes p2wsh_script(ByteSpan witness_script) {
    Hash256 h = sha256(witness_script);
    return witness_script_pubkey({0, Bytes(h.begin(), h.end())});
}

Bytes p2tr_script(const XOnlyPublicKey& output_key) {
    return witness_script_pubkey({1, Bytes(output_key.bytes().begin(), output_key.bytes().end())});
}

Bytes p2pkh_script(const Hash160& key_hash) {
    return ScriptBuilder()
        .op(OP_DUP)
        .op(OP_HASH160)
        .push(key_hash)
        .op(OP_EQUALVERIFY)
        .op(OP_CHECKSIG)
        .build();
}

Bytes p2wpkh_script_code(const PublicKey& key) { return p2pkh_script(hash160(key.bytes())); }

}  // namespace argus
