#include "client/node/client_node.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <algorithm>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "common/hex.h"
#include "common/watchtower_crypto.h"

namespace argus::client {

using json = nlohmann::json;

namespace {
// The client's teos identity: a key made once in the data dir, mode 0600.
Result<PrivateKey> load_or_create_key(const std::string& path, Rng& rng) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
        if ((st.st_mode & 077) != 0) return make_error(ErrorCode::invalid_argument, path + " is readable by others; chmod 600 it");
        std::ifstream in(path);
        std::string hex;
        in >> hex;
        auto bytes = parse_hex(hex);
        if (!bytes) return make_error(ErrorCode::invalid_argument, path + " is corrupt");
        return PrivateKey::from_bytes(*bytes);
    }
    for (;;) {
        ByteArray<32> secret{};
        if (!rng.fill(secret)) return make_error(ErrorCode::unavailable, "no randomness for the client key");
        auto key = PrivateKey::from_bytes(secret);
        if (!key) {
            secure_wipe(secret.data(), secret.size());
            continue;
        }
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) return make_error(ErrorCode::storage, "cannot create " + path);
        std::string line = to_hex(secret) + "\n";
        bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
        ::close(fd);
        secure_wipe(secret.data(), secret.size());
        if (!ok) return make_error(ErrorCode::storage, "cannot write " + path);
        return key;
    }
}
json breach_fields(const BreachRecord& b) {
    return {{"channel_id", b.channel_id},
            {"commitnum", b.commitment_number},
            {"locator", to_hex(b.locator)},
            {"dispute_txid", b.dispute_txid.to_display_hex()},
            {"penalty_txid", b.penalty_txid.to_display_hex()},
            {"tower", to_hex(b.reported_by.bytes())}};
}

json chain_action_fields(const ChainAction& action, std::string& type) {
    if (const auto* r = std::get_if<RecordClose>(&action)) {
        const ObservedClose& c = r->close;
        type = "channel_closed";
        json j = {{"channel_id", c.channel_id},
                  {"close_type", to_string(c.type)},
                  {"closing_txid", c.closing_txid.to_display_hex()},
                  {"height", c.height}};
        if (c.commitment_number) j["commitnum"] = *c.commitment_number;
        if (c.penalty_txid) j["penalty_txid"] = c.penalty_txid->to_display_hex();
        return j;
    }
    if (const auto* f = std::get_if<ForgetClose>(&action)) {
        type = "channel_close_reorged";
        return {{"channel_id", f->channel_id}};
    }
    if (const auto* p = std::get_if<RecordPenaltyConfirmation>(&action)) {
        type = "penalty_confirmed";
        return {{"channel_id", p->confirmation.channel_id},
                {"penalty_txid", p->confirmation.penalty_txid.to_display_hex()},
                {"height", p->confirmation.height}};
    }
    if (const auto* fp = std::get_if<ForgetPenaltyConfirmation>(&action)) {
        type = "penalty_reorged";
        return {{"channel_id", fp->channel_id}, {"penalty_txid", fp->penalty_txid.to_display_hex()}};
    }
    type.clear();  // the tip moved: not an event for wallets
    return {};
}
}  // namespace

Result<std::unique_ptr<ClientNode>> ClientNode::open(const std::string& data_dir, Context context,
                                                     BackupWorkerOptions options, ChainWatchOptions chain) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) return make_error(ErrorCode::storage, "cannot create " + data_dir + ": " + ec.message());
    if (::chmod(data_dir.c_str(), 0700) != 0) return make_error(ErrorCode::storage, "cannot chmod 700 " + data_dir);
    auto key = load_or_create_key(data_dir + "/client_key", context.rng);
    if (!key) return key.error();
    auto queue = BackupQueue::open(data_dir + "/backups.sqlite");
    if (!queue) return queue.error();
    ByteArray<8> stream{};
    if (!context.rng.fill(stream)) return make_error(ErrorCode::unavailable, "no randomness for the event stream id");
    std::unique_ptr<ClientNode> node(new ClientNode(context, key->public_key()));
    node->queue_ = std::move(*queue);
    node->events_ = std::make_unique<EventFeed>(context.clock, to_hex(stream));
    auto breaches = node->queue_->breaches();
    if (!breaches) return breaches.error();
    for (const auto& b : *breaches) node->events_->publish("breach_reported", breach_fields(b), b.reported_ms);
    ClientNode* self = node.get();  // owns the worker: outlives its callbacks
    options.on_acknowledged = [self, chained = options.on_acknowledged](const PublicKey& tower, const BackupRecord& b) {
        self->events_->publish("backup_acknowledged",
                               {{"tower", to_hex(tower.bytes())}, {"locator", to_hex(b.locator)},
                                {"channel_id", b.channel_id}, {"commitnum", b.commitment_number}},
                               self->now_ms());
        if (chained) chained(tower, b);
    };
    options.on_breach = [self, chained = options.on_breach](const BreachRecord& b) {
        self->events_->publish("breach_reported", breach_fields(b), b.reported_ms);
        self->chain_->watch_penalty(b.channel_id, b.penalty_txid);
        if (chained) chained(b);
    };
    node->worker_ = std::make_unique<BackupWorker>(*node->queue_, *key, context.clock, options);
    chain.on_action = [self](const ChainAction& action) {
        std::string type;
        json fields = chain_action_fields(action, type);
        if (!type.empty()) self->events_->publish(type, std::move(fields), self->now_ms());
    };
    auto watch = ChainWatch::open(data_dir + "/chain.sqlite", context.clock, std::move(chain));
    if (!watch) return watch.error();
    node->chain_ = std::move(*watch);
    // What the chain view needs from the backups: each revoked commitment's
    // justice txid (the blob is encrypted under the commitment txid), and the
    // penalties towers reported.
    auto backups = node->queue_->backups();
    if (!backups) return backups.error();
    for (const auto& b : *backups) {
        auto penalty = teos::decrypt_penalty(b.backup.encrypted_blob, b.backup.commitment_txid);
        if (!penalty) continue;  // queued by this client, so never: nothing to watch for
        auto tx = parse_transaction(*penalty);
        if (!tx) continue;
        node->chain_->add_revoked({b.backup.channel_id, b.backup.commitment_number, b.backup.commitment_txid, tx->txid()});
    }
    for (const auto& b : *breaches) node->chain_->watch_penalty(b.channel_id, b.penalty_txid);
    return node;
}

std::int64_t ClientNode::now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(context_.clock.system_now().time_since_epoch()).count();
}

ClientNode::~ClientNode() {
    if (chain_) chain_->stop();
    if (worker_) worker_->stop();
    if (events_) events_->stop();
}

Result<std::string> ClientNode::add_tower(std::string_view text) {
    auto address = TowerAddress::parse(text);
    if (!address) return address.error();
    if (auto ok = queue_->add_tower(*address, now_ms()); !ok) return ok.error();
    worker_->wake();
    return address->to_string();
}

Status ClientNode::remove_tower(std::string_view id_hex) {
    auto bytes = parse_hex(id_hex);
    if (!bytes) return make_error(ErrorCode::invalid_argument, "tower id must be hex");
    auto id = PublicKey::parse(*bytes);
    if (!id) return make_error(ErrorCode::invalid_argument, "tower id must be a 33-byte public key");
    return queue_->remove_tower(*id);
}

Result<Locator> ClientNode::backup(const RevokedState& state) {
    auto txid = Txid::from_display_hex(state.commitment_txid);
    if (!txid) return make_error(ErrorCode::invalid_argument, "commitment_txid must be 32 bytes of hex");
    auto raw = parse_hex(state.penalty_tx);
    if (!raw) return make_error(ErrorCode::invalid_argument, "penalty_tx is not hex");
    auto penalty = parse_transaction(*raw);
    if (!penalty) return make_error(ErrorCode::invalid_argument, "penalty_tx is not a transaction: " + penalty.error().message);
    bool spends_commitment = false;
    for (const auto& in : penalty->inputs) spends_commitment = spends_commitment || in.prevout.txid == *txid;
    if (!spends_commitment) {
        return make_error(ErrorCode::invalid_argument, "penalty_tx does not spend the commitment transaction");
    }
    if (state.funding_outpoint) {
        if (state.channel_id.empty()) return make_error(ErrorCode::invalid_argument, "funding_outpoint needs a channel_id");
        if (auto ok = chain_->watch_funding(state.channel_id, *state.funding_outpoint); !ok) return ok.error();
    }
    BackupRecord record;
    record.locator = teos::locator(*txid);
    record.commitment_txid = *txid;
    record.encrypted_blob = teos::encrypt_penalty(*raw, *txid);
    record.to_self_delay = state.to_self_delay;
    record.channel_id = state.channel_id;
    record.commitment_number = state.commitment_number;
    if (state.kit) {
        auto encoded = kit::encode(*state.kit);
        if (!encoded) return encoded.error();
        record.kit_blob = teos::encrypt_penalty(kit::pad_to_bucket(std::move(*encoded)), *txid);
    }
    auto queued = queue_->enqueue(record, now_ms());
    if (!queued) return queued.error();
    if (*queued) chain_->add_revoked({record.channel_id, record.commitment_number, record.commitment_txid, penalty->txid()});
    worker_->wake();
    return record.locator;
}

Status ClientNode::watch_funding(const std::string& channel_id, const OutPoint& funding) {
    return chain_->watch_funding(channel_id, funding);
}

Status ClientNode::retry_now() {
    if (auto ok = queue_->retry_now(now_ms()); !ok) return ok;
    worker_->wake();
    return {};
}

json ClientNode::towers_json() {
    json out = json::array();
    auto status = queue_->tower_status();
    if (!status) return out;
    for (const auto& s : *status) {
        out.push_back({{"tower", s.tower.address.to_string()},
                       {"standing", s.tower.standing},
                       {"misbehavior", s.tower.misbehavior},
                       {"registered", s.tower.registered},
                       {"available_slots", s.tower.available_slots},
                       {"subscription_expiry", s.tower.subscription_expiry},
                       {"pending", s.pending},
                       {"acknowledged", s.acked},
                       {"failed", s.failed}});
    }
    return out;
}

json ClientNode::backups_json() {
    json out = json::array();
    auto list = queue_->backups();
    if (!list) return out;
    for (const auto& b : *list) {
        json deliveries = json::object();
        for (const auto& [tower, status] : b.deliveries) deliveries[tower] = status;
        out.push_back({{"locator", to_hex(b.backup.locator)},
                       {"commitment_txid", b.backup.commitment_txid.to_display_hex()},
                       {"channel_id", b.backup.channel_id},
                       {"commitnum", b.backup.commitment_number},
                       {"towers", deliveries}});
    }
    return out;
}

Result<json> ClientNode::channels_json() {
    auto list = queue_->channels();
    if (!list) return list.error();
    // Channels the chain view watches but nothing was backed up for yet.
    std::set<std::string> listed;
    for (const auto& c : *list) listed.insert(c.channel_id);
    for (const auto& [id, funding] : chain_->fundings()) {
        if (listed.insert(id).second) list->push_back(ChannelSummary{id, 0, 0, {}, {}});
    }
    std::sort(list->begin(), list->end(), [](const auto& a, const auto& b) { return a.channel_id < b.channel_id; });
    const bool chain_view = chain_->following();
    auto tip = chain_->tip();
    json out = json::array();
    for (const auto& c : *list) {
        json towers = json::array();
        for (const auto& t : c.towers) {
            towers.push_back({{"tower", t.tower},
                              {"acknowledged", t.acked},
                              {"pending", t.pending},
                              {"failed", t.failed},
                              {"last_acknowledged_commitnum",
                               t.last_acked_commitment_number ? json(*t.last_acked_commitment_number) : json(nullptr)}});
        }
        ChainChannelStatus seen = chain_->status(c.channel_id);
        const ObservedClose* close = seen.close ? &*seen.close : nullptr;
        json channel = {{"channel_id", c.channel_id},
                        {"backups", c.backups},
                        {"highest_commitnum", c.highest_commitment_number},
                        {"towers", std::move(towers)},
                        {"funding_outpoint", seen.funding ? json(seen.funding->txid.to_display_hex() + ":" +
                                                                 std::to_string(seen.funding->index))
                                                          : json(nullptr)},
                        // The chain view's close, else a tower's breach report.
                        {"status", close || c.breach ? "closed" : "open"},
                        {"close_type", close ? json(to_string(close->type)) : c.breach ? json("breach") : json(nullptr)},
                        {"closing_txid", close ? json(close->closing_txid.to_display_hex()) : json(nullptr)},
                        {"close_height", close ? json(close->height) : json(nullptr)},
                        {"close_confirmations", close ? json(seen.close_confirmations) : json(nullptr)},
                        {"breached_commitnum", nullptr},
                        {"dispute_txid", nullptr},
                        {"penalty_txid", nullptr},
                        // Without a chain view (no bitcoind configured): unknown.
                        {"penalty_confirmations", nullptr},
                        {"reported_by", nullptr},
                        {"reported_at_ms", nullptr},
                        {"chain_view", chain_view ? json{{"tip_height", tip ? json(tip->height) : json(nullptr)},
                                                         {"bitcoind_reachable", chain_->reachable()}}
                                                  : json(nullptr)}};
        std::optional<Txid> penalty;
        if (close && close->type == CloseType::breach) {
            channel["breached_commitnum"] = *close->commitment_number;
            channel["dispute_txid"] = close->closing_txid.to_display_hex();
            penalty = close->penalty_txid;
        }
        if (c.breach) {
            channel["breached_commitnum"] = c.breach->commitment_number;
            channel["dispute_txid"] = c.breach->dispute_txid.to_display_hex();
            penalty = c.breach->penalty_txid;
            channel["reported_by"] = to_hex(c.breach->reported_by.bytes());
            channel["reported_at_ms"] = c.breach->reported_ms;
        }
        if (penalty) {
            channel["penalty_txid"] = penalty->to_display_hex();
            if (chain_view) channel["penalty_confirmations"] = chain_->penalty_confirmations(c.channel_id, *penalty);
        }
        out.push_back(std::move(channel));
    }
    return out;
}

std::string ClientNode::metrics_text() {
    // The client's metrics, declared here in one place (argus_client_ prefix;
    // labels: the tower id, bounded by the configured towers, and the queue
    // operation, bounded by BackupWorker's operations).
    auto registry = std::make_shared<prometheus::Registry>();
    auto& depth = prometheus::BuildGauge().Name("argus_client_queue_depth").Help("deliveries waiting to be sent").Register(*registry);
    auto& backups = prometheus::BuildGauge().Name("argus_client_backups").Help("backups per tower by status").Register(*registry);
    auto& reachable = prometheus::BuildGauge().Name("argus_client_tower_reachable").Help("1 when the tower answered the last attempt").Register(*registry);
    auto& misbehaving = prometheus::BuildGauge().Name("argus_client_tower_misbehaving").Help("1 when the tower broke its word").Register(*registry);
    auto& queue_errors = prometheus::BuildCounter().Name("argus_client_queue_errors_total").Help("backup queue operations that failed, by operation").Register(*registry);
    auto& breaches = prometheus::BuildGauge().Name("argus_client_breaches_reported").Help("breaches towers reported, on record").Register(*registry);
    auto& waiting_polls = prometheus::BuildGauge().Name("argus_client_event_polls_waiting").Help("GET /events long-polls parked").Register(*registry);
    if (auto recorded = queue_->breaches()) breaches.Add({}).Set(static_cast<double>(recorded->size()));
    waiting_polls.Add({}).Set(static_cast<double>(events_->waiting_polls()));
    for (const auto& [operation, count] : worker_->queue_errors()) {
        queue_errors.Add({{"operation", operation}}).Increment(static_cast<double>(count));
    }
    auto pending = queue_->pending_count();
    depth.Add({}).Set(pending ? static_cast<double>(*pending) : 0);
    auto seen = worker_->reachability();
    if (auto status = queue_->tower_status()) {
        for (const auto& t : *status) {
            std::string id = to_hex(t.tower.address.id.bytes());
            backups.Add({{"tower", id}, {"status", "pending"}}).Set(static_cast<double>(t.pending));
            backups.Add({{"tower", id}, {"status", "acknowledged"}}).Set(static_cast<double>(t.acked));
            backups.Add({{"tower", id}, {"status", "failed"}}).Set(static_cast<double>(t.failed));
            auto it = seen.find(id);
            reachable.Add({{"tower", id}}).Set(it != seen.end() && it->second ? 1 : 0);
            misbehaving.Add({{"tower", id}}).Set(t.tower.standing == "misbehaving" ? 1 : 0);
        }
    }
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry->Collect());
    return out.str();
}

json ClientNode::status_json() {
    auto pending = queue_->pending_count();
    return {{"user_id", to_hex(user_id_.bytes())}, {"queue_depth", pending ? *pending : 0}, {"towers", towers_json()}};
}

}  // namespace argus::client
