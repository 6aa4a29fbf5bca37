#include "tests/chain_simulator/simulated_chain.h"

#include <stdexcept>

#include "common/script.h"

namespace argus::sim {

namespace {
std::pair<Hash256, std::uint32_t> key(const OutPoint& o) { return {o.txid.bytes, o.index}; }
}  // namespace

SimulatedChain::SimulatedChain() {
    Bytes payout = witness_script_pubkey({0, Bytes(20, 0)});
    Block genesis = make_block(Hash256{}, 0, {}, payout);
    blocks_[genesis.header.hash()] = genesis;
    connect(genesis);
}

Result<SimulatedChain> SimulatedChain::from_blocks(const std::vector<Block>& blocks) {
    SimulatedChain chain;
    if (blocks.empty() || blocks[0].header.hash() != chain.active_[0]) {
        return make_error(ErrorCode::malformed, "saved chain does not start at the simulator's genesis");
    }
    for (std::size_t i = 1; i < blocks.size(); ++i) {
        if (blocks[i].header.previous_block != chain.active_.back()) {
            return make_error(ErrorCode::malformed, "saved chain is not linked");
        }
        Hash256 hash = blocks[i].header.hash();
        chain.blocks_[hash] = blocks[i];
        chain.connect(chain.blocks_[hash]);
        chain.time_ = std::max(chain.time_, blocks[i].header.time);
    }
    return chain;
}

std::vector<Block> SimulatedChain::active_blocks() const {
    std::vector<Block> out;
    for (const auto& h : active_) out.push_back(blocks_.at(h));
    return out;
}

const Block& SimulatedChain::block_at(std::uint32_t h) const { return blocks_.at(active_.at(h)); }

std::optional<std::uint32_t> SimulatedChain::height_of(const Hash256& hash) const {
    for (std::size_t i = 0; i < active_.size(); ++i) {
        if (active_[i] == hash) return static_cast<std::uint32_t>(i);
    }
    return std::nullopt;
}

const Block* SimulatedChain::find_block(const Hash256& hash) const {
    auto it = blocks_.find(hash);
    return it == blocks_.end() ? nullptr : &it->second;
}

Block SimulatedChain::make_block(const Hash256& previous, std::uint32_t h, std::vector<Transaction> txs,
                                 const Bytes& payout_script) {
    Transaction coinbase;
    coinbase.version = 2;
    TxIn in;
    in.prevout.index = 0xffffffff;
    // BIP34: the height starts the coinbase scriptSig; a counter keeps
    // competing branches' coinbases (and so their block hashes) distinct.
    in.script_sig = ScriptBuilder().push_number(h).push_number(static_cast<std::int64_t>(blocks_.size())).build();
    coinbase.inputs.push_back(in);
    coinbase.outputs.push_back(TxOut{50'0000'0000, payout_script});
    Block block;
    block.transactions.push_back(coinbase);
    for (auto& tx : txs) block.transactions.push_back(std::move(tx));
    block.header.version = 0x20000000;
    block.header.previous_block = previous;
    block.header.merkle_root = compute_merkle_root(block);
    block.header.time = ++time_;
    block.header.bits = 0x207fffff;  // regtest difficulty; nonce not searched
    block.header.nonce = h;
    return block;
}

void SimulatedChain::connect(const Block& block) {
    auto h = static_cast<std::uint32_t>(active_.size());
    active_.push_back(block.header.hash());
    for (const auto& tx : block.transactions) {
        Txid id = tx.txid();
        bool coinbase = tx.inputs.size() == 1 && tx.inputs[0].prevout.index == 0xffffffff &&
                        tx.inputs[0].prevout.txid.bytes == Hash256{};
        if (!coinbase) {
            for (const auto& in : tx.inputs) utxos_.erase(key(in.prevout));
        }
        for (std::uint32_t i = 0; i < tx.outputs.size(); ++i) utxos_[{id.bytes, i}] = tx.outputs[i];
        confirmed_[id.bytes] = h;
    }
}

void SimulatedChain::disconnect_tip() {
    const Block& block = blocks_.at(active_.back());
    // Undo in reverse: drop created outputs, restore spent ones.
    for (auto it = block.transactions.rbegin(); it != block.transactions.rend(); ++it) {
        Txid id = it->txid();
        for (std::uint32_t i = 0; i < it->outputs.size(); ++i) utxos_.erase({id.bytes, i});
        confirmed_.erase(id.bytes);
        bool coinbase = it == std::prev(block.transactions.rend());
        if (coinbase) continue;
        for (const auto& in : it->inputs) {
            auto source = confirmed_.find(in.prevout.txid.bytes);
            if (source == confirmed_.end()) continue;
            const Block& b = block_at(source->second);
            for (const auto& tx : b.transactions) {
                if (tx.txid() == in.prevout.txid && in.prevout.index < tx.outputs.size()) {
                    utxos_[key(in.prevout)] = tx.outputs[in.prevout.index];
                }
            }
        }
    }
    active_.pop_back();
}

namespace {
std::int64_t vsize_of(const Transaction& tx) { return static_cast<std::int64_t>((tx.weight() + 3) / 4); }
bool signals_replaceable(const Transaction& tx) {
    for (const auto& in : tx.inputs) {
        if (in.sequence < 0xfffffffe) return true;
    }
    return false;
}
}  // namespace

std::optional<std::int64_t> SimulatedChain::mempool_fee(const Txid& txid) const {
    auto it = mempool_fees_.find(txid.bytes);
    if (it == mempool_fees_.end()) return std::nullopt;
    return it->second;
}

void SimulatedChain::remove_from_mempool(const std::set<Hash256>& txids) {
    std::vector<Transaction> kept;
    for (auto& tx : mempool_) {
        Hash256 id = tx.txid().bytes;
        if (txids.count(id)) {
            mempool_fees_.erase(id);
        } else {
            kept.push_back(std::move(tx));
        }
    }
    mempool_ = std::move(kept);
}

std::vector<Hash256> SimulatedChain::mine(std::uint32_t count, const Bytes& payout_script) {
    std::vector<Hash256> hashes;
    for (std::uint32_t i = 0; i < count; ++i) {
        // Mempool order puts parents first: a transaction is taken when it
        // pays the block minimum and its mempool parents were taken.
        std::vector<Transaction> txs, left;
        std::set<Hash256> taken, in_pool;
        for (const auto& tx : mempool_) in_pool.insert(tx.txid().bytes);
        for (auto& tx : mempool_) {
            Hash256 id = tx.txid().bytes;
            bool parents_taken = true;
            for (const auto& in : tx.inputs) {
                if (in_pool.count(in.prevout.txid.bytes) && !taken.count(in.prevout.txid.bytes)) parents_taken = false;
            }
            std::int64_t fee = mempool_fees_.count(id) ? mempool_fees_[id] : 0;
            if (parents_taken && fee * 1000 >= block_min_fee_rate_ * vsize_of(tx)) {
                taken.insert(id);
                mempool_fees_.erase(id);
                txs.push_back(std::move(tx));
            } else {
                left.push_back(std::move(tx));
            }
        }
        mempool_ = std::move(left);
        Block block = make_block(active_.back(), height() + 1, std::move(txs), payout_script);
        Hash256 hash = block.header.hash();
        blocks_[hash] = block;
        connect(blocks_[hash]);
        hashes.push_back(hash);
    }
    return hashes;
}

std::vector<Hash256> SimulatedChain::reorg(std::uint32_t depth, std::uint32_t new_blocks,
                                           const std::vector<Transaction>& include) {
    if (depth > height()) throw std::invalid_argument("reorg deeper than the chain");
    std::vector<Transaction> returning;
    for (std::uint32_t i = 0; i < depth; ++i) {
        const Block& b = blocks_.at(active_.back());
        for (std::size_t t = 1; t < b.transactions.size(); ++t) returning.push_back(b.transactions[t]);
        disconnect_tip();
    }
    std::vector<Transaction> old_mempool = std::move(mempool_);
    mempool_.clear();
    mempool_fees_.clear();
    Bytes payout = witness_script_pubkey({0, Bytes(20, 1)});
    std::vector<Hash256> hashes;
    for (std::uint32_t i = 0; i < new_blocks; ++i) {
        std::vector<Transaction> txs;
        if (i == 0) {
            for (const auto& tx : include) {
                bool inputs_ok = true;
                for (const auto& in : tx.inputs) inputs_ok = inputs_ok && utxos_.count(key(in.prevout));
                if (inputs_ok) txs.push_back(tx);
            }
        }
        Block block = make_block(active_.back(), height() + 1, std::move(txs), payout);
        Hash256 hash = block.header.hash();
        blocks_[hash] = block;
        connect(blocks_[hash]);
        hashes.push_back(hash);
    }
    returning.insert(returning.end(), old_mempool.begin(), old_mempool.end());
    rebuild_mempool(std::move(returning));
    return hashes;
}

void SimulatedChain::rebuild_mempool(std::vector<Transaction> candidates) {
    for (const auto& tx : candidates) (void)accept(tx);
}

bool SimulatedChain::in_mempool(const Txid& txid) const {
    for (const auto& tx : mempool_) {
        if (tx.txid() == txid) return true;
    }
    return false;
}

std::optional<std::uint32_t> SimulatedChain::confirmation_height(const Txid& txid) const {
    auto it = confirmed_.find(txid.bytes);
    if (it == confirmed_.end()) return std::nullopt;
    return it->second;
}

std::optional<TxOut> SimulatedChain::utxo(const OutPoint& outpoint) const {
    auto it = utxos_.find(key(outpoint));
    if (it == utxos_.end()) return std::nullopt;
    return it->second;
}

Result<Txid, RejectReason> SimulatedChain::accept(const Transaction& tx, bool dry_run) {
    Txid id = tx.txid();
    if (confirmed_.count(id.bytes)) return RejectReason{-27, "Transaction already in block chain"};
    if (in_mempool(id)) return RejectReason{-26, "txn-already-in-mempool"};
    if (tx.inputs.empty() || tx.outputs.empty()) return RejectReason{-26, "bad-txns-vin-empty"};
    std::int64_t in_value = 0, out_value = 0;
    std::set<std::pair<Hash256, std::uint32_t>> spent;
    std::set<Hash256> conflicts;  // mempool transactions spending an input of this one
    for (const auto& in : tx.inputs) {
        if (!spent.insert(key(in.prevout)).second) return RejectReason{-26, "bad-txns-inputs-duplicate"};
        for (const auto& m : mempool_) {
            for (const auto& mi : m.inputs) {
                if (mi.prevout == in.prevout) conflicts.insert(m.txid().bytes);
            }
        }
        std::optional<TxOut> prev = utxo(in.prevout);
        if (!prev) {
            // Created by a mempool transaction (a child)?
            for (const auto& m : mempool_) {
                if (m.txid() == in.prevout.txid && in.prevout.index < m.outputs.size()) prev = m.outputs[in.prevout.index];
            }
        }
        if (!prev) return RejectReason{-25, "bad-txns-inputs-missingorspent"};
        in_value += prev->value;
    }
    for (const auto& out : tx.outputs) out_value += out.value;
    if (out_value > in_value) return RejectReason{-26, "bad-txns-in-belowout"};
    std::int64_t vsize = vsize_of(tx);
    std::int64_t fee = in_value - out_value;
    if (fee * 1000 < min_fee_rate_ * vsize) {
        // bitcoind 0.21 validation.cpp: "mempool min fee not met", fee < required.
        return RejectReason{-26, "mempool min fee not met, " + std::to_string(fee) + " < " +
                                     std::to_string(min_fee_rate_ * vsize / 1000)};
    }
    std::set<Hash256> evicted;
    if (!conflicts.empty()) {
        // BIP125 as bitcoind 0.21's MemPoolAccept::PreChecks.
        std::int64_t evicted_fees = 0;
        for (const auto& m : mempool_) {
            if (!conflicts.count(m.txid().bytes)) continue;
            if (!signals_replaceable(m)) return RejectReason{-26, "txn-mempool-conflict"};
            std::int64_t old_fee = mempool_fees_[m.txid().bytes];
            if (fee * vsize_of(m) <= old_fee * vsize) {
                return RejectReason{-26, "insufficient fee, rejecting replacement " + id.to_display_hex() +
                                             "; new feerate <= old feerate"};
            }
        }
        // The conflicts and their descendants leave.
        evicted = conflicts;
        for (bool grew = true; grew;) {
            grew = false;
            for (const auto& m : mempool_) {
                Hash256 mid = m.txid().bytes;
                if (evicted.count(mid)) continue;
                for (const auto& mi : m.inputs) {
                    if (evicted.count(mi.prevout.txid.bytes)) {
                        evicted.insert(mid);
                        grew = true;
                        break;
                    }
                }
            }
        }
        for (const Hash256& e : evicted) evicted_fees += mempool_fees_[e];
        if (fee < evicted_fees) {
            return RejectReason{-26, "insufficient fee, rejecting replacement " + id.to_display_hex() +
                                         ", less fees than conflicting txs"};
        }
        if (fee - evicted_fees < incremental_relay_fee_rate * vsize / 1000) {
            return RejectReason{-26, "insufficient fee, rejecting replacement " + id.to_display_hex() +
                                         ", not enough additional fees to relay"};
        }
    }
    if (!dry_run) {
        if (!evicted.empty()) remove_from_mempool(evicted);
        mempool_.push_back(tx);
        mempool_fees_[id.bytes] = fee;
    }
    return id;
}

}  // namespace argus::sim
