// Bitcoin transactions: parse and serialize, with and without witness (BIP144).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace argus {

// A txid in internal byte order (the raw SHA256d output). RPC shows it reversed.
struct Txid {
    Hash256 bytes{};
    std::string to_display_hex() const;  // bitcoind's byte order
    static Result<Txid> from_display_hex(std::string_view hex);
    bool operator==(const Txid& other) const = default;
    auto operator<=>(const Txid& other) const = default;
};

struct OutPoint {
    Txid txid;
    std::uint32_t index = 0;
    bool operator==(const OutPoint& other) const = default;
    auto operator<=>(const OutPoint& other) const = default;
};

struct TxIn {
    OutPoint prevout;
    Bytes script_sig;
    std::uint32_t sequence = 0xffffffff;
    std::vector<Bytes> witness;
};

struct TxOut {
    std::int64_t value = 0;  // satoshis
    Bytes script_pubkey;
    bool operator==(const TxOut& other) const = default;
};

// Consensus limit: no serialized transaction exceeds 4,000,000 bytes.
inline constexpr std::size_t max_transaction_size = 4'000'000;

struct Transaction {
    std::int32_t version = 2;
    std::vector<TxIn> inputs;
    std::vector<TxOut> outputs;
    std::uint32_t lock_time = 0;

    bool has_witness() const;
    Bytes serialize() const;                  // with witness when any input has one
    Bytes serialize_without_witness() const;  // the txid preimage
    Txid txid() const;
    Hash256 wtxid() const;
    // BIP141 weight: 3 * base size + total size.
    std::size_t weight() const;
};

class ByteReader;
class ByteWriter;

// Strict: rejects truncation, trailing bytes, a witness flag with no witness,
// and counts or sizes beyond what the remaining input could hold.
Result<Transaction> parse_transaction(ByteSpan data);
// Reads one transaction from a stream (used by block parsing). With `txid`,
// also its txid, hashed from the bytes read (no re-serialization).
void read_transaction(ByteReader& reader, Transaction& tx, Txid* txid = nullptr);
void write_transaction(ByteWriter& writer, const Transaction& tx, bool with_witness);

}  // namespace argus
