#include "server/chain/rpc_chain_source.h"

#include "common/hex.h"

namespace argus::chain {

namespace {
Error to_error(const RpcError& e) {
    return make_error(e.kind == RpcError::Kind::transport || e.kind == RpcError::Kind::http ? ErrorCode::unavailable
                                                                                              : ErrorCode::malformed,
                      "bitcoind: " + e.message);
}

Result<Hash256> hash_from(const nlohmann::json& j) {
    if (!j.is_string()) return make_error(ErrorCode::malformed, "bitcoind returned a non-string block hash");
    auto txid = Txid::from_display_hex(j.get<std::string>());
    if (!txid) return make_error(ErrorCode::malformed, "bitcoind returned a malformed block hash");
    return txid->bytes;
}

std::string display(const Hash256& h) { return to_hex(reversed(h)); }
}  // namespace

Result<Hash256> RpcChainSource::best_block_hash() {
    auto r = rpc_.call("getbestblockhash");
    if (!r) return to_error(r.error());
    return hash_from(*r);
}

Result<std::optional<Hash256>> RpcChainSource::block_hash(std::uint32_t height) {
    auto r = rpc_.call("getblockhash", nlohmann::json::array({height}));
    if (!r) {
        if (r.error().kind == RpcError::Kind::rpc && r.error().code == -8) return std::optional<Hash256>();  // out of range
        return to_error(r.error());
    }
    auto h = hash_from(*r);
    if (!h) return h.error();
    return std::optional<Hash256>(*h);
}

Result<HeaderInfo> RpcChainSource::header(const Hash256& block_hash) {
    auto r = rpc_.call("getblockheader", nlohmann::json::array({display(block_hash), true}));
    if (!r) return to_error(r.error());
    if (!r->is_object() || !(*r)["height"].is_number_unsigned()) {
        return make_error(ErrorCode::malformed, "bitcoind returned a malformed header");
    }
    HeaderInfo info;
    info.height = (*r)["height"].get<std::uint32_t>();
    if (r->contains("previousblockhash")) {
        auto prev = hash_from((*r)["previousblockhash"]);
        if (!prev) return prev.error();
        info.previous = *prev;
    }
    return info;
}

Result<Block> RpcChainSource::block(const Hash256& block_hash) {
    auto r = rpc_.call("getblock", nlohmann::json::array({display(block_hash), 0}));
    if (!r) return to_error(r.error());
    if (!r->is_string()) return make_error(ErrorCode::malformed, "bitcoind returned a non-hex block");
    auto raw = parse_hex(r->get<std::string>());
    if (!raw) return raw.error();
    auto block = parse_block(*raw);
    if (!block) return block.error();
    if (block->header.hash() != block_hash) return make_error(ErrorCode::malformed, "bitcoind returned the wrong block");
    if (compute_merkle_root(*block) != block->header.merkle_root) {
        return make_error(ErrorCode::malformed, "block merkle root does not match its transactions");
    }
    return block;
}

BroadcastResult RpcChainSource::broadcast(const Transaction& tx) {
    std::string hex = to_hex(tx.serialize());
    auto dry = rpc_.call("testmempoolaccept", nlohmann::json::array({nlohmann::json::array({hex})}));
    if (!dry && dry.error().kind != RpcError::Kind::rpc) return {BroadcastResult::Kind::unavailable, 0, dry.error().message};
    // Whatever the dry run says, sendrawtransaction gives the authoritative code.
    auto sent = rpc_.call("sendrawtransaction", nlohmann::json::array({hex}));
    if (sent) return {BroadcastResult::Kind::accepted, 0, ""};
    const RpcError& e = sent.error();
    if (e.kind != RpcError::Kind::rpc) return {BroadcastResult::Kind::unavailable, 0, e.message};
    if (e.code == -27) return {BroadcastResult::Kind::already_in_chain, e.code, e.message};
    if (e.code == -26 && (e.message.find("already-in-mempool") != std::string::npos ||
                          e.message.find("txn-already-known") != std::string::npos)) {
        return {BroadcastResult::Kind::already_in_mempool, e.code, e.message};
    }
    // bitcoind validation.cpp (TX_MEMPOOL_POLICY): the transaction is valid
    // but pays too little for the mempool now; fees may fall.
    if (e.code == -26) {
        for (const char* fee_reason : {"min relay fee not met", "mempool min fee not met", "insufficient fee"}) {
            if (e.message.find(fee_reason) != std::string::npos) {
                return {BroadcastResult::Kind::fee_too_low, e.code, e.message};
            }
        }
    }
    return {BroadcastResult::Kind::rejected, e.code, e.message};
}

Result<bool> RpcChainSource::in_mempool(const Txid& txid) {
    auto r = rpc_.call("getmempoolentry", nlohmann::json::array({txid.to_display_hex()}));
    if (r) return true;
    if (r.error().kind == RpcError::Kind::rpc) return false;  // -5: not in mempool
    return to_error(r.error());
}

namespace {
// bitcoind's fee rates are BTC per 1000 vbytes.
std::int64_t sat_per_kvb(double btc_per_kvb) { return static_cast<std::int64_t>(btc_per_kvb * 1e8 + 0.5); }
}  // namespace

Result<FeeSnapshot> RpcChainSource::fee_snapshot() {
    FeeSnapshot snapshot;
    auto info = rpc_.call("getmempoolinfo");
    if (!info) return to_error(info.error());
    if (info->is_object() && info->contains("mempoolminfee") && (*info)["mempoolminfee"].is_number()) {
        snapshot.mempool_min_feerate = sat_per_kvb((*info)["mempoolminfee"].get<double>());
    }
    for (std::uint32_t target : fee_targets) {
        auto estimate = rpc_.call("estimatesmartfee", nlohmann::json::array({target, "CONSERVATIVE"}));
        if (!estimate) {
            if (estimate.error().kind == RpcError::Kind::rpc) continue;
            return to_error(estimate.error());
        }
        // No "feerate" (with "errors"): not enough data for this target.
        if (estimate->is_object() && estimate->contains("feerate") && (*estimate)["feerate"].is_number()) {
            snapshot.estimates.emplace_back(target, sat_per_kvb((*estimate)["feerate"].get<double>()));
        }
    }
    return snapshot;
}

}  // namespace argus::chain
