#include "common/penalty_kit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "common/bolt3_scripts.h"
#include "common/byte_reader.h"
#include "common/script.h"
#include "common/sighash.h"

namespace argus::kit {

namespace {

constexpr std::int64_t max_money = 21'000'000LL * 100'000'000LL;

Error bad(std::string message) { return make_error(ErrorCode::malformed, "penalty kit: " + std::move(message)); }

PublicKey key(const KeyBytes& bytes) { return PublicKey::parse(bytes).value(); }

bool is_htlc(PartKind kind) { return kind == PartKind::offered_htlc || kind == PartKind::received_htlc; }

std::int64_t vsize_of(const Transaction& tx) { return static_cast<std::int64_t>((tx.weight() + 3) / 4); }

void set_witness(const PenaltyKit& kit, const Part& part, Transaction& tx, Bytes signature) {
    auto& witness = tx.inputs[0].witness;
    witness.clear();
    witness.push_back(std::move(signature));
    if (is_htlc(part.kind)) {
        witness.emplace_back(kit.revocation_pubkey.begin(), kit.revocation_pubkey.end());
    } else {
        witness.push_back(Bytes{0x01});
    }
    witness.push_back(witness_script(kit, part));
}

}  // namespace

const char* to_string(PartKind kind) {
    switch (kind) {
        case PartKind::to_local: return "to_local";
        case PartKind::offered_htlc: return "offered_htlc";
        case PartKind::received_htlc: return "received_htlc";
        case PartKind::second_stage: return "second_stage";
    }
    return "unknown";
}

bool is_kit(ByteSpan plaintext) {
    return plaintext.size() >= kit_magic.size() && std::equal(kit_magic.begin(), kit_magic.end(), plaintext.begin());
}

Status validate(const PenaltyKit& kit) {
    for (const KeyBytes* k : {&kit.revocation_pubkey, &kit.local_delayed_pubkey, &kit.local_htlc_pubkey,
                              &kit.remote_htlc_pubkey}) {
        if (!PublicKey::parse(*k)) return bad("a public key is not a valid compressed point");
    }
    if (kit.to_self_delay == 0) return bad("to_self_delay is 0");
    if (kit.sweep_script.empty() || kit.sweep_script.size() > max_sweep_script) {
        return bad("sweep script of " + std::to_string(kit.sweep_script.size()) + " bytes (1.." +
                   std::to_string(max_sweep_script) + ")");
    }
    if (kit.parts.empty() || kit.parts.size() > max_parts) {
        return bad(std::to_string(kit.parts.size()) + " parts (1.." + std::to_string(max_parts) + ")");
    }
    bool to_local_seen = false;
    std::set<std::uint16_t> htlc_vouts, second_stage_vouts;
    for (const Part& part : kit.parts) {
        if (part.kind == PartKind::to_local) {
            if (to_local_seen) return bad("two to_local parts");
            to_local_seen = true;
        } else if (is_htlc(part.kind)) {
            if (!htlc_vouts.insert(part.vout).second) return bad("two HTLC parts for output " + std::to_string(part.vout));
        } else if (part.kind == PartKind::second_stage) {
            if (kit.anchors) {
                return bad("a second-stage part on an anchor channel (its HTLC transactions have no fixed txid)");
            }
            if (!second_stage_vouts.insert(part.vout).second) {
                return bad("two second-stage parts for output " + std::to_string(part.vout));
            }
        } else {
            return bad("unknown part kind");
        }
        if (part.amount <= 0 || part.amount > max_money) return bad("part amount out of range");
        if (part.rungs.empty() || part.rungs.size() > max_rungs) {
            return bad(std::to_string(part.rungs.size()) + " rungs (1.." + std::to_string(max_rungs) + ")");
        }
        std::int64_t previous = 0;
        for (const Rung& rung : part.rungs) {
            if (rung.fee <= previous) return bad("rung fees do not strictly increase");
            if (part.amount - rung.fee < min_output) {
                return bad("a rung's fee leaves less than " + std::to_string(min_output) + " sat");
            }
            previous = rung.fee;
        }
    }
    for (std::uint16_t vout : second_stage_vouts) {
        if (!htlc_vouts.count(vout)) return bad("a second-stage part names no HTLC part (output " + std::to_string(vout) + ")");
    }
    return {};
}

Result<Bytes> encode(const PenaltyKit& kit) {
    if (auto ok = validate(kit); !ok) return ok.error();
    ByteWriter w;
    w.write_bytes(kit_magic);
    w.write_u8(kit_version);
    w.write_u8(kit.anchors ? 1 : 0);
    w.write_u16_le(kit.to_self_delay);
    w.write_bytes(kit.revocation_pubkey);
    w.write_bytes(kit.local_delayed_pubkey);
    w.write_bytes(kit.local_htlc_pubkey);
    w.write_bytes(kit.remote_htlc_pubkey);
    w.write_u8(static_cast<std::uint8_t>(kit.sweep_script.size()));
    w.write_bytes(kit.sweep_script);
    w.write_u16_le(static_cast<std::uint16_t>(kit.parts.size()));
    for (const Part& part : kit.parts) {
        w.write_u8(static_cast<std::uint8_t>(part.kind));
        w.write_u16_le(part.vout);
        w.write_u64_le(static_cast<std::uint64_t>(part.amount));
        if (part.kind != PartKind::to_local) {
            w.write_bytes(part.payment_hash);
            w.write_u32_le(part.cltv_expiry);
        }
        if (part.kind == PartKind::second_stage) w.write_bytes(part.second_stage_txid.bytes);
        w.write_u8(static_cast<std::uint8_t>(part.rungs.size()));
        for (const Rung& rung : part.rungs) {
            w.write_u32_le(rung.fee);
            w.write_bytes(rung.signature.compact);
        }
    }
    return std::move(w).take();
}

std::size_t bucket_size(std::size_t encoded_size) {
    std::size_t bucket = min_bucket;
    while (bucket < encoded_size) bucket *= 2;
    return bucket;
}

Bytes pad_to_bucket(Bytes encoded) {
    encoded.resize(bucket_size(encoded.size()), 0);
    return encoded;
}

Result<PenaltyKit> decode(ByteSpan plaintext) {
    if (!is_kit(plaintext)) return bad("no kit magic");
    ByteReader r(plaintext.subspan(kit_magic.size()));
    PenaltyKit kit;
    std::uint8_t version = r.read_u8();
    if (r.ok() && version != kit_version) return bad("unknown version " + std::to_string(version));
    std::uint8_t flags = r.read_u8();
    if (r.ok() && (flags & ~1u) != 0) return bad("unknown flags");
    kit.anchors = (flags & 1u) != 0;
    kit.to_self_delay = r.read_u16_le();
    kit.revocation_pubkey = r.read_array<33>();
    kit.local_delayed_pubkey = r.read_array<33>();
    kit.local_htlc_pubkey = r.read_array<33>();
    kit.remote_htlc_pubkey = r.read_array<33>();
    std::uint8_t script_size = r.read_u8();
    kit.sweep_script = r.read_bytes(script_size);
    std::uint16_t part_count = r.read_u16_le();
    if (!r.ok()) return bad("truncated header");
    if (part_count == 0 || part_count > max_parts) return bad(std::to_string(part_count) + " parts");
    for (std::uint16_t i = 0; i < part_count && r.ok(); ++i) {
        Part part;
        std::uint8_t kind = r.read_u8();
        if (r.ok() && kind > static_cast<std::uint8_t>(PartKind::second_stage)) {
            return bad("unknown part kind " + std::to_string(kind));
        }
        part.kind = static_cast<PartKind>(kind);
        part.vout = r.read_u16_le();
        std::uint64_t amount = r.read_u64_le();
        if (r.ok() && amount > static_cast<std::uint64_t>(max_money)) return bad("part amount out of range");
        part.amount = static_cast<std::int64_t>(amount);
        if (part.kind != PartKind::to_local) {
            part.payment_hash = r.read_array<32>();
            part.cltv_expiry = r.read_u32_le();
        }
        if (part.kind == PartKind::second_stage) part.second_stage_txid.bytes = r.read_array<32>();
        std::uint8_t rung_count = r.read_u8();
        if (r.ok() && (rung_count == 0 || rung_count > max_rungs)) return bad(std::to_string(rung_count) + " rungs");
        for (std::uint8_t j = 0; j < rung_count && r.ok(); ++j) {
            Rung rung;
            rung.fee = r.read_u32_le();
            auto compact = r.read_array<64>();
            if (!r.ok()) break;
            auto signature = parse_compact_signature(compact);
            if (!signature) return bad("a rung's signature is not a valid (r, s)");
            rung.signature = *signature;
            part.rungs.push_back(rung);
        }
        kit.parts.push_back(std::move(part));
    }
    if (!r.ok()) return bad("truncated: " + r.error().message);
    while (r.remaining() > 0) {
        if (r.read_u8() != 0) return bad("non-zero bytes after the last part");
    }
    if (auto ok = validate(kit); !ok) return ok.error();
    return kit;
}

Bytes witness_script(const PenaltyKit& kit, const Part& part) {
    switch (part.kind) {
        case PartKind::to_local:
        case PartKind::second_stage:
            return bolt3::to_local_script(key(kit.revocation_pubkey), kit.to_self_delay, key(kit.local_delayed_pubkey));
        case PartKind::offered_htlc:
            return bolt3::offered_htlc_script(key(kit.revocation_pubkey), key(kit.local_htlc_pubkey),
                                              key(kit.remote_htlc_pubkey), part.payment_hash, kit.anchors);
        case PartKind::received_htlc:
            return bolt3::received_htlc_script(key(kit.revocation_pubkey), key(kit.local_htlc_pubkey),
                                               key(kit.remote_htlc_pubkey), part.payment_hash, part.cltv_expiry,
                                               kit.anchors);
    }
    return {};
}

OutPoint spent_outpoint(const Part& part, const Txid& commitment_txid) {
    if (part.kind == PartKind::second_stage) return {part.second_stage_txid, 0};
    return {commitment_txid, part.vout};
}

std::uint32_t deadline_height(const PenaltyKit& kit, const Part& part, std::uint32_t confirmed_height) {
    if (is_htlc(part.kind)) return part.cltv_expiry;
    return confirmed_height + kit.to_self_delay;
}

Transaction unsigned_penalty(const PenaltyKit& kit, const Part& part, const Txid& commitment_txid, std::uint32_t fee) {
    Transaction tx;
    tx.version = 2;
    tx.lock_time = 0;
    TxIn in;
    in.prevout = spent_outpoint(part, commitment_txid);
    in.sequence = penalty_sequence;
    tx.inputs.push_back(std::move(in));
    tx.outputs.push_back(TxOut{part.amount - static_cast<std::int64_t>(fee), kit.sweep_script});
    return tx;
}

Hash256 penalty_sighash(const PenaltyKit& kit, const Part& part, const Txid& commitment_txid, std::uint32_t fee) {
    Transaction tx = unsigned_penalty(kit, part, commitment_txid, fee);
    return segwit_v0_sighash(tx, 0, witness_script(kit, part), part.amount, SIGHASH_ALL);
}

Transaction signed_penalty(const PenaltyKit& kit, const Part& part, const Txid& commitment_txid, std::size_t rung) {
    const Rung& r = part.rungs.at(rung);
    Transaction tx = unsigned_penalty(kit, part, commitment_txid, r.fee);
    Bytes signature = serialize_der(r.signature);
    signature.push_back(SIGHASH_ALL);
    set_witness(kit, part, tx, std::move(signature));
    return tx;
}

std::int64_t feerate_per_kvb(std::int64_t fee, const Transaction& signed_tx) {
    return fee * 1000 / vsize_of(signed_tx);
}

std::int64_t max_penalty_vsize(const PenaltyKit& kit, const Part& part) {
    Transaction tx = unsigned_penalty(kit, part, Txid{}, 0);
    set_witness(kit, part, tx, Bytes(73, 0));
    return vsize_of(tx);
}

Status verify_part(const PenaltyKit& kit, const Part& part, const Transaction& spent_tx, const Txid& commitment_txid) {
    OutPoint spent = spent_outpoint(part, commitment_txid);
    std::string what = std::string(to_string(part.kind)) + " part (output " + std::to_string(part.vout) + ")";
    if (spent_tx.txid() != spent.txid) return bad(what + ": not a spend of this transaction");
    if (spent.index >= spent_tx.outputs.size()) return bad(what + ": the transaction has no such output");
    const TxOut& out = spent_tx.outputs[spent.index];
    if (out.value != part.amount) return bad(what + ": amount differs from the output's");
    Bytes script = witness_script(kit, part);
    if (out.script_pubkey != p2wsh_script(script)) return bad(what + ": the output does not pay to the part's script");
    PublicKey revocation = key(kit.revocation_pubkey);
    for (std::size_t i = 0; i < part.rungs.size(); ++i) {
        Hash256 digest = penalty_sighash(kit, part, commitment_txid, part.rungs[i].fee);
        if (!ecdsa_verify(revocation, digest, part.rungs[i].signature)) {
            return make_error(ErrorCode::invalid_signature,
                              "penalty kit: " + what + ": rung " + std::to_string(i) + "'s signature does not verify");
        }
    }
    return {};
}

Status check_replacement(const FeePoint& replaced, const FeePoint& replacement, std::int64_t incremental_relay_feerate) {
    if (replacement.fee <= replaced.fee) {
        return make_error(ErrorCode::invalid_argument, "replacement does not pay a higher absolute fee (BIP125 rule 3)");
    }
    if (replacement.fee * replaced.vsize <= replaced.fee * replacement.vsize) {
        return make_error(ErrorCode::invalid_argument, "replacement does not pay a higher fee rate (BIP125 rule 6)");
    }
    std::int64_t required = (incremental_relay_feerate * replacement.vsize + 999) / 1000;
    if (replacement.fee - replaced.fee < required) {
        return make_error(ErrorCode::invalid_argument,
                          "replacement adds " + std::to_string(replacement.fee - replaced.fee) + " sat, less than " +
                              std::to_string(required) + " for its own relay (BIP125 rule 4)");
    }
    return {};
}

std::vector<std::uint32_t> fee_ladder(std::int64_t floor_feerate, std::int64_t budget, std::int64_t max_vsize,
                                      std::size_t rungs, std::int64_t incremental_relay_feerate) {
    std::vector<std::uint32_t> fees;
    if (rungs == 0 || max_vsize <= 0 || budget > std::numeric_limits<std::uint32_t>::max()) return fees;
    std::int64_t first = std::max<std::int64_t>(1, (floor_feerate * max_vsize + 999) / 1000);
    if (budget < first) return fees;
    std::int64_t min_step = std::max<std::int64_t>(1, (incremental_relay_feerate * max_vsize + 999) / 1000);
    std::vector<std::int64_t> ladder{first};
    while (ladder.size() < rungs) {
        std::int64_t last = ladder.back();
        // Spread what is left of the range over the rungs that are left.
        double ratio = std::pow(static_cast<double>(budget) / static_cast<double>(last),
                                1.0 / static_cast<double>(rungs - ladder.size()));
        std::int64_t next =
            std::max(static_cast<std::int64_t>(std::ceil(static_cast<double>(last) * ratio)), last + min_step);
        if (next >= budget) {
            if (budget >= last + min_step) {
                ladder.push_back(budget);
            } else if (ladder.size() > 1 && budget >= ladder[ladder.size() - 2] + min_step) {
                ladder.back() = budget;
            }
            break;
        }
        ladder.push_back(next);
    }
    if (ladder.size() == 1 && rungs == 1) ladder.back() = budget;
    for (std::int64_t fee : ladder) fees.push_back(static_cast<std::uint32_t>(fee));
    return fees;
}

Status sign_part(const PenaltyKit& kit, Part& part, const Txid& commitment_txid, const PrivateKey& revocation_privkey) {
    PublicKey revocation = revocation_privkey.public_key();
    if (revocation.bytes() != kit.revocation_pubkey) {
        return make_error(ErrorCode::invalid_argument, "penalty kit: the signing key is not the kit's revocation key");
    }
    std::optional<FeePoint> previous;
    for (std::size_t i = 0; i < part.rungs.size(); ++i) {
        Rung& rung = part.rungs[i];
        if (part.amount - static_cast<std::int64_t>(rung.fee) < min_output) {
            return make_error(ErrorCode::invalid_argument, "penalty kit: a rung's fee leaves less than dust");
        }
        Hash256 digest = penalty_sighash(kit, part, commitment_txid, rung.fee);
        rung.signature = ecdsa_sign(revocation_privkey, digest);
        if (!ecdsa_verify(revocation, digest, rung.signature)) {
            return make_error(ErrorCode::invalid_signature, "penalty kit: a rung's signature does not verify");
        }
        FeePoint point{rung.fee, vsize_of(signed_penalty(kit, part, commitment_txid, i))};
        if (previous) {
            if (auto ok = check_replacement(*previous, point); !ok) {
                return make_error(ErrorCode::invalid_argument,
                                  "penalty kit: rung " + std::to_string(i) + " cannot replace the one below: " +
                                      ok.error().message);
            }
        }
        previous = point;
    }
    return {};
}

}  // namespace argus::kit
