// Test material for the watch path: disputes, penalties and teos appointments
// built from real transactions, and blocks with made-up hashes.
#pragma once

#include <memory>
#include <random>

#include "common/block.h"
#include "common/watchtower_crypto.h"
#include "server/store/store.h"
#include "server/watch/watch_core.h"

namespace argus::test {

inline Transaction random_transaction(std::mt19937_64& rng) {
    Transaction tx;
    TxIn in;
    for (auto& b : in.prevout.txid.bytes) b = static_cast<std::uint8_t>(rng());
    in.witness = {Bytes(71, 1), Bytes(33, 2)};
    tx.inputs.push_back(in);
    // One P2WPKH output keeps a 20,000-transaction block under the 4 MB limit.
    tx.outputs.push_back({static_cast<std::int64_t>(rng() % 100'000'000), Bytes(22, 3)});
    tx.lock_time = static_cast<std::uint32_t>(rng() % 400'000'000);
    return tx;
}

inline Transaction spending(const Transaction& parent, std::int64_t value) {
    Transaction tx;
    TxIn in;
    in.prevout = {parent.txid(), 0};
    in.witness = {Bytes(72, 4), Bytes(1, 1)};
    tx.inputs.push_back(in);
    tx.outputs.push_back({value, Bytes(22, 5)});
    return tx;
}

inline store::UserId test_user_id(std::uint8_t n) {
    store::UserId id{};
    id[0] = 0x02;
    id[32] = n;
    return id;
}

// A revoked commitment, its penalty and the teos appointment for it.
struct Dispute {
    Transaction dispute;
    Transaction penalty;
    store::AppointmentRecord appointment;
};

inline Dispute make_dispute(std::mt19937_64& rng, std::uint8_t user = 1) {
    Dispute d;
    d.dispute = random_transaction(rng);
    d.penalty = spending(d.dispute, 90'000);
    d.appointment.user_id = test_user_id(user);
    d.appointment.locator = teos::locator(d.dispute.txid());
    d.appointment.to_self_delay = 144;
    d.appointment.blob = teos::encrypt_penalty(d.penalty.serialize(), d.dispute.txid());
    return d;
}

inline std::shared_ptr<const watch::BlockView> make_view(std::vector<Transaction> txs, std::uint32_t height,
                                                          std::mt19937_64& rng) {
    auto block = std::make_shared<Block>();
    block->transactions = std::move(txs);
    Hash256 hash{};
    for (auto& b : hash) b = static_cast<std::uint8_t>(rng());
    return watch::make_block_view(std::move(block), hash, height);
}

}  // namespace argus::test
