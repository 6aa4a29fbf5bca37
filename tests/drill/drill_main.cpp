// argus-drill: one breach punished end to end. Starts a chain (argus-chain-sim,
// or a real regtest bitcoind when BITCOIND points to one), an Argus tower on
// its embedded store (SQLite) and an Argus client node; opens a channel
// between Alice (the victim, whose client node backs up) and Bob; makes many
// updates with HTLCs, backing up every state Bob revokes; then Bob broadcasts
// an old commitment and the tower punishes him. Prints a timeline and a summary.
//
// --scenario fee-spike / htlc-race: the two cheap escapes of a tower holding
// one penalty at one fee (docs/penalty-kits.md). Alice's client node then runs
// in channel-material mode and backs up a penalty kit with every state; miners
// take only 20 sat/vB (fee-spike), or Bob mines his HTLC-success with the
// revoked commitment (htlc-race); the drill passes when every output the kit
// can take is swept before its deadline.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "client/channel/channel.h"
#include "common/bech32.h"
#include "common/watchtower_crypto.h"
#include "common/bolt3_keys.h"
#include "common/block.h"
#include "common/bolt3_scripts.h"
#include "common/hash.h"
#include "common/hex.h"
#include "common/script.h"
#include "common/sighash.h"
#include "net/bitcoind_rpc.h"
#include "tests/support/bitcoind.h"
#include "tests/support/cheater.h"
#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/p2wpkh_wallet.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/temporary_postgres.h"

using namespace argus;
using namespace argus::client;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

Clock::time_point started = Clock::now();

void say(const char* what, const std::string& detail = "") {
    double t = std::chrono::duration<double>(Clock::now() - started).count();
    std::printf("[%7.2fs] %-34s %s\n", t, what, detail.c_str());
    std::fflush(stdout);
}

[[noreturn]] void die(const std::string& why) {
    std::printf("\nDRILL FAILED: %s\n", why.c_str());
    std::fflush(stdout);
    std::exit(1);
}

bool wait_until(const std::function<bool()>& condition, std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return condition();
}

struct Chain {
    std::unique_ptr<test::ChildProcess> process;
    std::unique_ptr<chain::BitcoindRpc> rpc;
    std::uint16_t rpc_port = 0, zmq_port = 0;
    bool real = false;

    json call(const std::string& method, json params = json::array()) {
        auto r = rpc->call(method, params);
        if (!r) die(method + ": " + r.error().message);
        return *r;
    }
};

Chain start_chain(const std::string& dir, const std::string& bitcoind, const std::string& sim,
                  const std::vector<std::string>& bitcoind_args = {}) {
    Chain c;
    if (!bitcoind.empty()) {
        // bitcoind cannot report a port it picked itself: probe free ones (a
        // small race, on a machine running the drill by hand).
        c.rpc_port = static_cast<std::uint16_t>(test::find_free_tcp_port());
        c.zmq_port = static_cast<std::uint16_t>(test::find_free_tcp_port());
        c.real = true;
        // BITCOIND_ARGS (e.g. -softwareexpiry=0 for Knots) are appended.
        c.process = std::make_unique<test::ChildProcess>(
            test::bitcoind_argv(dir + "/bitcoind", {c.rpc_port, c.zmq_port}, "argus", "drill", bitcoind_args),
            dir + "/bitcoind.log");
    } else {
        // The simulator binds port 0 for RPC and ZMQ and reports what it got.
        c.process = std::make_unique<test::ChildProcess>(
            std::vector<std::string>{sim, "--rpc-user", "argus", "--rpc-password", "drill", "--zmq", "--ports-file",
                                     dir + "/sim.ports"},
            dir + "/chain.log");
        auto ports = json::parse(test::wait_for_file(dir + "/sim.ports", std::chrono::seconds(60)));
        c.rpc_port = ports.at("rpc_port").get<std::uint16_t>();
        c.zmq_port = ports.at("zmq_port").get<std::uint16_t>();
    }
    c.rpc = std::make_unique<chain::BitcoindRpc>(chain::RpcEndpoint{"127.0.0.1", c.rpc_port, "argus", "drill", "", std::chrono::seconds(30)});
    if (!wait_until([&] { return c.rpc->call("getblockcount").has_value(); }, std::chrono::seconds(60))) {
        die("the chain did not start; see " + dir);
    }
    return c;
}

Hash256 seed(std::uint8_t b) {
    Hash256 s{};
    s.fill(b);
    return s;
}

// The channel's state at update `n`, from Alice's side: payments flow back and
// forth, and two to four HTLCs are in flight at each step.
std::uint32_t state_feerate = 2500;  // sat per 1000 weight units (6000 for the fee spike: 24 sat/vB)

ChannelState alice_state(std::uint64_t n) {
    ChannelState s;
    s.commitment_number = n;
    s.feerate_per_kw = state_feerate;
    std::uint64_t capacity = 10'000'000'000;  // msat
    std::uint64_t bob_share = 1'000'000'000 + (n % 7) * 450'000'000 + n * 50'000'000;
    std::uint64_t in_flight = 0;
    for (std::uint64_t k = 0; k < 2 + n % 3; ++k) {
        bolt3::Htlc h;
        h.direction = (n + k) % 2 == 0 ? bolt3::HtlcDirection::offered : bolt3::HtlcDirection::received;
        h.amount_msat = 20'000'000 + (n * 7 + k * 13) % 30 * 1'000'000;
        h.cltv_expiry = static_cast<std::uint32_t>(500 + n * 10 + k);
        Hash256 preimage{};
        preimage[0] = static_cast<std::uint8_t>(n);
        preimage[1] = static_cast<std::uint8_t>(k);
        h.payment_hash = sha256(preimage);
        in_flight += h.amount_msat;
        s.htlcs.push_back(h);
    }
    s.remote_msat = bob_share;
    s.local_msat = capacity - bob_share - in_flight;
    return s;
}

ChannelState bob_view(const ChannelState& a) { return test::mirrored_state(a); }

// The revoked commitment `old` (Bob's state `cheat_at`) broadcast under the
// scenario's escape; every output Alice's penalty kit can take must be swept
// before its deadline. Prints a timeline and a summary; returns the exit code.
int run_kit_breach(Chain& chain, const Channel& alice, const Channel& bob, const ChannelSecrets& alice_secrets,
                   const ChannelSecrets& bob_secrets, const Transaction& old, const ChannelState& state,
                   std::uint64_t cheat_at, const std::string& scenario, const std::string& channel_type,
                   std::uint16_t bob_delay, const Bytes& alice_sweep, const std::string& wallet_address,
                   const json& tower_ready, const std::string& admin_token_file, test::ChildProcess& tower,
                   test::ChildProcess& client, bool keep, std::unique_ptr<test::TemporaryDirectory>& temp,
                   const std::string& work_dir, const test::FeeInput& bobs_coin) {
    bool anchors = channel_type == "anchors";
    (void)alice;
    bolt3::Commitment own = bob.local_commitment(bob_view(state));
    if (own.tx.txid() != old.txid()) die("Bob's commitment does not rebuild");
    std::vector<Transaction> cheats{old};
    std::optional<std::size_t> raced;  // the HTLC output Bob takes first
    if (scenario == "htlc-race") {
        // Bob claims an HTLC Alice offered him, with its preimage, in the same block.
        ChannelState mine = bob_view(state);
        for (std::size_t i = 0; i < own.outputs.size() && !raced; ++i) {
            if (own.outputs[i].kind != bolt3::OutputKind::received_htlc) continue;
            const bolt3::Htlc& h = mine.htlcs.at(*own.outputs[i].htlc_index);
            // The drill's preimages: {commitment number, HTLC index} (alice_state).
            for (std::uint8_t k = 0; k < 8; ++k) {
                Hash256 preimage{};
                preimage[0] = static_cast<std::uint8_t>(cheat_at);
                preimage[1] = k;
                if (sha256(preimage) != h.payment_hash) continue;
                // On anchors the HTLC transaction carries no fee: Bob adds a coin of his.
                cheats.push_back(test::htlc_success(bob, bob_secrets, alice_secrets, own, i, mine, preimage,
                                                    anchors ? std::optional<test::FeeInput>(bobs_coin) : std::nullopt));
                raced = i;
                break;
            }
        }
        if (!raced) die("the revoked state has no HTLC Alice offered to Bob; choose another --cheat-with");
    }
    // Legacy: the HTLC-success goes with the commitment, into the same block.
    // Anchors: it can only follow a block later (its input has a 1-block CSV),
    // paying more than the tower's first rung so that it replaces it.
    for (std::size_t i = 0; i < cheats.size(); ++i) {
        if (i == 0 || !anchors) chain.call("sendrawtransaction", json::array({to_hex(cheats[i].serialize())}));
    }
    say("Bob broadcasts revoked state", "#" + std::to_string(cheat_at) + " " + old.txid().to_display_hex().substr(0, 16) + "..." +
                                            (raced && !anchors ? " with his HTLC-success of output " + std::to_string(*raced) : ""));
    chain.call("generatetoaddress", json::array({1, wallet_address}));
    std::uint32_t breach_height = chain.call("getblockcount").get<std::uint32_t>();
    say("breach mined", "block " + std::to_string(breach_height) +
                            (scenario == "fee-spike" ? ", miners take only 20 sat/vB and more" : ""));
    if (raced && anchors) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the tower's first rungs go out
        chain.call("sendrawtransaction", json::array({to_hex(cheats[1].serialize())}));
        std::int64_t vsize = static_cast<std::int64_t>((cheats[1].weight() + 3) / 4);
        say("Bob's HTLC-success", "of output " + std::to_string(*raced) + ", " + std::to_string(bobs_coin.fee / vsize) +
                                      " sat/vB with a fee input: it replaces the tower's first rung");
    }

    // What Alice must get back: to_local and each HTLC output (the raced one
    // through Bob's HTLC-success), each by its deadline.
    struct Watched {
        std::string what;
        OutPoint outpoint;
        std::int64_t value = 0;
        std::uint32_t deadline = 0;
        std::optional<Transaction> sweep;
        std::uint32_t swept_at = 0;
    };
    std::vector<Watched> watched;
    for (std::size_t i = 0; i < own.outputs.size(); ++i) {
        auto kind = own.outputs[i].kind;
        std::uint32_t vout = static_cast<std::uint32_t>(i);
        if (kind == bolt3::OutputKind::to_local) {
            watched.push_back({"to_local", {old.txid(), vout}, own.tx.outputs[i].value, breach_height + bob_delay, {}, 0});
        } else if (kind == bolt3::OutputKind::offered_htlc || kind == bolt3::OutputKind::received_htlc) {
            const bolt3::Htlc h = bob_view(state).htlcs.at(*own.outputs[i].htlc_index);
            if (raced && *raced == i && anchors) {
                // Lost to Bob by design: no sweep of an anchor HTLC transaction can be pre-signed.
                continue;
            } else if (raced && *raced == i) {
                watched.push_back({"HTLC-success of output " + std::to_string(i), {cheats[1].txid(), 0},
                                   cheats[1].outputs[0].value, breach_height + bob_delay, {}, 0});
            } else {
                watched.push_back({"HTLC output " + std::to_string(i), {old.txid(), vout}, own.tx.outputs[i].value,
                                   h.cltv_expiry, {}, 0});
            }
        }
    }
    auto spender = [&](const OutPoint& out, std::uint32_t from) -> std::optional<std::pair<Transaction, std::uint32_t>> {
        std::uint32_t tip = chain.call("getblockcount").get<std::uint32_t>();
        for (std::uint32_t h = from; h <= tip; ++h) {
            auto raw = parse_hex(chain.call("getblock", json::array({chain.call("getblockhash", json::array({h})), 0})).get<std::string>());
            auto block = parse_block(*raw);
            if (!block) die("cannot parse block " + std::to_string(h));
            for (const auto& tx : block->transactions) {
                for (const auto& in : tx.inputs) {
                    if (in.prevout == out) return std::make_pair(tx, h);
                }
            }
        }
        return std::nullopt;
    };
    std::uint32_t last_deadline = 0;
    for (const auto& w : watched) last_deadline = std::max(last_deadline, std::min(w.deadline, breach_height + bob_delay));
    for (std::uint32_t h = breach_height + 1; h < last_deadline; ++h) {
        bool all = true;
        for (auto& w : watched) {
            if (w.sweep) continue;
            if (auto found = spender(w.outpoint, breach_height)) {
                w.sweep = found->first;
                w.swept_at = found->second;
            } else {
                all = false;
            }
        }
        if (all) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the tower's round for the last block
        chain.call("generatetoaddress", json::array({1, wallet_address}));
    }
    std::uint32_t chain_height_at_end = chain.call("getblockcount").get<std::uint32_t>();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the tower's round for the last block
    // The tower's own account of each output.
    test::HttpClient admin(tower_ready["admin_port"].get<std::uint16_t>());
    std::string token = test::wait_for_file(admin_token_file, std::chrono::seconds(5));
    token.erase(token.find_last_not_of("\n") + 1);
    auto listed = json::parse(admin.get("/appointments/" + to_hex(teos::locator(old.txid())), "Bearer " + token).body);

    tower.signal(SIGTERM);
    client.signal(SIGTERM);
    tower.wait();
    client.wait();

    bool passed = true;
    std::printf("\nSUMMARY (%s, %s channel, penalty kit)\n", scenario.c_str(), channel_type.c_str());
    std::printf("  breach           Bob broadcast revoked state #%llu, mined at height %u\n",
                static_cast<unsigned long long>(cheat_at), breach_height);
    std::uint32_t end_height = chain_height_at_end;
    for (const auto& w : watched) {
        bool ours = w.sweep && w.sweep->outputs.size() == 1 && w.sweep->outputs[0].script_pubkey == alice_sweep;
        if (!w.sweep) {
            // Not lost while its deadline is ahead: the tower keeps climbing its ladder.
            bool ahead = w.deadline > end_height + 1;
            if (!ahead) passed = false;
            std::printf("  %-30s %lld sat %s (deadline +%u)\n", w.what.c_str(), static_cast<long long>(w.value),
                        ahead ? "not swept yet, its deadline is ahead" : "NOT SWEPT by its deadline", w.deadline - breach_height);
            continue;
        }
        if (!ours || w.swept_at >= w.deadline) passed = false;
        std::int64_t fee = w.value - w.sweep->outputs[0].value;
        std::int64_t vsize = static_cast<std::int64_t>((w.sweep->weight() + 3) / 4);
        std::printf("  %-30s %lld sat %s at +%u blocks (deadline +%u), fee %lld sat (%.1f sat/vB)\n", w.what.c_str(),
                    static_cast<long long>(w.value), ours ? "swept to Alice" : "TAKEN BY ANOTHER TRANSACTION",
                    w.swept_at - breach_height, w.deadline - breach_height, static_cast<long long>(fee),
                    static_cast<double>(fee) / static_cast<double>(vsize));
    }
    if (raced && anchors) {
        auto taken = spender({old.txid(), static_cast<std::uint32_t>(*raced)}, breach_height);
        bool bobs = taken && taken->first.txid() == cheats[1].txid();
        std::printf("  %-30s %lld sat %s\n", ("HTLC output " + std::to_string(*raced)).c_str(),
                    static_cast<long long>(own.tx.outputs[*raced].value),
                    bobs    ? "taken by Bob's HTLC-success (anchors: its sweep cannot be pre-signed)"
                    : taken ? "swept to Alice (Bob's HTLC-success lost the race)"
                            : "NOT SPENT");
        if (!taken) passed = false;
    }
    if (listed.is_array() && !listed.empty() && listed[0].contains("penalty_kit")) {
        for (const auto& p : listed[0]["penalty_kit"]) {
            std::printf("  tower: %-13s output %-3d %-10s rung %s of %d\n", p["kind"].get<std::string>().c_str(),
                        p["vout"].get<int>(), p["status"].get<std::string>().c_str(),
                        p["rung"].is_null() ? "-" : std::to_string(p["rung"].get<int>()).c_str(), p["rungs"].get<int>());
        }
    } else {
        std::printf("  tower            (the response is resolved and gone from the tower)\n");
    }
    std::printf("  logs             %s\n", keep || !temp ? work_dir.c_str() : "(temporary; pass --keep to keep them)");
    if (keep && temp) (void)temp.release();
    if (!passed) {
        std::printf("\nDRILL FAILED: an output was lost, or not swept to Alice before its deadline\n");
        return 1;
    }
    std::printf("\nDRILL PASSED\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"argus-drill: a channel breach punished end to end by an Argus tower"};
    std::uint64_t updates = 25, cheat_at = 7;
    std::string work_dir, bin_dir, scenario = "classic", channel_type = "anchors";
    bool keep = false;
    app.add_option("--updates", updates, "Channel updates to make (each revokes a state)")->capture_default_str();
    app.add_option("--cheat-with", cheat_at, "The revoked state Bob broadcasts")->capture_default_str();
    app.add_option("--work-dir", work_dir, "Where processes keep data and logs (default: a temp dir)");
    app.add_option("--bin-dir", bin_dir, "Directory holding argus-tower, argus-client, argus-chain-sim");
    app.add_flag("--keep", keep, "Keep the work dir afterwards");
    app.add_option("--scenario", scenario,
                   "classic: one justice transaction; fee-spike: miners take only 20 sat/vB after the breach; "
                   "htlc-race: Bob's HTLC-success mined with his revoked commitment (both with penalty kits)")
        ->check(CLI::IsMember({"classic", "fee-spike", "htlc-race"}))
        ->capture_default_str();
    app.add_option("--channel-type", channel_type, "anchors or legacy (no anchors)")
        ->check(CLI::IsMember({"anchors", "legacy"}))
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    // Usage errors are the caller's, not the tower's: say so and exit 2.
    auto usage = [](const std::string& why) {
        std::fprintf(stderr, "argus-drill: %s\n", why.c_str());
        std::exit(2);
    };
    if (updates < 2) usage("--updates must be at least 2 (the first update revokes state 0)");
    if (cheat_at >= updates - 1) {
        // States 0..updates-1 exist; the last is the current one, never revoked.
        usage("--cheat-with " + std::to_string(cheat_at) + " is not a revoked state: with --updates " +
              std::to_string(updates) + " the revoked states are 0.." + std::to_string(updates - 2) + " (state " +
              std::to_string(updates - 1) + " is the current one)");
    }
    const bool kits = scenario != "classic";
    const bool anchors = channel_type == "anchors";
    const std::uint16_t bob_delay = kits ? 30 : 144;  // to_self_delay on Bob's outputs: the kit's deadline
    if (bin_dir.empty()) bin_dir = ARGUS_BUILD_DIR;
    std::unique_ptr<test::TemporaryDirectory> temp;
    if (work_dir.empty()) {
        temp = std::make_unique<test::TemporaryDirectory>();
        work_dir = temp->path();
    }
    signal(SIGPIPE, SIG_IGN);
    const char* bitcoind = std::getenv("BITCOIND");

    std::printf("Argus breach drill: Alice backs up every revoked state to an Argus tower; Bob cheats.\n\n");
    // ---- the chain
    // The fee spike: miners take only 20 sat/vB and more (the mempool still
    // takes 1 sat/vB). Bob's commitments pay 24 sat/vB so that they are mined.
    std::vector<std::string> bitcoind_args;
    if (scenario == "fee-spike") bitcoind_args = {"-blockmintxfee=0.00020000", "-blockprioritysize=0"};
    Chain chain = start_chain(work_dir, bitcoind ? bitcoind : "", bin_dir + "/tests/chain_simulator/argus-chain-sim",
                              bitcoind_args);
    if (scenario == "fee-spike" && !chain.real) chain.call("simulator_set_block_min_fee", json::array({20'000}));
    say("chain started", chain.real ? std::string("bitcoind -regtest (") + bitcoind + ")"
                                    : "argus-chain-sim (real blocks; no script verification)");

    // ---- the tower, on its embedded default store
    std::string ready = work_dir + "/tower.ready";
    test::ChildProcess tower({bin_dir + "/server/argus-tower", "--network", "regtest", "--wtwire-port", "0", "--electrum-port", "0", "--data-dir", work_dir + "/tower",
                              "--api-port", "0", "--admin-port", "0", "--metrics-port", "0", "--bitcoind-rpc-port", std::to_string(chain.rpc_port),
                              "--bitcoind-rpc-user", "argus", "--bitcoind-rpc-password", "drill", "--bitcoind-zmq",
                              "tcp://127.0.0.1:" + std::to_string(chain.zmq_port), "--resolve-depth", "6",
                              // The default add_appointment limit (33,792 bytes, not rust-teos's
                              // 2,048) takes justice transactions sweeping several HTLCs and
                              // penalty kits up to 16 KiB; slots are charged per 2 KB of blob.
                              "--ready-file", ready},
                             work_dir + "/tower.log");
    auto tower_ready = json::parse(test::wait_for_file(ready, std::chrono::seconds(60)));
    std::string tower_id = tower_ready["tower_id"];
    auto tower_port = tower_ready["api_port"].get<std::uint16_t>();
    say("tower started", "id " + tower_id.substr(0, 16) + "... on 127.0.0.1:" + std::to_string(tower_port) +
                             ", SQLite, appointments and penalty kits up to 16 KiB");

    // ---- Alice's client node
    std::string client_ready = work_dir + "/client.ready";
    test::ChildProcess client({bin_dir + "/client/argus-client", "--api-port", "0", "daemon", "--data-dir",
                               work_dir + "/client", "--tower", tower_id + "@127.0.0.1:" + std::to_string(tower_port),
                               "--ready-file", client_ready},
                              work_dir + "/client.log");
    auto client_port = json::parse(test::wait_for_file(client_ready, std::chrono::seconds(30)))["api_port"].get<std::uint16_t>();
    test::HttpClient node(client_port);
    say("client node started", "Alice's backups go to 1 tower");

    // ---- keys and funds
    PrivateKey wallet = PrivateKey::from_bytes(Bytes(32, 0x0a)).value();  // Alice's on-chain wallet
    std::string wallet_address = encode_address(p2wpkh_script(wallet.public_key()), Network::regtest).value();
    auto mined = chain.call("generatetoaddress", json::array({101, wallet_address}));
    std::string coinbase = chain.call("getblock", json::array({mined[0], 1}))["tx"][0];
    say("funds mined", "101 blocks to Alice's wallet " + wallet_address.substr(0, 16) + "...");

    ChannelSecrets alice_secrets = ChannelSecrets::from_seed(seed(0xa1));
    ChannelSecrets bob_secrets = ChannelSecrets::from_seed(seed(0xb0));
    const std::int64_t capacity = 10'000'000;
    Bytes funding_spk = funding_script_pubkey(alice_secrets.funding.public_key(), bob_secrets.funding.public_key());
    Transaction funding = test::sign_p2wpkh_spend(wallet, {Txid::from_display_hex(coinbase).value(), 0}, 50'0000'0000,
                                            {{capacity, funding_spk}, {50'0000'0000 - capacity - 20'000, p2wpkh_script(wallet.public_key())}});
    chain.call("sendrawtransaction", json::array({to_hex(funding.serialize())}));
    chain.call("generatetoaddress", json::array({1, wallet_address}));
    say("channel opened", "funding " + funding.txid().to_display_hex().substr(0, 16) + "..., 0.1 BTC, " + channel_type);
    if (scenario == "fee-spike") state_feerate = 6000;

    ChannelConfig alice_config;
    alice_config.funding_outpoint = {funding.txid(), 0};
    alice_config.funding_satoshis = capacity;
    alice_config.local_is_opener = true;
    alice_config.anchors = anchors;
    alice_config.local_to_self_delay = 144;
    alice_config.remote_to_self_delay = bob_delay;
    ChannelConfig bob_config = alice_config;
    bob_config.local_is_opener = false;
    std::swap(bob_config.local_to_self_delay, bob_config.remote_to_self_delay);
    Channel alice(alice_config, alice_secrets, ChannelBasepoints::of(bob_secrets));
    Channel bob(bob_config, bob_secrets, ChannelBasepoints::of(alice_secrets));
    Bytes alice_sweep = p2wpkh_script(alice_secrets.payment_basepoint.public_key());
    const std::string channel_id = to_hex(funding.txid().bytes).substr(0, 16);
    if (kits) {
        // Channel-material mode: the client node holds what a justice
        // transaction needs and builds it, with a penalty kit, at each revocation.
        auto point = [](const PrivateKey& k) { return to_hex(k.public_key().bytes()); };
        json material = {
            {"channel_id", channel_id}, {"funding_txid", funding.txid().to_display_hex()}, {"funding_output_index", 0},
            {"funding_satoshis", capacity}, {"local_is_opener", true}, {"anchors", anchors},
            {"sweep_address", encode_address(alice_sweep, Network::regtest).value()},
            {"remote_to_self_delay", bob_delay}, {"justice_feerate_per_kw", 253},
            {"local_secrets", {{"revocation_basepoint", to_hex(alice_secrets.revocation_basepoint.bytes())}}},
            {"local_basepoints", {{"funding", point(alice_secrets.funding)}, {"payment", point(alice_secrets.payment_basepoint)},
                                  {"htlc", point(alice_secrets.htlc_basepoint)}}},
            {"remote_basepoints", {{"funding", point(bob_secrets.funding)}, {"payment", point(bob_secrets.payment_basepoint)},
                                   {"delayed_payment", point(bob_secrets.delayed_payment_basepoint)},
                                   {"htlc", point(bob_secrets.htlc_basepoint)}}}};
        auto r = node.post("/channels", material.dump());
        if (r.status != 200) die("client node refused the channel material: " + r.body);
        say("channel material registered", "the client node builds each justice transaction and penalty kit itself");
    }

    // ---- updates: each one revokes Bob's previous commitment
    std::vector<Transaction> bobs_signed;  // Bob's commitments with both signatures (what he could broadcast)
    std::vector<Transaction> justice;      // Alice's justice transactions, by state
    std::size_t htlcs_total = 0;
    for (std::uint64_t n = 0; n < updates; ++n) {
        ChannelState a = alice_state(n);
        htlcs_total += a.htlcs.size();
        PublicKey bob_point = bob_secrets.per_commitment_point(n);
        bolt3::Commitment by_alice = alice.remote_commitment(a, bob_point);
        bolt3::Commitment own = bob.local_commitment(bob_view(a));
        if (by_alice.tx.txid() != own.tx.txid()) die("Alice and Bob disagree on Bob's commitment " + std::to_string(n));
        EcdsaSignature alice_sig = alice.sign_remote_commitment(by_alice, bob_point);
        if (!bob.verify_local_commitment_signature(own, n, alice_sig)) die("Alice's signature does not verify");
        Hash256 digest = bolt3::commitment_sighash(own, bob.local_commitment_params(), bob.local_commitment_keys(n));
        EcdsaSignature bob_sig = ecdsa_sign(bob_secrets.funding, digest);
        bolt3::finalize_commitment(own, bob.local_commitment_keys(n), bob_sig, alice_sig);
        bobs_signed.push_back(own.tx);
        if (n == 0) continue;
        // Bob revokes commitment n-1: Alice checks the secret, builds the justice
        // transaction and hands it to her client node, which backs it up.
        std::uint64_t revoked = n - 1;
        if (auto ok = alice.receive_revocation(revoked, bob_secrets.per_commitment_secret(revoked),
                                               bob_secrets.per_commitment_point(revoked));
            !ok) {
            die("revocation: " + ok.error().message);
        }
        auto tx = alice.justice_transaction(alice_state(revoked), alice_sweep, 5000);
        if (!tx) die("justice transaction: " + tx.error().message);
        justice.push_back(*tx);
        if (kits) {
            ChannelState s = alice_state(revoked);
            json htlcs = json::array();
            for (const auto& h : s.htlcs) {
                htlcs.push_back({{"direction", h.direction == bolt3::HtlcDirection::offered ? "offered" : "received"},
                                 {"amount_msat", h.amount_msat}, {"cltv_expiry", h.cltv_expiry},
                                 {"payment_hash", to_hex(h.payment_hash)}});
            }
            json revocation = {{"commitment_number", revoked},
                               {"per_commitment_secret", to_hex(bob_secrets.per_commitment_secret(revoked))},
                               {"state", {{"local_msat", s.local_msat}, {"remote_msat", s.remote_msat},
                                          {"feerate_per_kw", s.feerate_per_kw}, {"htlcs", htlcs}}}};
            auto r = node.post("/channels/" + channel_id + "/revocations", revocation.dump());
            if (r.status != 200) die("client node refused revocation " + std::to_string(revoked) + ": " + r.body);
            continue;
        }
        auto r = node.post("/backups", json{{"commitment_txid", bobs_signed[revoked].txid().to_display_hex()},
                                            {"penalty_tx", to_hex(tx->serialize())},
                                            {"channel_id", to_hex(funding.txid().bytes).substr(0, 16)},
                                            {"commitnum", revoked},
                                            {"to_self_delay", 144}}.dump());
        if (r.status != 200) die("client node refused backup " + std::to_string(revoked) + ": " + r.body);
    }
    say("channel updated", std::to_string(updates) + " states, " + std::to_string(htlcs_total) + " HTLCs, " +
                               std::to_string(updates - 1) + " revoked states handed to the client node");

    // ---- every revoked state acknowledged by the tower
    auto acknowledged = [&] {
        auto towers = json::parse(node.get("/towers").body);
        return towers.size() == 1 && towers[0]["acknowledged"].get<std::size_t>() == updates - 1 ? true : false;
    };
    if (!wait_until(acknowledged, std::chrono::seconds(60))) die("the tower did not acknowledge every backup: " + node.get("/towers").body);
    auto towers = json::parse(node.get("/towers").body);
    say("backups acknowledged", std::to_string(towers[0]["acknowledged"].get<int>()) + " receipts verified against the tower id, " +
                                    std::to_string(towers[0]["available_slots"].get<int>()) + " slots left");

    if (kits) {
        // Bob's fee coin for an anchor HTLC-success: a second mined coinbase (50 BTC).
        std::string fee_coinbase = chain.call("getblock", json::array({mined[1], 1}))["tx"][0];
        test::FeeInput bobs_coin{{Txid::from_display_hex(fee_coinbase).value(), 0}, 50'0000'0000, wallet, 10'000};
        return run_kit_breach(chain, alice, bob, alice_secrets, bob_secrets, bobs_signed[cheat_at], alice_state(cheat_at),
                              cheat_at, scenario, channel_type, bob_delay, alice_sweep, wallet_address, tower_ready,
                              work_dir + "/tower/admin_token", tower, client, keep, temp, work_dir, bobs_coin);
    }

    // ---- Bob cheats
    const Transaction& old = bobs_signed[cheat_at];
    const Transaction& penalty = justice[cheat_at];
    chain.call("sendrawtransaction", json::array({to_hex(old.serialize())}));
    say("Bob broadcasts revoked state", "#" + std::to_string(cheat_at) + " " + old.txid().to_display_hex().substr(0, 16) + "...");
    auto breach_block = chain.call("generatetoaddress", json::array({1, wallet_address}));
    auto breach_mined = Clock::now();
    std::uint32_t breach_height = chain.call("getblockcount").get<std::uint32_t>();
    say("breach mined", "block " + std::to_string(breach_height));

    auto in_mempool = [&] {
        for (const auto& t : chain.call("getrawmempool")) {
            if (t.get<std::string>() == penalty.txid().to_display_hex()) return true;
        }
        return false;
    };
    if (!wait_until(in_mempool, std::chrono::seconds(60))) die("the tower did not broadcast the penalty; see " + work_dir + "/tower.log");
    double reaction_ms = std::chrono::duration<double, std::milli>(Clock::now() - breach_mined).count();
    char reaction[64];
    std::snprintf(reaction, sizeof reaction, "%.0f ms after the breach block", reaction_ms);
    say("tower broadcast the penalty", penalty.txid().to_display_hex().substr(0, 16) + "..., " + reaction);

    // ---- confirmations
    for (int i = 1; i <= 6; ++i) {
        chain.call("generatetoaddress", json::array({1, wallet_address}));
        auto out = chain.call("gettxout", json::array({penalty.txid().to_display_hex(), 0, false}));
        if (out.is_null()) die("the penalty output is not in the UTXO set after a block");
        if (i == 1 || i == 6) say("penalty confirmed", std::to_string(out["confirmations"].get<int>()) + " confirmation(s)");
    }
    auto swept = chain.call("gettxout", json::array({penalty.txid().to_display_hex(), 0, false}));
    if (swept["scriptPubKey"]["hex"] != to_hex(alice_sweep)) die("the penalty does not pay Alice");
    auto sats = static_cast<std::int64_t>(swept["value"].get<double>() * 1e8 + 0.5);
    std::int64_t bob_balance = static_cast<std::int64_t>(alice_state(cheat_at).remote_msat / 1000);
    say("funds at Alice's address", std::to_string(sats) + " sat (Bob's balance and HTLCs in the revoked state)");

    // The tower's Prometheus counters moved with the story (sampled each second).
    test::HttpClient metrics(tower_ready["metrics_port"].get<std::uint16_t>());
    auto metric = [&](const std::string& name) -> double {
        std::string text = metrics.get("/metrics").body;
        auto pos = text.find("\n" + name + " ");
        return pos == std::string::npos ? -1 : std::atof(text.c_str() + pos + name.size() + 2);
    };
    const std::pair<const char*, double> expected[] = {
        {"argus_appointments_accepted_total{protocol=\"teos\"}", static_cast<double>(updates - 1)},
        {"argus_breaches_detected_total", 1},
        {"argus_penalties_broadcast_total", 1},
        {"argus_penalties_confirmed_total", 1},
        {"argus_blocks_connected_total", 8}};
    if (!wait_until([&] {
            for (const auto& [name, at_least] : expected) {
                if (metric(name) < at_least) return false;
            }
            return true;
        }, std::chrono::seconds(10))) {
        die("tower metrics did not move as expected: " + metrics.get("/metrics").body.substr(0, 2000));
    }
    say("tower metrics", "accepted " + std::to_string(static_cast<int>(metric("argus_appointments_accepted_total{protocol=\"teos\"}"))) +
                             ", breaches " + std::to_string(static_cast<int>(metric("argus_breaches_detected_total"))) +
                             ", penalties broadcast " + std::to_string(static_cast<int>(metric("argus_penalties_broadcast_total"))) +
                             ", confirmed " + std::to_string(static_cast<int>(metric("argus_penalties_confirmed_total"))));
    tower.signal(SIGTERM);
    client.signal(SIGTERM);
    tower.wait();
    client.wait();

    std::printf("\nSUMMARY\n");
    std::printf("  channel          0.1 BTC between Alice and Bob (anchors), %llu updates with %zu HTLCs\n",
                static_cast<unsigned long long>(updates), htlcs_total);
    std::printf("  backups          %llu revoked states, every one acknowledged with a verified receipt\n",
                static_cast<unsigned long long>(updates - 1));
    std::printf("  breach           Bob broadcast revoked state #%llu (his balance then: %lld sat), mined at height %u\n",
                static_cast<unsigned long long>(cheat_at), static_cast<long long>(bob_balance), breach_height);
    std::printf("  response         penalty %s broadcast %.0f ms after the breach block\n",
                penalty.txid().to_display_hex().c_str(), reaction_ms);
    std::printf("  outcome          6 confirmations; %lld sat swept to Alice's address\n", static_cast<long long>(sats));
    std::printf("  logs             %s\n", keep || !temp ? work_dir.c_str() : "(temporary; pass --keep to keep them)");
    std::printf("\nDRILL PASSED\n");
    if (keep && temp) {
        std::printf("(work dir kept)\n");
        (void)temp.release();
    }
    return 0;
}
