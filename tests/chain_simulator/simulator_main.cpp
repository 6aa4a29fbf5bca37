// argus-chain-sim: a stand-in for bitcoind in tests and the drill. It speaks
// the JSON-RPC subset Argus uses and builds well-formed blocks (real headers,
// merkle roots, coinbases) with a mempool that checks inputs exist and are
// unspent. It does NOT verify scripts or signatures: a penalty it confirms is
// structurally valid, not proven spendable (run the same tests against a real
// bitcoind with BITCOIND=/path/to/bitcoind for that).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/bech32.h"
#include "common/hex.h"
#include "net/http_server.h"
#include "tests/chain_simulator/simulated_chain.h"

#include <zmq.hpp>

using namespace argus;
using json = nlohmann::json;

namespace {

struct RpcFailure {
    int code;
    std::string message;
};

// bitcoind's ZMQ interface: three frames (topic, body, 4-byte LE sequence).
// `drop` keeps counting but sends nothing, so subscribers see a gap.
class ZmqPublisher {
public:
    explicit ZmqPublisher(const std::string& endpoint) : socket_(context_, zmq::socket_type::pub) {
        socket_.set(zmq::sockopt::linger, 0);
        socket_.bind(endpoint);
    }
    std::string endpoint() { return socket_.get(zmq::sockopt::last_endpoint); }
    // The bound port, from the endpoint "tcp://127.0.0.1:<port>".
    std::uint16_t port() {
        std::string e = endpoint();
        return static_cast<std::uint16_t>(std::stoul(e.substr(e.rfind(':') + 1)));
    }
    void set_drop(bool drop) { drop_ = drop; }
    void publish(const std::string& topic, const Bytes& body) {
        std::uint32_t seq = sequence_[topic]++;
        if (drop_) return;
        std::uint8_t s[4] = {static_cast<std::uint8_t>(seq), static_cast<std::uint8_t>(seq >> 8),
                             static_cast<std::uint8_t>(seq >> 16), static_cast<std::uint8_t>(seq >> 24)};
        socket_.send(zmq::buffer(topic), zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(body.data(), body.size()), zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(s, 4), zmq::send_flags::none);
    }
    void block_connected(const Hash256& hash) {
        Hash256 shown = reversed(hash);
        publish("hashblock", Bytes(shown.begin(), shown.end()));
        Bytes seq(shown.begin(), shown.end());
        seq.push_back('C');
        publish("sequence", seq);
    }
    void block_disconnected(const Hash256& hash) {
        Hash256 shown = reversed(hash);
        Bytes seq(shown.begin(), shown.end());
        seq.push_back('D');
        publish("sequence", seq);
    }

private:
    zmq::context_t context_{1};
    zmq::socket_t socket_;
    std::map<std::string, std::uint32_t> sequence_;
    bool drop_ = false;
};

class SimulatorRouter final : public api::Router {
public:
    SimulatorRouter(std::string authorization, ZmqPublisher* zmq, std::string state_file)
        : authorization_(std::move(authorization)), zmq_(zmq), state_file_(std::move(state_file)) {
        if (state_file_.empty()) return;
        std::ifstream in(state_file_);
        std::vector<Block> blocks;
        for (std::string line; std::getline(in, line);) {
            if (!line.empty()) blocks.push_back(parse_block(parse_hex(line).value()).value());
        }
        if (!blocks.empty()) chain_ = sim::SimulatedChain::from_blocks(blocks).value();
    }
    std::size_t body_limit(api::Method, std::string_view) const override { return 32 * 1024 * 1024; }

    void handle(api::HttpRequest request, api::Reply reply) override {
        if (!authorization_.empty() && request.authorization != authorization_) {
            return reply(api::HttpResponse{401, "", "text/plain"});
        }
        json call = json::parse(request.body, nullptr, false);
        if (call.is_discarded() || !call.is_object() || !call.contains("method")) {
            return reply(api::HttpResponse{500, R"({"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null})"});
        }
        json id = call.value("id", json());
        json params = call.value("params", json::array());
        std::string method = call["method"].is_string() ? call["method"].get<std::string>() : "";
        json response = {{"id", id}};
        unsigned status = 200;
        try {
            std::lock_guard lock(mutex_);
            response["result"] = dispatch(method, params);
            response["error"] = nullptr;
            if (method == "generatetoaddress" || method == "simulator_reorg") save();
        } catch (const RpcFailure& f) {
            response["result"] = nullptr;
            response["error"] = {{"code", f.code}, {"message", f.message}};
            status = f.code == -32601 ? 404 : 500;
        } catch (const std::exception& e) {
            response["result"] = nullptr;
            response["error"] = {{"code", -1}, {"message", e.what()}};
            status = 500;
        }
        reply(api::HttpResponse{status, response.dump()});
    }

private:
    // Blocks survive a kill -9 (like bitcoind's block files); the mempool does not.
    void save() {
        if (state_file_.empty()) return;
        std::string tmp = state_file_ + ".tmp";
        {
            std::ofstream out(tmp, std::ios::trunc);
            for (const auto& b : chain_.active_blocks()) out << to_hex(b.serialize()) << "\n";
        }
        std::rename(tmp.c_str(), state_file_.c_str());
    }

    static Hash256 block_hash_param(const json& p) {
        auto parsed = Txid::from_display_hex(p.get<std::string>());
        if (!parsed) throw RpcFailure{-8, "blockhash must be of length 64"};
        return parsed->bytes;
    }

    json header_json(const Block& block, std::uint32_t h) const {
        json j = {{"hash", to_hex(reversed(block.header.hash()))},
                  {"height", h},
                  {"confirmations", chain_.height() - h + 1},
                  {"merkleroot", to_hex(reversed(block.header.merkle_root))},
                  {"time", block.header.time},
                  {"nTx", block.transactions.size()}};
        if (h > 0) j["previousblockhash"] = to_hex(reversed(block.header.previous_block));
        if (h < chain_.height()) j["nextblockhash"] = to_hex(reversed(chain_.block_at(h + 1).header.hash()));
        return j;
    }

    const Block& lookup(const Hash256& hash, std::uint32_t& h, bool& active) const {
        const Block* b = chain_.find_block(hash);
        if (!b) throw RpcFailure{-5, "Block not found"};
        auto height = chain_.height_of(hash);
        active = height.has_value();
        h = height.value_or(0);
        return *b;
    }

    json dispatch(const std::string& method, const json& p) {
        if (method == "getblockcount") return chain_.height();
        if (method == "getbestblockhash") return to_hex(reversed(chain_.tip().header.hash()));
        if (method == "getblockchaininfo") {
            return {{"chain", "regtest"}, {"blocks", chain_.height()}, {"headers", chain_.height()},
                    {"bestblockhash", to_hex(reversed(chain_.tip().header.hash()))}, {"initialblockdownload", false}};
        }
        if (method == "getblockhash") {
            if (p.empty() || !p[0].is_number_integer()) throw RpcFailure{-1, "getblockhash height"};
            auto h = p[0].get<std::int64_t>();
            if (h < 0 || h > chain_.height()) throw RpcFailure{-8, "Block height out of range"};
            return to_hex(reversed(chain_.block_at(static_cast<std::uint32_t>(h)).header.hash()));
        }
        if (method == "getblockheader" || method == "getblock") {
            if (p.empty() || !p[0].is_string()) throw RpcFailure{-1, method + " blockhash"};
            std::uint32_t h = 0;
            bool active = false;
            const Block& b = lookup(block_hash_param(p[0]), h, active);
            int verbosity = 1;
            if (p.size() > 1) verbosity = p[1].is_boolean() ? (p[1].get<bool>() ? 1 : 0) : p[1].get<int>();
            // bitcoind's answer for a block whose header it has but whose data it does not.
            if (method == "getblock" && withhold_blocks_) throw RpcFailure{-1, "Block not available (not fully downloaded)"};
            if (method == "getblockheader") {
                if (verbosity == 0) return to_hex(b.header.serialize());
            } else if (verbosity == 0) {
                return to_hex(b.serialize());
            }
            json j = header_json(b, h);
            if (!active) j["confirmations"] = -1;
            if (method == "getblock") {
                json txs = json::array();
                for (const auto& tx : b.transactions) txs.push_back(tx.txid().to_display_hex());
                j["tx"] = txs;
            }
            return j;
        }
        if (method == "getrawmempool") {
            json txs = json::array();
            for (const auto& tx : chain_.mempool()) txs.push_back(tx.txid().to_display_hex());
            return txs;
        }
        if (method == "getmempoolentry") {
            auto txid = Txid::from_display_hex(p.at(0).get<std::string>());
            if (!txid || !chain_.in_mempool(*txid)) throw RpcFailure{-5, "Transaction not in mempool"};
            return {{"height", chain_.height()},
                    {"fees", {{"base", static_cast<double>(chain_.mempool_fee(*txid).value_or(0)) / 1e8}}}};
        }
        if (method == "getmempoolinfo") {
            // bitcoind: fee rates in BTC per 1000 vbytes; minrelaytxfee's default 1 sat/vB.
            return {{"loaded", true},
                    {"size", chain_.mempool().size()},
                    {"mempoolminfee", static_cast<double>(std::max<std::int64_t>(chain_.min_fee_rate(), 1000)) / 1e8},
                    {"minrelaytxfee", 0.00001}};
        }
        if (method == "estimatesmartfee") {  // [conf_target, mode]: one estimate for every target
            std::int64_t target = p.empty() ? 0 : p.at(0).get<std::int64_t>();
            if (target < 1 || target > 1008) throw RpcFailure{-8, "Invalid conf_target, must be between 1 and 1008"};
            if (auto estimate = chain_.fee_estimate()) {
                return {{"feerate", static_cast<double>(*estimate) / 1e8}, {"blocks", target}};
            }
            return {{"errors", json::array({"Insufficient data or no feerate found"})}, {"blocks", 0}};
        }
        if (method == "sendrawtransaction" || method == "testmempoolaccept") {
            bool dry = method == "testmempoolaccept";
            std::string hex = dry ? p.at(0).at(0).get<std::string>() : p.at(0).get<std::string>();
            auto raw = parse_hex(hex);
            auto tx = raw ? parse_transaction(*raw) : Result<Transaction>(raw.error());
            if (!tx) {
                if (dry) return json::array({{{"txid", ""}, {"allowed", false}, {"reject-reason", "TX decode failed"}}});
                throw RpcFailure{-22, "TX decode failed"};
            }
            auto result = chain_.accept(*tx, dry);
            if (dry) {
                json entry = {{"txid", tx->txid().to_display_hex()}, {"wtxid", to_hex(reversed(tx->wtxid()))},
                              {"allowed", result.has_value()}};
                if (!result) entry["reject-reason"] = result.error().message;
                return json::array({entry});
            }
            if (!result) throw RpcFailure{result.error().code, result.error().message};
            return result->to_display_hex();
        }
        if (method == "getrawtransaction") {
            // No txindex: only mempool transactions, as bitcoind without -txindex.
            auto txid = Txid::from_display_hex(p.at(0).get<std::string>());
            for (const auto& tx : chain_.mempool()) {
                if (txid && tx.txid() == *txid) return to_hex(tx.serialize());
            }
            throw RpcFailure{-5, "No such mempool transaction. Use -txindex or provide a block hash"};
        }
        if (method == "gettxout") {
            auto txid = Txid::from_display_hex(p.at(0).get<std::string>());
            if (!txid) throw RpcFailure{-8, "txid must be of length 64"};
            auto out = chain_.utxo(OutPoint{*txid, p.at(1).get<std::uint32_t>()});
            if (!out) return nullptr;
            auto h = chain_.confirmation_height(*txid);
            return {{"value", static_cast<double>(out->value) / 1e8},
                    {"confirmations", h ? chain_.height() - *h + 1 : 0},
                    {"scriptPubKey", {{"hex", to_hex(out->script_pubkey)}}}};
        }
        if (method == "generatetoaddress") {
            auto count = p.at(0).get<std::uint32_t>();
            auto address = p.at(1).get<std::string>();
            auto script = decode_address(address, Network::regtest);
            if (!script) throw RpcFailure{-5, "Invalid address: " + script.error().message};
            json hashes = json::array();
            for (const auto& h : chain_.mine(count, *script)) {
                hashes.push_back(to_hex(reversed(h)));
                if (zmq_) zmq_->block_connected(h);
            }
            return hashes;
        }
        if (method == "simulator_reorg") {
            // [depth, new_blocks, [raw txs to include in the first new block]]
            std::vector<Transaction> include;
            if (p.size() > 2) {
                for (const auto& hex : p[2]) include.push_back(parse_transaction(parse_hex(hex.get<std::string>()).value()).value());
            }
            std::vector<Hash256> old_tip;
            for (std::uint32_t i = 0; i < p.at(0).get<std::uint32_t>(); ++i) {
                old_tip.push_back(chain_.block_at(chain_.height() - i).header.hash());
            }
            json hashes = json::array();
            auto connected = chain_.reorg(p.at(0).get<std::uint32_t>(), p.at(1).get<std::uint32_t>(), include);
            if (zmq_) {
                for (const auto& h : old_tip) zmq_->block_disconnected(h);
            }
            for (const auto& h : connected) {
                hashes.push_back(to_hex(reversed(h)));
                if (zmq_) zmq_->block_connected(h);
            }
            return hashes;
        }
        if (method == "simulator_confirmations") {
            auto txid = Txid::from_display_hex(p.at(0).get<std::string>());
            if (!txid) throw RpcFailure{-8, "txid"};
            auto h = chain_.confirmation_height(*txid);
            return h ? json(chain_.height() - *h + 1) : json(0);
        }
        if (method == "simulator_set_min_fee") {  // [sat per 1000 vbytes]
            chain_.set_min_fee_rate(p.at(0).get<std::int64_t>());
            return nullptr;
        }
        if (method == "simulator_set_block_min_fee") {  // [sat per 1000 vbytes]: what miners take
            chain_.set_block_min_fee_rate(p.at(0).get<std::int64_t>());
            return nullptr;
        }
        if (method == "simulator_set_fee_estimate") {  // [sat per 1000 vbytes, or null]: estimatesmartfee's answer
            if (p.at(0).is_null()) {
                chain_.set_fee_estimate(std::nullopt);
            } else {
                chain_.set_fee_estimate(p.at(0).get<std::int64_t>());
            }
            return nullptr;
        }
        if (method == "simulator_zmq_drop") {
            if (zmq_) zmq_->set_drop(p.at(0).get<bool>());
            return nullptr;
        }
        // [bool] While true, getblock fails as for a block not yet downloaded;
        // the tip, headers and hashes are still served: a follower sees how
        // far ahead the chain is but cannot process it.
        if (method == "simulator_withhold_blocks") {
            withhold_blocks_ = p.at(0).get<bool>();
            return nullptr;
        }
        if (method == "stop") return "Argus chain simulator stopping";
        throw RpcFailure{-32601, "Method not found"};
    }

    std::string authorization_;
    ZmqPublisher* zmq_;
    std::string state_file_;
    std::mutex mutex_;
    sim::SimulatedChain chain_;
    bool withhold_blocks_ = false;
};

// Readers poll for the file: it appears complete or not at all.
void write_file_atomically(const std::string& path, const std::string& text) {
    std::ofstream(path + ".tmp") << text;
    std::rename((path + ".tmp").c_str(), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"argus-chain-sim: bitcoind stand-in for Argus tests (no script verification)"};
    std::string bind = "127.0.0.1", user, password, port_file, ports_file, zmq_file, state_file;
    std::uint16_t port = 0, zmq_port = 0;
    bool publish_zmq = false;
    app.add_option("--rpc-bind", bind, "RPC address");
    app.add_flag("--zmq", publish_zmq, "Publish ZMQ (sequence, hashblock) on 127.0.0.1");
    app.add_option("--zmq-port", zmq_port, "ZMQ port (default 0: bind any free port and report it)");
    app.add_option("--rpc-port", port, "RPC port (default 0: bind any free port and report it)");
    app.add_option("--rpc-user", user, "Require this RPC user");
    app.add_option("--rpc-password", password, "Require this RPC password");
    app.add_option("--ports-file", ports_file,
                   "Once every socket is bound, write {\"rpc_port\":N[,\"zmq_port\":M]} (JSON) here");
    app.add_option("--port-file", port_file, "Write the bound RPC port here once listening");
    app.add_option("--state-file", state_file, "Keep the chain's blocks in this file across restarts");
    app.add_option("--zmq-file", zmq_file, "Publish ZMQ (implies --zmq); write the bound endpoint here");
    CLI11_PARSE(app, argc, argv);

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    std::string authorization;
    if (!user.empty()) {
        std::string creds = user + ":" + password;
        std::string encoded(boost::beast::detail::base64::encoded_size(creds.size()), '\0');
        encoded.resize(boost::beast::detail::base64::encode(encoded.data(), creds.data(), creds.size()));
        authorization = "Basic " + encoded;
    }
    std::unique_ptr<ZmqPublisher> zmq;
    if (publish_zmq || !zmq_file.empty()) {
        zmq = std::make_unique<ZmqPublisher>("tcp://127.0.0.1:" + (zmq_port ? std::to_string(zmq_port) : std::string("*")));
        if (!zmq_file.empty()) write_file_atomically(zmq_file, zmq->endpoint() + "\n");
    }
    SimulatorRouter router(authorization, zmq.get(), state_file);
    api::HttpServerOptions options;
    options.address = bind;
    options.port = port;
    options.threads = 1;
    api::HttpServer server(options, router);
    if (auto ok = server.start(); !ok) {
        std::fprintf(stderr, "argus-chain-sim: %s\n", ok.error().message.c_str());
        return 1;
    }
    if (!port_file.empty()) write_file_atomically(port_file, std::to_string(server.port()) + "\n");
    if (!ports_file.empty()) {
        // The ports this process bound itself: the parent never picks one (no race).
        nlohmann::json ports = {{"rpc_port", server.port()}};
        if (zmq) ports["zmq_port"] = zmq->port();
        write_file_atomically(ports_file, ports.dump() + "\n");
    }
    std::fprintf(stderr, "argus-chain-sim listening on %s:%u\n", bind.c_str(), server.port());
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
    return 0;
}
