#include "common/transaction.h"

#include "common/byte_reader.h"
#include "common/hash.h"
#include "common/hex.h"

namespace argus {

std::string Txid::to_display_hex() const { return to_hex(reversed(bytes)); }

Result<Txid> Txid::from_display_hex(std::string_view hex) {
    auto parsed = parse_hex_array<32>(hex);
    if (!parsed) return parsed.error();
    return Txid{reversed(*parsed)};
}

bool Transaction::has_witness() const {
    for (const auto& in : inputs) {
        if (!in.witness.empty()) return true;
    }
    return false;
}

void write_transaction(ByteWriter& w, const Transaction& tx, bool with_witness) {
    bool witness = with_witness && tx.has_witness();
    w.write_u32_le(static_cast<std::uint32_t>(tx.version));
    if (witness) {
        w.write_u8(0x00);  // BIP144 marker
        w.write_u8(0x01);  // flag
    }
    w.write_compact_size(tx.inputs.size());
    for (const auto& in : tx.inputs) {
        w.write_bytes(in.prevout.txid.bytes);
        w.write_u32_le(in.prevout.index);
        w.write_var_bytes(in.script_sig);
        w.write_u32_le(in.sequence);
    }
    w.write_compact_size(tx.outputs.size());
    for (const auto& out : tx.outputs) {
        w.write_u64_le(static_cast<std::uint64_t>(out.value));
        w.write_var_bytes(out.script_pubkey);
    }
    if (witness) {
        for (const auto& in : tx.inputs) {
            w.write_compact_size(in.witness.size());
            for (const auto& item : in.witness) w.write_var_bytes(item);
        }
    }
    w.write_u32_le(tx.lock_time);
}

Bytes Transaction::serialize() const {
    ByteWriter w;
    write_transaction(w, *this, true);
    return std::move(w).take();
}

Bytes Transaction::serialize_without_witness() const {
    ByteWriter w;
    write_transaction(w, *this, false);
    return std::move(w).take();
}

Txid Transaction::txid() const { return Txid{sha256d(serialize_without_witness())}; }

Hash256 Transaction::wtxid() const { return sha256d(serialize()); }

std::size_t Transaction::weight() const {
    return serialize_without_witness().size() * 3 + serialize().size();
}

namespace {
// Smallest possible encodings bound the counts we accept, so a huge count in a
// short buffer fails before any allocation.
constexpr std::size_t min_input_size = 32 + 4 + 1 + 4;
constexpr std::size_t min_output_size = 8 + 1;

void read_inputs(ByteReader& r, std::vector<TxIn>& inputs, std::uint64_t count) {
    if (count > r.remaining() / min_input_size) {
        r.fail(ErrorCode::malformed, "input count exceeds remaining data");
        return;
    }
    inputs.resize(count);
    for (auto& in : inputs) {
        in.prevout.txid.bytes = r.read_array<32>();
        in.prevout.index = r.read_u32_le();
        in.script_sig = r.read_var_bytes(max_transaction_size);
        in.sequence = r.read_u32_le();
        if (!r.ok()) return;
    }
}
}  // namespace

void read_transaction(ByteReader& r, Transaction& tx, Txid* txid) {
    const std::size_t start = r.offset();
    tx.version = static_cast<std::int32_t>(r.read_u32_le());
    std::uint64_t input_count = r.read_compact_size(max_transaction_size);
    bool witness = false;
    if (r.ok() && input_count == 0) {
        // BIP144: a zero input count is the witness marker, followed by flag 0x01.
        std::uint8_t flag = r.read_u8();
        if (!r.ok()) return;
        if (flag != 0x01) {
            r.fail(ErrorCode::malformed, "unknown segwit flag or transaction with no inputs");
            return;
        }
        witness = true;
        input_count = r.read_compact_size(max_transaction_size);
    }
    if (!r.ok()) return;
    // BIP144: the txid covers version, inputs, outputs and lock time, without
    // the marker, flag and witnesses.
    const std::size_t body_start = witness ? start + 6 : start + 4;
    read_inputs(r, tx.inputs, input_count);
    std::uint64_t output_count = r.read_compact_size(max_transaction_size);
    if (!r.ok()) return;
    if (output_count > r.remaining() / min_output_size) {
        r.fail(ErrorCode::malformed, "output count exceeds remaining data");
        return;
    }
    tx.outputs.resize(output_count);
    for (auto& out : tx.outputs) {
        std::uint64_t value = r.read_u64_le();
        if (value > 21'000'000ULL * 100'000'000ULL) {
            r.fail(ErrorCode::malformed, "output value above 21 million BTC");
            return;
        }
        out.value = static_cast<std::int64_t>(value);
        out.script_pubkey = r.read_var_bytes(max_transaction_size);
        if (!r.ok()) return;
    }
    const std::size_t body_end = r.offset();
    if (witness) {
        bool any = false;
        for (auto& in : tx.inputs) {
            std::uint64_t items = r.read_compact_size(max_transaction_size);
            if (!r.ok()) return;
            if (items > r.remaining()) {
                r.fail(ErrorCode::malformed, "witness item count exceeds remaining data");
                return;
            }
            in.witness.resize(items);
            for (auto& item : in.witness) {
                item = r.read_var_bytes(max_transaction_size);
                if (!r.ok()) return;
            }
            any = any || items > 0;
        }
        if (!any) {
            // Serializing would drop the marker, so the round trip would differ.
            r.fail(ErrorCode::malformed, "witness flag set but every witness is empty");
            return;
        }
    }
    tx.lock_time = r.read_u32_le();
    if (txid != nullptr && r.ok()) {
        const std::size_t end = r.offset();
        txid->bytes = sha256d_of_parts(
            {r.consumed(start, start + 4), r.consumed(body_start, body_end), r.consumed(end - 4, end)});
    }
}

Result<Transaction> parse_transaction(ByteSpan data) {
    if (data.size() > max_transaction_size) {
        return make_error(ErrorCode::oversized, "transaction larger than 4,000,000 bytes");
    }
    ByteReader r(data);
    Transaction tx;
    read_transaction(r, tx);
    r.expect_end("transaction");
    if (!r.ok()) return r.error();
    return tx;
}

}  // namespace argus
