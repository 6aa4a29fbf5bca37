#include "client/node/client_node.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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
}  // namespace

Result<std::unique_ptr<ClientNode>> ClientNode::open(const std::string& data_dir, Context context,
                                                     BackupWorkerOptions options) {
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
        if (chained) chained(b);
    };
    node->worker_ = std::make_unique<BackupWorker>(*node->queue_, *key, context.clock, options);
    return node;
}

std::int64_t ClientNode::now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(context_.clock.system_now().time_since_epoch()).count();
}

ClientNode::~ClientNode() {
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
    BackupRecord record;
    record.locator = teos::locator(*txid);
    record.commitment_txid = *txid;
    record.encrypted_blob = teos::encrypt_penalty(*raw, *txid);
    record.to_self_delay = state.to_self_delay;
    record.channel_id = state.channel_id;
    record.commitment_number = state.commitment_number;
    auto queued = queue_->enqueue(record, now_ms());
    if (!queued) return queued.error();
    worker_->wake();
    return record.locator;
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
        json channel = {{"channel_id", c.channel_id},
                        {"backups", c.backups},
                        {"highest_commitnum", c.highest_commitment_number},
                        {"towers", std::move(towers)},
                        // Without a chain view only a tower's breach report closes a channel here.
                        {"status", c.breach ? "closed" : "open"},
                        {"close_type", c.breach ? json("breach") : json(nullptr)},
                        {"breached_commitnum", nullptr},
                        {"dispute_txid", nullptr},
                        {"penalty_txid", nullptr},
                        {"penalty_confirmations", nullptr},  // needs a chain view the client does not have
                        {"reported_by", nullptr},
                        {"reported_at_ms", nullptr}};
        if (c.breach) {
            channel["breached_commitnum"] = c.breach->commitment_number;
            channel["dispute_txid"] = c.breach->dispute_txid.to_display_hex();
            channel["penalty_txid"] = c.breach->penalty_txid.to_display_hex();
            channel["reported_by"] = to_hex(c.breach->reported_by.bytes());
            channel["reported_at_ms"] = c.breach->reported_ms;
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
