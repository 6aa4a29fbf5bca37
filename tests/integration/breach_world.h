// A chain (argus-chain-sim), a tower (argus-tower) and a victim with funds,
// as real processes, for end-to-end breach scenarios. Transactions are real
// P2WPKH spends signed over their BIP143 sighash, so the same flows are valid
// on a real bitcoind (the simulator itself does not verify scripts).
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/bech32.h"
#include "common/hex.h"
#include "common/script.h"
#include "common/sighash.h"
#include "common/watchtower_crypto.h"
#include "net/bitcoind_rpc.h"
#include "tests/support/bitcoind.h"
#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/p2wpkh_wallet.h"
#include "tests/support/teos_user.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/temporary_postgres.h"

namespace argus::test {

using json = nlohmann::json;

inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return condition();
}

// Forwards a real bitcoind's ZMQ notifications to the tower, or drops them
// on demand: how a lost notification is staged when the chain is bitcoind.
class ZmqRelay {
public:
    explicit ZmqRelay(const std::string& upstream) {
        std::promise<std::string> bound;
        auto endpoint = bound.get_future();
        thread_ = std::thread([this, upstream, bound = std::move(bound)]() mutable {
            zmq::context_t context;
            zmq::socket_t sub(context, zmq::socket_type::sub);
            sub.set(zmq::sockopt::subscribe, "");
            sub.connect(upstream);
            zmq::socket_t pub(context, zmq::socket_type::pub);
            pub.bind("tcp://127.0.0.1:*");
            bound.set_value(pub.get(zmq::sockopt::last_endpoint));
            while (!stop_) {
                zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
                if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) <= 0) continue;
                std::vector<zmq::message_t> frames;
                if (!zmq::recv_multipart(sub, std::back_inserter(frames))) continue;
                if (!drop_) zmq::send_multipart(pub, frames);
            }
        });
        endpoint_ = endpoint.get();
    }
    ~ZmqRelay() {
        stop_ = true;
        thread_.join();
    }
    const std::string& endpoint() const { return endpoint_; }
    void set_drop(bool drop) { drop_ = drop; }

private:
    std::atomic<bool> stop_{false}, drop_{false};
    std::string endpoint_;
    std::thread thread_;
};

class BreachWorld {
public:
    struct Options {
        std::vector<std::string> tower_args;  // extra flags
        std::string postgres;                 // empty: SQLite
    };

    // The chain is the simulator, or a real regtest bitcoind when BITCOIND is
    // set (tests/support/bitcoind.h); the scenarios are written for both.
    explicit BreachWorld(Options options = {}) : options_(std::move(options)) {
        real_ = !bitcoind_path().empty();
        start_chain();
        rpc_ = std::make_unique<chain::BitcoindRpc>(chain::RpcEndpoint{"127.0.0.1", rpc_port_, "u", "p", "", std::chrono::seconds(10)});
        REQUIRE_MESSAGE(wait_until([&] { return rpc_->call("getblockcount").has_value(); }, std::chrono::seconds(60)),
                        chain_->log());
        // Funds: three coinbases to the funder; bitcoind spends a coinbase
        // only after 100 confirmations.
        mine(real_ ? 103 : 3);
        start_tower();
        REQUIRE(api().post("/register", user.register_body()).status == 200);
    }
    bool real_bitcoind() const { return real_; }
    // Drops the chain's ZMQ notifications until called with false.
    void drop_zmq(bool drop) {
        if (real_) {
            relay_->set_drop(drop);
        } else {
            call("simulator_zmq_drop", json::array({drop}));
        }
    }
    std::string zmq_endpoint() {
        if (!real_) return "tcp://127.0.0.1:" + std::to_string(zmq_port_);
        if (!relay_) relay_ = std::make_unique<ZmqRelay>("tcp://127.0.0.1:" + std::to_string(zmq_port_));
        return relay_->endpoint();
    }

    // --- processes
    // The first start passes port 0: the simulator binds its RPC and ZMQ ports
    // itself and reports them in its ports file, so no port is picked here and
    // raced for. A restart reuses the reported ports, as a restarted bitcoind
    // keeps its configured ones (the running tower is pointed at them).
    void start_chain(const std::vector<std::string>& bitcoind_args = {}) {
        if (real_) {
            if (rpc_port_ == 0) {
                rpc_port_ = static_cast<std::uint16_t>(find_free_tcp_port());
                zmq_port_ = static_cast<std::uint16_t>(find_free_tcp_port());
            }
            chain_ = std::make_unique<ChildProcess>(
                bitcoind_argv(dir_.path() + "/bitcoind", {rpc_port_, zmq_port_}, "u", "p", bitcoind_args),
                dir_.path() + "/bitcoind.log." + std::to_string(++chain_starts_));
            if (rpc_) wait_until([&] { return rpc_->call("getblockcount").has_value(); }, std::chrono::seconds(60));
            return;
        }
        std::string ports_file = dir_.path() + "/sim.ports." + std::to_string(++chain_starts_);
        chain_ = std::make_unique<ChildProcess>(
            std::vector<std::string>{ARGUS_SIM_BINARY, "--rpc-port", std::to_string(rpc_port_), "--rpc-user", "u",
                                     "--rpc-password", "p", "--zmq", "--zmq-port", std::to_string(zmq_port_),
                                     "--state-file", dir_.path() + "/chain.dat", "--ports-file", ports_file},
            dir_.path() + "/sim.log");
        auto ports = json::parse(wait_for_file(ports_file));
        rpc_port_ = ports.at("rpc_port").get<std::uint16_t>();
        zmq_port_ = ports.at("zmq_port").get<std::uint16_t>();
    }
    void kill_chain() {
        // bitcoind writes its chain state lazily: a SIGKILL would also take
        // recent blocks with it. The scenarios are about the tower, so make
        // bitcoind's state durable first (gettxoutsetinfo flushes it).
        if (real_) call("gettxoutsetinfo");
        chain_->signal(SIGKILL);
        chain_->wait();
    }
    void start_tower() {
        std::string ready = dir_.path() + "/ready." + std::to_string(++tower_starts_);
        std::vector<std::string> argv = {ARGUS_TOWER_BINARY, "--data-dir", dir_.path() + "/tower", "--api-port", "0", "--wtwire-port", "0", "--electrum-port", "0",
                                         "--admin-port", "0", "--metrics-port", "0", "--bitcoind-rpc-port", std::to_string(rpc_port_),
                                         "--bitcoind-rpc-user", "u", "--bitcoind-rpc-password", "p",
                                         "--bitcoind-zmq", zmq_endpoint(),
                                         "--ready-file", ready, "--resolve-depth", "3", "--rebroadcast-after", "2"};
        argv.insert(argv.end(), options_.tower_args.begin(), options_.tower_args.end());
        if (!options_.postgres.empty()) {
            argv.push_back("--postgres");
            argv.push_back(options_.postgres);
        }
        tower_ = std::make_unique<ChildProcess>(argv, dir_.path() + "/tower.log");
        auto r = json::parse(wait_for_file(ready));
        api_port_ = r["api_port"].get<std::uint16_t>();
        admin_port_ = r["admin_port"].get<std::uint16_t>();
        metrics_port_ = r["metrics_port"].get<std::uint16_t>();
        wtwire_port_ = r.value("wtwire_port", std::uint16_t{0});
        electrum_port_ = r.value("electrum_port", std::uint16_t{0});
        api_ = std::make_unique<HttpClient>(api_port_);
    }
    void kill_tower() {
        tower_->signal(SIGKILL);
        tower_->wait();
    }
    std::string tower_log() const { return tower_->log(); }
    const std::string& directory() const { return dir_.path(); }

    // --- chain
    json call(const std::string& method, json params = json::array()) {
        auto r = rpc_->call(method, params);
        if (!r) throw std::runtime_error(method + ": " + r.error().message);
        return *r;
    }
    std::vector<std::string> mine(std::uint32_t n) {
        auto address = encode_address(p2wpkh_script(funder.public_key()), Network::regtest).value();
        auto hashes = call("generatetoaddress", json::array({n, address}));
        std::vector<std::string> out;
        for (const auto& h : hashes) {
            out.push_back(h.get<std::string>());
            auto block = call("getblock", json::array({h, 1}));
            coinbases_.push_back(block["tx"][0].get<std::string>());
        }
        return out;
    }
    std::uint32_t chain_height() { return call("getblockcount").get<std::uint32_t>(); }
    bool in_mempool(const Txid& txid) {
        for (const auto& t : call("getrawmempool")) {
            if (t.get<std::string>() == txid.to_display_hex()) return true;
        }
        return false;
    }
    int confirmations(const Txid& txid) {
        if (!real_) return call("simulator_confirmations", json::array({txid.to_display_hex()})).get<int>();
        // No txindex: look through the recent blocks.
        std::uint32_t tip = chain_height();
        for (std::uint32_t h = tip; h + 50 > tip && h > 0; --h) {
            auto block = call("getblock", json::array({call("getblockhash", json::array({h})), 1}));
            for (const auto& t : block["tx"]) {
                if (t.get<std::string>() == txid.to_display_hex()) return static_cast<int>(tip - h + 1);
            }
        }
        return 0;
    }
    // Replaces the top `depth` blocks with `new_blocks`, the first holding
    // exactly `include`, the others empty. The disconnected blocks'
    // transactions go back to the mempool (on both chains).
    void reorg(std::uint32_t depth, std::uint32_t new_blocks, const std::vector<Transaction>& include = {}) {
        json raw = json::array();
        for (const auto& tx : include) raw.push_back(to_hex(tx.serialize()));
        if (!real_) {
            call("simulator_reorg", json::array({depth, new_blocks, raw}));
            return;
        }
        std::string address = encode_address(p2wpkh_script(funder.public_key()), Network::regtest).value();
        call("invalidateblock", json::array({call("getblockhash", json::array({chain_height() - depth + 1}))}));
        if (new_blocks == 0) return;
        call("generateblock", json::array({address, raw}));
        for (std::uint32_t i = 1; i < new_blocks; ++i) call("generateblock", json::array({address, json::array()}));
    }
    // A fee market: the mempool refuses transactions paying less than
    // `sat_per_kvb` (the simulator at once; bitcoind restarted with
    // -minrelaytxfee, which empties its mempool as a restart does).
    void set_min_fee(std::int64_t sat_per_kvb) {
        if (!real_) {
            call("simulator_set_min_fee", json::array({sat_per_kvb}));
            return;
        }
        restart_bitcoind({"-minrelaytxfee=" + btc_per_kvb(std::max<std::int64_t>(sat_per_kvb, 1000))});
    }
    // Miners take only transactions paying at least this (sat per 1000 vB):
    // the simulator's setting, or bitcoind restarted with -blockmintxfee (and
    // -blockprioritysize=0: Knots keeps room for low-fee transactions
    // otherwise). The mempool keeps its own minimum.
    void set_block_min_fee(std::int64_t sat_per_kvb) {
        if (!real_) {
            call("simulator_set_block_min_fee", json::array({sat_per_kvb}));
            return;
        }
        restart_bitcoind({"-blockmintxfee=" + btc_per_kvb(sat_per_kvb), "-blockprioritysize=0"});
    }
    // bitcoind's fee-rate options are BTC per 1000 vB.
    static std::string btc_per_kvb(std::int64_t sat_per_kvb) {
        char fee[32];
        std::snprintf(fee, sizeof fee, "%.8f", static_cast<double>(sat_per_kvb) / 1e8);
        return fee;
    }
    void restart_bitcoind(const std::vector<std::string>& args) {
        kill_chain();
        start_chain(args);
    }
    void send(const Transaction& tx) { call("sendrawtransaction", json::array({to_hex(tx.serialize())})); }

    // --- transactions
    // Spends the next unused coinbase (output 0, 50 BTC) to a fresh P2WPKH output.
    Transaction make_dispute() {
        REQUIRE(next_coinbase_ < coinbases_.size());
        OutPoint source{Txid::from_display_hex(coinbases_[next_coinbase_++]).value(), 0};
        return spend(source, 50'0000'0000, p2wpkh_script(funder.public_key()), 49'9999'0000);
    }
    Transaction make_penalty(const Transaction& dispute) {
        return spend({dispute.txid(), 0}, dispute.outputs[0].value, p2wpkh_script(victim.public_key()),
                     dispute.outputs[0].value - 5'000);
    }
    // Spends the next unused coinbase to the given outputs (a fabricated
    // commitment: its outputs are what a watchtower cares about).
    Transaction spend_coinbase(std::vector<TxOut> outputs) {
        REQUIRE(next_coinbase_ < coinbases_.size());
        OutPoint source{Txid::from_display_hex(coinbases_[next_coinbase_++]).value(), 0};
        return sign_p2wpkh_spend(funder, source, 50'0000'0000, std::move(outputs));
    }
    // The next unused coinbase output (50 BTC), for a transaction built elsewhere.
    OutPoint take_coinbase() {
        REQUIRE(next_coinbase_ < coinbases_.size());
        return OutPoint{Txid::from_display_hex(coinbases_[next_coinbase_++]).value(), 0};
    }
    // A transaction conflicting with `dispute` (same input), for reorgs without the breach.
    Transaction make_conflict(const Transaction& dispute) {
        return spend(dispute.inputs[0].prevout, 50'0000'0000, p2wpkh_script(victim.public_key()), 49'0000'0000);
    }

    // --- tower
    HttpClient& api() { return *api_; }
    HttpResult add_appointment(const Transaction& dispute, const Transaction& penalty) {
        Txid id = dispute.txid();
        return api().post("/add_appointment",
                          user.add_appointment_body(teos::locator(id), teos::encrypt_penalty(penalty.serialize(), id), 144));
    }
    json get_appointment(const Transaction& dispute) {
        auto r = api().post("/get_appointment", user.get_appointment_body(teos::locator(dispute.txid())));
        json j = json::parse(r.body);
        j["http_status"] = r.status;
        return j;
    }
    json admin_get(const std::string& target) {
        HttpClient admin(admin_port_);
        std::string token = wait_for_file(dir_.path() + "/tower/admin_token");
        token.erase(token.find_last_not_of("\n") + 1);
        return json::parse(admin.get(target, "Bearer " + token).body);
    }
    json admin_info() {
        HttpClient admin(admin_port_);
        std::string token = wait_for_file(dir_.path() + "/tower/admin_token");
        token.erase(token.find_last_not_of("\n") + 1);
        return json::parse(admin.get("/info", "Bearer " + token).body);
    }
    // A sample of the tower's /metrics (Prometheus text format), by its full
    // name including labels (e.g. `argus_x_total{protocol="teos"}`),
    // or nullopt when the tower does not export it.
    std::optional<double> metric(const std::string& name) {
        HttpClient http(metrics_port_);
        std::istringstream lines(http.get("/metrics").body);
        for (std::string line; std::getline(lines, line);) {
            if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 && line[name.size()] == ' ') {
                return std::stod(line.substr(name.size() + 1));
            }
        }
        return std::nullopt;
    }
    // Waits for the 1 s metrics sampler to report `value`.
    bool metric_reaches(const std::string& name, double value) {
        if (wait_until([&] { return metric(name) == value; })) return true;
        // Say what it was instead, and the tower's log.
        HttpClient http(metrics_port_);
        auto r = http.get("/metrics");
        std::string seen;
        std::istringstream lines(r.body);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind(name, 0) == 0) seen += line + "\n";
        }
        MESSAGE("metric " << name << " never reached " << value << "; /metrics status " << r.status << ": " << seen
                          << "\ntower log:\n" << tower_log());
        return false;
    }
    bool tower_at_tip() { return admin_info()["chain_height"].get<std::uint32_t>() == chain_height(); }

    std::uint16_t rpc_port() const { return rpc_port_; }
    std::uint16_t metrics_port() const { return metrics_port_; }
    std::uint16_t api_port() const { return api_port_; }
    std::uint16_t wtwire_port() const { return wtwire_port_; }
    std::uint16_t admin_port() const { return admin_port_; }
    std::uint16_t electrum_port() const { return electrum_port_; }
    std::string tower_dir() const { return dir_.path() + "/tower"; }
    std::string work_dir() const { return dir_.path(); }
    ChildProcess& tower_process() { return *tower_; }
    std::string tower_id() {
        std::string ready = wait_for_file(dir_.path() + "/ready." + std::to_string(tower_starts_));
        return json::parse(ready)["tower_id"].get<std::string>();
    }

    PrivateKey funder = PrivateKey::from_bytes(Bytes(32, 0x11)).value();
    PrivateKey victim = PrivateKey::from_bytes(Bytes(32, 0x22)).value();
    TeosUser user{1};

private:
    Transaction spend(const OutPoint& source, std::int64_t amount, const Bytes& to, std::int64_t value) {
        return sign_p2wpkh_spend(funder, source, amount, {{value, to}});
    }

    Options options_;
    TemporaryDirectory dir_;
    std::uint16_t rpc_port_ = 0, zmq_port_ = 0, api_port_ = 0, admin_port_ = 0, metrics_port_ = 0, wtwire_port_ = 0,
                  electrum_port_ = 0;
    int chain_starts_ = 0, tower_starts_ = 0;
    bool real_ = false;
    std::unique_ptr<ChildProcess> chain_;
    std::unique_ptr<ZmqRelay> relay_;  // bitcoind only
    std::unique_ptr<ChildProcess> tower_;
    std::unique_ptr<chain::BitcoindRpc> rpc_;
    std::unique_ptr<HttpClient> api_;
    std::vector<std::string> coinbases_;
    std::size_t next_coinbase_ = 0;
};

}  // namespace argus::test
