#include "common/sighash.h"

#include "common/byte_reader.h"
#include "common/check.h"
#include "common/hash.h"

namespace argus {

namespace {
void write_outpoint(ByteWriter& w, const OutPoint& o) {
    w.write_bytes(o.txid.bytes);
    w.write_u32_le(o.index);
}

void write_output(ByteWriter& w, const TxOut& out) {
    w.write_u64_le(static_cast<std::uint64_t>(out.value));
    w.write_var_bytes(out.script_pubkey);
}
}  // namespace

Hash256 segwit_v0_sighash(const Transaction& tx, std::size_t input_index, ByteSpan script_code,
                          std::int64_t amount, std::uint32_t hash_type) {
    ARGUS_CHECK(input_index < tx.inputs.size());
    const std::uint32_t base = hash_type & 0x1f;
    const bool anyone_can_pay = (hash_type & SIGHASH_ANYONECANPAY) != 0;
    Hash256 zero{};

    Hash256 hash_prevouts = zero, hash_sequence = zero, hash_outputs = zero;
    if (!anyone_can_pay) {
        ByteWriter w;
        for (const auto& in : tx.inputs) write_outpoint(w, in.prevout);
        hash_prevouts = sha256d(w.bytes());
    }
    if (!anyone_can_pay && base != SIGHASH_SINGLE && base != SIGHASH_NONE) {
        ByteWriter w;
        for (const auto& in : tx.inputs) w.write_u32_le(in.sequence);
        hash_sequence = sha256d(w.bytes());
    }
    if (base != SIGHASH_SINGLE && base != SIGHASH_NONE) {
        ByteWriter w;
        for (const auto& out : tx.outputs) write_output(w, out);
        hash_outputs = sha256d(w.bytes());
    } else if (base == SIGHASH_SINGLE && input_index < tx.outputs.size()) {
        ByteWriter w;
        write_output(w, tx.outputs[input_index]);
        hash_outputs = sha256d(w.bytes());
    }

    const TxIn& in = tx.inputs[input_index];
    ByteWriter w;
    w.write_u32_le(static_cast<std::uint32_t>(tx.version));
    w.write_bytes(hash_prevouts);
    w.write_bytes(hash_sequence);
    write_outpoint(w, in.prevout);
    w.write_var_bytes(script_code);
    w.write_u64_le(static_cast<std::uint64_t>(amount));
    w.write_u32_le(in.sequence);
    w.write_bytes(hash_outputs);
    w.write_u32_le(tx.lock_time);
    w.write_u32_le(hash_type);
    return sha256d(w.bytes());
}

Result<Bytes> taproot_signature_message(const Transaction& tx, std::size_t input_index,
                                        const std::vector<TxOut>& spent_outputs,
                                        std::uint32_t hash_type,
                                        const std::optional<Bytes>& annex,
                                        const std::optional<TaprootScriptPath>& script_path) {
    // BIP341: hash_type must be 0x00-0x03 or 0x81-0x83.
    if (!(hash_type <= 0x03 || (hash_type >= 0x81 && hash_type <= 0x83))) {
        return make_error(ErrorCode::invalid_argument, "invalid taproot hash type");
    }
    if (input_index >= tx.inputs.size() || spent_outputs.size() != tx.inputs.size()) {
        return make_error(ErrorCode::invalid_argument,
                          "input index or spent outputs do not match the transaction");
    }
    const std::uint32_t output_type = hash_type == SIGHASH_DEFAULT ? SIGHASH_ALL : (hash_type & 3);
    const bool anyone_can_pay = (hash_type & SIGHASH_ANYONECANPAY) != 0;
    if (output_type == SIGHASH_SINGLE && input_index >= tx.outputs.size()) {
        return make_error(ErrorCode::invalid_argument, "SIGHASH_SINGLE without matching output");
    }

    ByteWriter w;
    w.write_u8(0x00);  // epoch
    w.write_u8(static_cast<std::uint8_t>(hash_type));
    w.write_u32_le(static_cast<std::uint32_t>(tx.version));
    w.write_u32_le(tx.lock_time);
    if (!anyone_can_pay) {
        ByteWriter prevouts, amounts, scripts, sequences;
        for (std::size_t i = 0; i < tx.inputs.size(); ++i) {
            write_outpoint(prevouts, tx.inputs[i].prevout);
            amounts.write_u64_le(static_cast<std::uint64_t>(spent_outputs[i].value));
            scripts.write_var_bytes(spent_outputs[i].script_pubkey);
            sequences.write_u32_le(tx.inputs[i].sequence);
        }
        w.write_bytes(sha256(prevouts.bytes()));
        w.write_bytes(sha256(amounts.bytes()));
        w.write_bytes(sha256(scripts.bytes()));
        w.write_bytes(sha256(sequences.bytes()));
    }
    if (output_type != SIGHASH_NONE && output_type != SIGHASH_SINGLE) {
        ByteWriter outputs;
        for (const auto& out : tx.outputs) write_output(outputs, out);
        w.write_bytes(sha256(outputs.bytes()));
    }
    const std::uint8_t ext_flag = script_path ? 1 : 0;
    w.write_u8(static_cast<std::uint8_t>(ext_flag * 2 + (annex ? 1 : 0)));
    if (anyone_can_pay) {
        const TxIn& in = tx.inputs[input_index];
        write_outpoint(w, in.prevout);
        write_output(w, spent_outputs[input_index]);
        w.write_u32_le(in.sequence);
    } else {
        w.write_u32_le(static_cast<std::uint32_t>(input_index));
    }
    if (annex) {
        ByteWriter a;
        a.write_var_bytes(*annex);
        w.write_bytes(sha256(a.bytes()));
    }
    if (output_type == SIGHASH_SINGLE) {
        ByteWriter single;
        write_output(single, tx.outputs[input_index]);
        w.write_bytes(sha256(single.bytes()));
    }
    if (script_path) {
        // BIP342: tapleaf_hash || key_version (0x00) || codesep_pos
        w.write_bytes(script_path->tapleaf_hash);
        w.write_u8(0x00);
        w.write_u32_le(script_path->codeseparator_position);
    }
    return std::move(w).take();
}

Result<Hash256> taproot_sighash(const Transaction& tx, std::size_t input_index,
                                const std::vector<TxOut>& spent_outputs, std::uint32_t hash_type,
                                const std::optional<Bytes>& annex,
                                const std::optional<TaprootScriptPath>& script_path) {
    auto message =
        taproot_signature_message(tx, input_index, spent_outputs, hash_type, annex, script_path);
    if (!message) return message.error();
    return tagged_hash("TapSighash", *message);
}

Hash256 tapleaf_hash(std::uint8_t leaf_version, ByteSpan script) {
    ByteWriter w;
    w.write_u8(leaf_version);
    w.write_var_bytes(script);
    return tagged_hash("TapLeaf", w.bytes());
}

Hash256 tapbranch_hash(const Hash256& a, const Hash256& b) {
    Bytes data;
    const bool a_first = std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
    append(data, a_first ? a : b);
    append(data, a_first ? b : a);
    return tagged_hash("TapBranch", data);
}

}  // namespace argus
