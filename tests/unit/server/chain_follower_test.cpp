// The watch path's adapter on a real TowerService and SQLite store, with an
// in-memory bitcoind (chain + mempool). Regressions for the two ways the
// landed tower lost a breach or an acknowledged write, made deterministic
// with hooks instead of timing: an appointment committed while a block is
// being scanned; an update admitted while a chain-side removal of the same
// appointment is being committed. And the deep-reorg halt.
#include <doctest/doctest.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/message_signing.h"
#include "common/teos_protocol.h"
#include "server/tower/tower_service.h"
#include "server/watch/chain_follower.h"
#include "tests/support/simulated_context.h"
#include "tests/support/teos_user.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/watch_chain.h"

using namespace argus;

namespace {

// bitcoind in memory: blocks by hash, an active chain, a mempool.
class MemoryChain final : public chain::ChainSource, public chain::Broadcaster {
public:
    explicit MemoryChain(std::mt19937_64& rng) : rng_(rng) { active_.push_back(make({}, Hash256{})); }

    Hash256 mine(std::vector<Transaction> txs) { return mine_on(active_.back(), std::move(txs)); }
    // Mines on `parent`; the new block becomes the tip if its branch is longest.
    Hash256 mine_on(const Hash256& parent, std::vector<Transaction> txs) {
        std::lock_guard lock(mutex_);
        Hash256 hash = make(std::move(txs), parent);
        std::uint32_t height = heights_.at(hash);
        if (height >= active_.size()) {
            // Re-point the active chain at this branch.
            std::vector<Hash256> branch;
            for (Hash256 h = hash;; h = blocks_.at(h).header.previous_block) {
                branch.push_back(h);
                if (heights_.at(h) == 0) break;
            }
            active_.assign(branch.rbegin(), branch.rend());
        }
        return hash;
    }
    Hash256 tip() const {
        std::lock_guard lock(mutex_);
        return active_.back();
    }
    std::vector<Transaction> broadcasts() const {
        std::lock_guard lock(mutex_);
        return broadcasts_;
    }
    std::atomic<bool> down{false};
    std::atomic<bool> broadcast_down{false};
    std::atomic<int> rpc_calls{0};

    Result<Hash256> best_block_hash() override {
        if (auto e = unavailable()) return *e;
        return tip();
    }
    Result<std::optional<Hash256>> block_hash(std::uint32_t height) override {
        if (auto e = unavailable()) return *e;
        std::lock_guard lock(mutex_);
        if (height >= active_.size()) return std::optional<Hash256>();
        return std::optional<Hash256>(active_[height]);
    }
    Result<chain::HeaderInfo> header(const Hash256& hash) override {
        if (auto e = unavailable()) return *e;
        std::lock_guard lock(mutex_);
        return chain::HeaderInfo{heights_.at(hash), blocks_.at(hash).header.previous_block};
    }
    Result<Block> block(const Hash256& hash) override {
        if (auto e = unavailable()) return *e;
        std::lock_guard lock(mutex_);
        return blocks_.at(hash);
    }
    chain::BroadcastResult broadcast(const Transaction& tx) override {
        if (down || broadcast_down) return {chain::BroadcastResult::Kind::unavailable, 0, "down"};
        std::lock_guard lock(mutex_);
        broadcasts_.push_back(tx);
        mempool_.insert(tx.txid());
        return {chain::BroadcastResult::Kind::accepted, 0, ""};
    }
    Result<bool> in_mempool(const Txid& txid) override {
        if (auto e = unavailable()) return *e;
        std::lock_guard lock(mutex_);
        return mempool_.count(txid) > 0;
    }

private:
    std::optional<Error> unavailable() {
        ++rpc_calls;
        if (down) return make_error(ErrorCode::unavailable, "bitcoind down");
        return std::nullopt;
    }
    Hash256 make(std::vector<Transaction> txs, const Hash256& parent) {
        Block b;
        b.header.previous_block = parent;
        b.header.nonce = static_cast<std::uint32_t>(rng_());
        b.transactions.push_back(test::random_transaction(rng_));
        for (auto& t : txs) b.transactions.push_back(std::move(t));
        b.header.merkle_root = compute_merkle_root(b);
        Hash256 hash = b.header.hash();
        heights_[hash] = blocks_.empty() ? 0 : heights_.at(parent) + 1;
        blocks_[hash] = std::move(b);
        return hash;
    }

    std::mt19937_64& rng_;
    mutable std::mutex mutex_;
    std::map<Hash256, Block> blocks_;
    std::map<Hash256, std::uint32_t> heights_;
    std::vector<Hash256> active_;
    std::vector<Transaction> broadcasts_;
    std::set<Txid> mempool_;
};

// A store whose writes can be held at a gate, to interleave commits with admissions.
class GatedStore final : public store::Store {
public:
    explicit GatedStore(std::unique_ptr<store::Store> inner) : inner_(std::move(inner)) {}
    void close_gate() {
        std::lock_guard lock(mutex_);
        open_ = false;
        held_ = false;
    }
    void open_gate() {
        std::lock_guard lock(mutex_);
        open_ = true;
        changed_.notify_all();
    }
    void wait_until_held() {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return held_; });
    }

    std::string backend_name() const override { return inner_->backend_name(); }
    Status bulk_load_appointments(std::span<const store::AppointmentRecord> appointments) override {
        return inner_->bulk_load_appointments(appointments);
    }
    Result<store::WriteEffects> write(const store::WriteBatch& batch) override {
        {
            std::unique_lock lock(mutex_);
            if (!open_) {
                held_ = true;
                changed_.notify_all();
                changed_.wait(lock, [&] { return open_; });
            }
        }
        return inner_->write(batch);
    }
    Result<std::vector<store::UserRecord>> load_users() override { return inner_->load_users(); }
    Result<std::optional<store::UserRecord>> get_user(const store::UserId& u) override { return inner_->get_user(u); }
    Result<std::optional<store::AppointmentRecord>> get_appointment(const store::AppointmentKey& k) override {
        return inner_->get_appointment(k);
    }
    Result<std::optional<std::size_t>> get_blob_size(const store::AppointmentKey& k) override {
        return inner_->get_blob_size(k);
    }
    Result<std::vector<store::AppointmentRecord>> find_by_locator(const Locator& l) override {
        return inner_->find_by_locator(l);
    }
    Result<std::vector<Locator>> user_locators(const store::UserId& u) override { return inner_->user_locators(u); }
    Status for_each_locator_prefix(const std::function<void(std::span<const Locator>)>& visit) override {
        return inner_->for_each_locator_prefix(visit);
    }
    Result<store::StoreCounts> counts() override { return inner_->counts(); }
    Result<std::vector<store::TrackerRecord>> load_trackers() override { return inner_->load_trackers(); }
    Result<std::vector<store::SessionRecord>> load_sessions() override { return inner_->load_sessions(); }
    Result<std::optional<store::ChainPosition>> chain_position() override { return inner_->chain_position(); }
    Status set_chain_position(const store::ChainPosition& p) override { return inner_->set_chain_position(p); }
    Status ping() override { return inner_->ping(); }
    Result<int> schema_version() override { return inner_->schema_version(); }
    Result<store::BackupInfo> backup(const std::string& path) override { return inner_->backup(path); }
    Result<std::vector<store::ElectrumAccountRecord>> load_electrum_accounts() override {
        return inner_->load_electrum_accounts();
    }
    Result<std::vector<store::ElectrumChannelRecord>> load_electrum_channels() override {
        return inner_->load_electrum_channels();
    }
    Result<std::vector<store::ChannelCloseRecord>> load_channel_closes() override { return inner_->load_channel_closes(); }

private:
    std::unique_ptr<store::Store> inner_;
    std::mutex mutex_;
    std::condition_variable changed_;
    bool open_ = true;
    bool held_ = false;
};

struct World {
    std::mt19937_64 rng{9};
    test::TemporaryDirectory dir;
    GatedStore store{store::open_sqlite_store(dir.path() + "/tower.sqlite").value()};
    test::SeededRng seed{3};
    tower::LocatorIndex index{seed};
    MemoryChain chain{rng};
    PrivateKey tower_key = PrivateKey::from_bytes(Bytes(32, 0x44)).value();
    std::atomic<watch::ChainFollower*> follower_ptr{nullptr};
    std::unique_ptr<tower::TowerService> service;
    std::unique_ptr<watch::ChainFollower> follower;
    test::TeosUser alice{7};

    explicit World(watch::FollowerOptions options = {}) {
        tower::TowerHooks hooks;
        hooks.on_appointment_stored = [this](store::AppointmentRecord a) {
            if (auto* f = follower_ptr.load()) f->appointment_stored(std::move(a));
        };
        service = std::make_unique<tower::TowerService>(
            store, index, tower_key, tower::SubscriptionPolicy{},
            [this] { return tower::ChainStatus{follower ? follower->status().height : 0, true}; }, hooks);
        REQUIRE(service->start());
        options.core.recent_blocks = 6;
        follower = std::make_unique<watch::ChainFollower>(chain, chain, index, *service, store, std::move(options));
        REQUIRE(follower->initialize());
        follower_ptr = follower.get();
        std::promise<bool> registered;
        service->register_user(alice.id(), [&](tower::ApiResult<tower::RegisterReply> r) { registered.set_value(bool(r)); });
        REQUIRE(registered.get_future().get());
    }
    ~World() {
        follower_ptr = nullptr;
        service->stop();
    }

    // add_appointment as the teos API does it. Returns once the write is
    // admitted and queued; the future is its acknowledgement.
    std::future<bool> add_async(const store::AppointmentRecord& a) {
        tower::AddAppointmentRequest request;
        request.locator = a.locator;
        request.encrypted_blob = a.blob;
        request.to_self_delay = a.to_self_delay;
        request.signature = sign_message(alice.key(), teos::add_appointment_message(a.locator, a.blob, a.to_self_delay));
        auto acked = std::make_shared<std::promise<bool>>();
        auto future = acked->get_future();
        service->add_appointment(request, [acked](tower::ApiResult<tower::AddAppointmentReply> r) { acked->set_value(bool(r)); });
        return future;
    }
    bool add(const store::AppointmentRecord& a) { return add_async(a).get(); }

    test::Dispute dispute() { return test::make_dispute(rng, 0); }
    bool broadcast(const Transaction& tx) const {
        for (const auto& b : chain.broadcasts()) {
            if (b.serialize() == tx.serialize()) return true;
        }
        return false;
    }
};

}  // namespace

TEST_CASE("follower: an appointment committed while its breach's block is being scanned is punished") {
    // Regression (defect 1): the scan read the index early and published the
    // block's locators only at its end; an appointment committed in between
    // matched neither and its breach was never punished.
    std::optional<test::Dispute> racing;
    World* world = nullptr;
    bool stored_during_scan = false;
    watch::FollowerOptions options;
    options.after_candidates_read = [&](std::uint32_t) {
        if (!racing || stored_during_scan) return;
        // The block's candidates are read; the appointment is committed and
        // acknowledged now, before the core has seen the block.
        stored_during_scan = world->add(racing->appointment);
        REQUIRE(stored_during_scan);
    };
    World w(options);
    world = &w;
    racing = w.dispute();
    racing->appointment.user_id = w.alice.id();
    w.chain.mine({racing->dispute});
    REQUIRE(w.follower->sync());
    CHECK(stored_during_scan);
    CHECK(w.broadcast(racing->penalty));
    CHECK(w.follower->tracker(racing->appointment.locator, w.alice.id()).has_value());
    CHECK(w.follower->stats().core.late_breaches == 1);
}

TEST_CASE("follower: an update admitted while a chain-side removal is committing stays watched") {
    // Regression (defect 2, across batches): the chain removal erased the
    // index entry; the update, admitted while the store still held the old
    // version, was marked "not new" and never re-inserted: stored,
    // acknowledged, never watched.
    World w;
    test::Dispute d = w.dispute();
    d.appointment.user_id = w.alice.id();
    REQUIRE(w.add(d.appointment));
    REQUIRE(w.index.maybe_contains(d.appointment.locator));

    w.store.close_gate();
    std::thread chain_side([&] {
        store::WriteBatch removal;  // e.g. its penalty was rejected at a breach
        removal.remove_appointment({d.appointment.locator, d.appointment.user_id});
        CHECK(w.service->commit_chain_effects(std::move(removal), {}));
    });
    w.store.wait_until_held();  // the removal is in the committer, not yet durable
    // The user sends it again: admitted now (the store still holds the old
    // version) and queued behind the removal.
    std::future<bool> acked = w.add_async(d.appointment);
    w.store.open_gate();
    chain_side.join();
    REQUIRE(acked.get());
    REQUIRE(w.store.get_appointment({d.appointment.locator, d.appointment.user_id}).value().has_value());
    CHECK(w.index.maybe_contains(d.appointment.locator));  // watched
    CHECK(w.index.size() == 1);

    // And the consequence that matters: its breach is punished.
    w.chain.mine({d.dispute});
    REQUIRE(w.follower->sync());
    CHECK(w.broadcast(d.penalty));
}

TEST_CASE("follower: remove_user goes through the committer and the index follows what committed") {
    World w;
    test::Dispute d = w.dispute();
    d.appointment.user_id = w.alice.id();
    REQUIRE(w.add(d.appointment));
    auto parts_before = w.service->committer_stats().parts;
    CHECK(w.service->remove_user(w.alice.id()).value() == 1);
    CHECK(w.service->committer_stats().parts == parts_before + 1);
    CHECK_FALSE(w.index.maybe_contains(d.appointment.locator));
    CHECK_FALSE(w.store.get_user(w.alice.id()).value().has_value());
    CHECK_FALSE(w.service->get_user(w.alice.id()).has_value());
}

TEST_CASE("follower: bitcoind down while broadcasting a penalty: the block is retried, nothing is lost") {
    World w;
    test::Dispute d = w.dispute();
    d.appointment.user_id = w.alice.id();
    REQUIRE(w.add(d.appointment));
    w.chain.mine({d.dispute});
    w.chain.broadcast_down = true;  // reads work, sendrawtransaction does not
    CHECK_FALSE(w.follower->sync());
    CHECK(w.follower->status().height == 0);  // the block was not taken
    CHECK(w.store.chain_position().value()->height == 0);
    w.chain.broadcast_down = false;
    REQUIRE(w.follower->sync());
    CHECK(w.follower->status().height == 1);
    CHECK(w.broadcast(d.penalty));
    REQUIRE(w.follower->tracker(d.appointment.locator, w.alice.id()).has_value());
    // Restart: the tracker and the position were durable.
    auto trackers = w.store.load_trackers().value();
    CHECK(trackers.size() == 1);
    CHECK(w.store.chain_position().value()->height == 1);
}

TEST_CASE("follower: a reorg deeper than max_reorg_depth halts with a clear reason instead of retrying") {
    watch::FollowerOptions options;
    options.max_reorg_depth = 2;
    World w(options);
    Hash256 fork = w.chain.tip();
    for (int i = 0; i < 4; ++i) w.chain.mine({});
    REQUIRE(w.follower->sync());
    CHECK(w.follower->status().height == 4);
    // A competing branch from the fork point, longer: 4 blocks to disconnect.
    Hash256 h = fork;
    for (int i = 0; i < 5; ++i) h = w.chain.mine_on(h, {});
    auto synced = w.follower->sync();
    REQUIRE_FALSE(synced);
    auto reason = w.follower->halted();
    REQUIRE(reason.has_value());
    CHECK(reason->find("max_reorg_depth") != std::string::npos);
    CHECK(w.follower->stats().halted);
    CHECK_FALSE(w.follower->caught_up());
    int calls = w.chain.rpc_calls;
    CHECK_FALSE(w.follower->sync());
    CHECK(w.chain.rpc_calls == calls);  // halted: no more RPC, no endless retry
}

TEST_CASE("follower: a flood of appointments for recent txids costs one round and one commit") {
    // Anyone can send appointments whose locators are recent txids (with junk
    // blobs): each must be checked, but they must not cost the follower one
    // transaction each, or they would delay the next block.
    World w;
    std::vector<Transaction> txs;
    for (int i = 0; i < 50; ++i) txs.push_back(test::random_transaction(w.rng));
    w.chain.mine(txs);
    REQUIRE(w.follower->sync());
    for (const auto& tx : txs) {
        store::AppointmentRecord junk;
        junk.locator = teos::locator(tx.txid());
        junk.user_id = w.alice.id();
        junk.blob = Bytes(120, 0x5a);  // does not open with the txid
        REQUIRE(w.add(junk));
    }
    CHECK(w.index.size() == 50);
    auto batches_before = w.service->committer_stats().batches;
    REQUIRE(w.follower->check_stored_appointments());
    CHECK(w.service->committer_stats().batches == batches_before + 1);
    CHECK(w.follower->stats().core.invalid_appointments == 50);
    CHECK(w.index.size() == 0);  // rust-teos: a triggered appointment that does not open is dropped
    CHECK(w.store.counts().value().appointments == 0);
    CHECK(w.follower->stats().appointments_checked_late == 50);
}
