// The Electrum front door against Electrum 4.3.4's own watchtower client code
// (tests/electrum/electrum_client_sync.py, written from Electrum's source
// without reading the tower's): the client syncs a channel, the tower stores
// every sweep, and a revoked commitment mined on the chain is swept, with the
// second-stage HTLC sweeps when the cheater's HTLC transactions appear.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <cstdlib>
#include <fstream>

#include "common/hex.h"
#include "common/watchtower_crypto.h"
#include "net/http_client.h"
#include "tests/integration/breach_world.h"
#include "tests/support/run_command.h"

using namespace argus;
using namespace argus::test;

namespace {

const std::string python = "/usr/bin/python3";  // Debian's, with python3-electrum (PATH may hold another)

std::string cli(BreachWorld& world) {
    return std::string(ARGUS_CLI_BINARY) + " --admin-port " + std::to_string(world.admin_port()) + " --data-dir " +
           world.tower_dir() + " ";
}

void add_account(BreachWorld& world, const std::string& user, const std::string& password) {
    std::string file = world.work_dir() + "/" + user + ".password";
    std::ofstream(file) << password << "\n";
    auto created = run_command(cli(world) + "electrum-add-user " + user + " --password-file " + file + " --json");
    REQUIRE_MESSAGE(created.status == 0, created.output);
}

struct Sync {
    int status = -1;
    std::string output;
    json result;
};

Sync electrum_sync(BreachWorld& world, const std::string& credentials, const std::string& extra = "") {
    std::string out = world.work_dir() + "/electrum-sync.json";
    std::remove(out.c_str());
    auto r = run_command(python + " " + ARGUS_SOURCE_DIR + "/tests/electrum/electrum_client_sync.py --mode direct --url http://" +
                         credentials + "@127.0.0.1:" + std::to_string(world.electrum_port()) + " --out " + out + " " + extra);
    Sync s{r.status, r.output, json()};
    std::ifstream in(out);
    if (in) s.result = json::parse(in, nullptr, false);
    return s;
}

Transaction tx_of(const json& raw) { return parse_transaction(parse_hex(raw.get<std::string>()).value()).value(); }

// A channel funding output the chain really has: the harness's 2-of-2 P2WSH
// (its keys are fixed, so the address is known before the channel exists),
// paid from one of the world's coinbases by a signed P2WPKH spend. Every
// transaction of the channel is then valid on a real bitcoind too. Returns
// the harness argument naming it.
std::string fund_channel(BreachWorld& world) {
    auto r = run_command(python + " " + ARGUS_SOURCE_DIR + "/tests/electrum/electrum_client_sync.py --print-funding-address");
    REQUIRE_MESSAGE(r.status == 0, r.output);
    json info = json::parse(r.output.substr(r.output.rfind("{\"")), nullptr, false);
    REQUIRE_MESSAGE(info.is_object(), r.output);
    Bytes script = parse_hex(info["funding_redeem_script"].get<std::string>()).value();
    std::int64_t amount = info["funding_sat"].get<std::int64_t>();
    Transaction funding = world.spend_coinbase(
        {{amount, p2wsh_script(script)}, {50'0000'0000 - amount - 20'000, p2wpkh_script(world.funder.public_key())}});
    world.send(funding);
    world.mine(1);
    return "--funding-outpoint " + funding.txid().to_display_hex() + ":0 --funding-sat " + std::to_string(amount);
}

}  // namespace

TEST_CASE("electrum: Electrum 4.3.4's client syncs a channel to argus-tower and its breach is swept, second stage too") {
    BreachWorld world;
    REQUIRE(world.electrum_port() != 0);
    add_account(world, "alice", "correct horse battery");
    // --cltv-base: the HTLC-timeout's locktime is a height the test can reach.
    std::string funding_arg = fund_channel(world) + " --cltv-base " + std::to_string(world.chain_height() + 5);

    auto sync = electrum_sync(world, "alice:correct%20horse%20battery", funding_arg);
    REQUIRE_MESSAGE(sync.status == 0, sync.output);
    const json& r = sync.result;
    REQUIRE(r.is_object());
    // Argus answers -1 for a new channel, so Electrum sends ctn 0 too (PROTOCOLS.md 3).
    CHECK(r["tower_get_ctn_reply"] == -1);
    CHECK(r["revoked_ctns"] == json::array({0, 1, 2, 3, 4, 5}));
    CHECK(r["ctns_sent"] == json::array({0, 1, 2, 3, 4, 5}));
    CHECK(r["num_sweeps_sent"] == 11);
    CHECK(r["num_sweeps_acked"] == 11);
    CHECK(r["errors"].empty());

    // The tower holds every sweep, under its prevout's txid, and knows the channel.
    auto channels = json::parse(run_command(cli(world) + "electrum-channels alice --json").output);
    REQUIRE(channels.size() == 1);
    CHECK(channels[0]["funding_outpoint"] == r["funding_outpoint"]);
    CHECK(channels[0]["funding_address"] == r["funding_address"]);
    CHECK(channels[0]["max_ctn"] == 5);
    for (const auto& sweep : r["sweeps_sent"]) {
        std::string prevout = sweep["prevout"].get<std::string>();
        Txid txid = Txid::from_display_hex(prevout.substr(0, 64)).value();
        auto stored = world.admin_get("/appointments/" + to_hex(teos::locator(txid)));
        CAPTURE(prevout);
        REQUIRE(stored.size() == 1);
        CHECK(stored[0]["payload_kind"] == 2);
        CHECK(stored[0]["status"] == "being_watched");
    }
    CHECK(world.metric_reaches("argus_appointments_accepted_total{protocol=\"electrum\"}", 11));

    // The tower is killed (-9) and restarted: every acknowledged sweep is
    // there. Electrum syncs again: get_ctn says 5, nothing is resent.
    world.kill_tower();
    world.start_tower();
    for (const auto& sweep : r["sweeps_sent"]) {
        std::string prevout = sweep["prevout"].get<std::string>();
        Txid txid = Txid::from_display_hex(prevout.substr(0, 64)).value();
        CHECK(world.admin_get("/appointments/" + to_hex(teos::locator(txid))).size() == 1);
    }
    auto again = electrum_sync(world, "alice:correct%20horse%20battery", funding_arg);
    REQUIRE_MESSAGE(again.status == 0, again.output);
    CHECK(again.result["tower_get_ctn_reply"] == 5);
    CHECK(again.result["num_sweeps_sent"] == 0);

    // The cheater (Bob) broadcasts his revoked commitment 2, with two HTLCs.
    const json& revoked = r["revoked_commitments"]["2"];
    Transaction commitment = tx_of(revoked["raw_tx"]);
    const json* to_local = nullptr;
    std::vector<const json*> second_stage;
    for (const auto& sweep : r["sweeps_sent_by_ctn"]["2"]) {
        if (sweep["kind"] == "to_local") {
            to_local = &sweep;
        } else {
            second_stage.push_back(&sweep);
        }
    }
    REQUIRE(to_local != nullptr);
    REQUIRE(second_stage.size() == 2);
    world.send(commitment);
    world.mine(1);
    Transaction to_local_sweep = tx_of((*to_local)["raw_tx"]);
    REQUIRE_MESSAGE(wait_until([&] { return world.in_mempool(to_local_sweep.txid()); }), world.tower_log());
    world.mine(1);
    CHECK(world.confirmations(to_local_sweep.txid()) == 1);
    // The tower sees the sweep's block a moment after the chain has it.
    json early;
    CHECK(wait_until([&] {
        early = json::parse(run_command(cli(world) + "channels --json").output);
        return early.size() == 1 && early[0].value("penalty_status", "") == "confirmed";
    }));
    REQUIRE(early.size() == 1);
    CHECK(early[0]["penalty_confirmations"] == 1);

    // He then gets his HTLC-success and (past its locktime) HTLC-timeout
    // transactions in: each one's output is swept through the revocation path.
    std::uint32_t highest_locktime = 0;
    for (const auto& h : revoked["htlc_txs"]) highest_locktime = std::max(highest_locktime, h["locktime"].get<std::uint32_t>());
    while (world.chain_height() < highest_locktime + 1) world.mine(1);
    for (const auto& h : revoked["htlc_txs"]) world.send(tx_of(h["raw_tx"]));
    world.mine(1);
    for (const json* sweep : second_stage) {
        Transaction t = tx_of((*sweep)["raw_tx"]);
        CAPTURE((*sweep)["kind"]);
        REQUIRE_MESSAGE(wait_until([&] { return world.in_mempool(t.txid()); }), world.tower_log());
    }
    world.mine(1);
    for (const json* sweep : second_stage) CHECK(world.confirmations(tx_of((*sweep)["raw_tx"]).txid()) == 1);
    // The channel's record says what happened, for the client and the operator.
    // Resolved once the tower has seen --resolve-depth (3) blocks on the sweep.
    json status;
    CHECK(wait_until([&] {
        status = json::parse(run_command(cli(world) + "channels --json").output);
        return status.size() == 1 && status[0].value("penalty_status", "") == "resolved";
    }));
    REQUIRE(status.size() == 1);
    CHECK(status[0]["username"] == "alice");
    CHECK(status[0]["status"] == "closed");
    CHECK(status[0]["close_type"] == "breach");
    CHECK(status[0]["closing_txid"] == commitment.txid().to_display_hex());
    CHECK(status[0]["penalty_txid"] == to_local_sweep.txid().to_display_hex());
    CHECK(status[0]["penalty_status"] == "resolved");  // --resolve-depth 3, and more blocks went by
    CHECK(world.tower_log().find("channel_closed") != std::string::npos);
    // The sweeps of the other revoked states stay watched.
    CHECK(world.admin_get("/appointments/" + to_hex(teos::locator(tx_of(r["revoked_commitments"]["3"]["raw_tx"]).txid())))
              .size() == 1);
}

TEST_CASE("electrum: the tower records unilateral and cooperative closes of watched channels, and forgets a close reorged out") {
    BreachWorld world;
    add_account(world, "carol", "another fine secret");
    const std::string credentials = "carol:another%20fine%20secret";
    // Two channels of the same wallet keys on two funding transactions.
    auto first = electrum_sync(world, credentials, fund_channel(world));
    REQUIRE_MESSAGE(first.status == 0, first.output);
    auto second = electrum_sync(world, credentials, fund_channel(world));
    REQUIRE_MESSAGE(second.status == 0, second.output);
    REQUIRE(first.result["funding_outpoint"] != second.result["funding_outpoint"]);

    auto row_of = [&](const json& sync) {
        for (const auto& row : json::parse(run_command(cli(world) + "channels --json").output)) {
            if (row["funding_outpoint"] == sync["funding_outpoint"]) return row;
        }
        return json();
    };
    CHECK(row_of(first.result)["status"] == "open");

    // The first closes unilaterally: the current (unrevoked) commitment.
    world.send(tx_of(first.result["current_commitment"]["raw_tx"]));
    world.mine(1);
    REQUIRE(wait_until([&] { return row_of(first.result)["status"] == "closed"; }));
    json unilateral = row_of(first.result);
    CHECK(unilateral["close_type"] == "unilateral");
    CHECK_FALSE(unilateral.contains("penalty_txid"));
    if (world.real_bitcoind()) {
        // A cooperative close needs both parties' signatures on a new
        // transaction, which the harness does not produce.
        MESSAGE("real bitcoind: the cooperative close and its reorg run on the chain simulator");
        return;
    }

    // The second closes cooperatively (a spend without BOLT 3's commitment
    // marks; the chain simulator does not check its signature), then a reorg
    // takes that block away: the channel is open again.
    std::string funding = second.result["funding_outpoint"].get<std::string>();
    Transaction mutual;
    TxIn in;
    in.prevout = OutPoint{Txid::from_display_hex(funding.substr(0, 64)).value(),
                          static_cast<std::uint32_t>(std::stoul(funding.substr(65)))};
    mutual.inputs.push_back(in);
    mutual.outputs.push_back({second.result["funding_sat"].get<std::int64_t>() - 1000, Bytes(22, 0)});
    mutual.outputs.back().script_pubkey[1] = 20;
    world.send(mutual);
    world.mine(1);
    REQUIRE(wait_until([&] { return row_of(second.result)["status"] == "closed"; }));
    CHECK(row_of(second.result)["close_type"] == "cooperative");
    CHECK(row_of(second.result)["closing_txid"] == mutual.txid().to_display_hex());
    world.reorg(1, 2);
    REQUIRE_MESSAGE(wait_until([&] { return row_of(second.result)["status"] == "open"; }), world.tower_log());
    CHECK(row_of(first.result)["status"] == "closed");  // an older block, untouched
    CHECK(world.metric_reaches("argus_channels_closed_total{type=\"unilateral\"}", 1));
}

TEST_CASE("electrum: wrong credentials, malformed JSON-RPC, unknown methods, bad sweeps and oversize bodies are clean errors") {
    BreachWorld world;
    add_account(world, "bob", "a long enough secret");
    HttpClient http(world.electrum_port());
    // base64("bob:a long enough secret"), base64("bob:wrong password")
    const std::string good = "Basic Ym9iOmEgbG9uZyBlbm91Z2ggc2VjcmV0", bad = "Basic Ym9iOndyb25nIHBhc3N3b3Jk";
    auto rpc = [&](const std::string& body, const std::string& auth) { return http.post("/", body, auth); };
    auto error_code = [](const HttpResult& res) {
        auto j = json::parse(res.body, nullptr, false);
        return j.is_object() && j.contains("error") ? j["error"]["code"].get<int>() : 0;
    };
    const std::string funding = std::string(64, 'a') + ":0";
    std::string get_ctn = R"({"jsonrpc":"2.0","id":"1","method":"get_ctn","params":[")" + funding + R"(","bcrt1qx"]})";

    auto none = rpc(get_ctn, "");
    CHECK(none.status == 401);
    CHECK(error_code(none) == -32001);
    auto wrong = rpc(get_ctn, bad);
    CHECK(wrong.status == 401);
    CHECK(error_code(wrong) == -32001);
    CHECK(http.get("/", good).status == 405);
    CHECK(http.post("/other", get_ctn, good).status == 404);

    auto garbage = rpc("{nope", good);
    CHECK(garbage.status == 200);
    CHECK(error_code(garbage) == -32700);
    CHECK(error_code(rpc(R"({"jsonrpc":"2.0","id":"2","method":"list_everything","params":[]})", good)) == -32601);
    CHECK(error_code(rpc(R"({"jsonrpc":"2.0","id":"3","method":"get_ctn","params":["x:0","a"]})", good)) == -32602);
    // A sweep that is not a transaction, and one that spends nothing of the prevout it names.
    REQUIRE(json::parse(rpc(get_ctn, good).body)["result"] == -1);
    std::string not_tx = R"({"jsonrpc":"2.0","id":"4","method":"add_sweep_tx","params":[")" + funding + R"(",1,")" +
                         std::string(64, 'b') + R"(:0","00"]})";
    CHECK(error_code(rpc(not_tx, good)) == -32602);
    Transaction dispute = world.make_dispute();
    std::string unrelated = R"({"jsonrpc":"2.0","id":"5","method":"add_sweep_tx","params":[")" + funding + R"(",1,")" +
                            std::string(64, 'b') + R"(:0",")" + to_hex(dispute.serialize()) + R"("]})";
    CHECK(error_code(rpc(unrelated, good)) == -32602);
    // Over the body limit: 413 before anything is parsed.
    std::string huge = R"({"jsonrpc":"2.0","id":"6","method":"add_sweep_tx","params":[")" + funding + R"(",1,"x",")" +
                       std::string(20000, 'a') + R"("]})";
    CHECK(rpc(huge, good).status == 413);
    // Nothing was stored but the channel registration.
    auto info = world.admin_info();
    CHECK(info["appointments"] == 0);
    auto channels = json::parse(run_command(cli(world) + "electrum-channels bob --json").output);
    REQUIRE(channels.size() == 1);
    CHECK(channels[0]["max_ctn"] == -1);

    // The real client with a wrong password stops with an error and sends nothing.
    auto sync = electrum_sync(world, "bob:not-the-password");
    CHECK(sync.status != 0);
    CHECK(world.admin_info()["appointments"] == 0);

    // Accounts: listed, removed (with their channels), gone for the client.
    auto users = json::parse(run_command(cli(world) + "electrum-users --json").output);
    REQUIRE(users.size() == 1);
    CHECK(users[0]["username"] == "bob");
    CHECK(users[0]["channels"] == 1);
    auto removed = run_command(cli(world) + "electrum-remove-user bob --json");
    CHECK(removed.status == 0);
    CHECK(rpc(get_ctn, good).status == 401);
    CHECK(run_command(cli(world) + "electrum-channels bob").status == 5);
    auto duplicate_name = run_command(cli(world) + "electrum-add-user 'bad name'");
    CHECK(duplicate_name.status == 2);
}

TEST_CASE("electrum: an account out of slots gets a clean quota error, and the listener serves HTTPS when given a certificate") {
    TemporaryDirectory certs;
    std::string cert = certs.path() + "/cert.pem", key = certs.path() + "/key.pem";
    std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " + key +
                          " -out " + cert + " >/dev/null 2>&1 </dev/null";
    REQUIRE(std::system(command.c_str()) == 0);
    BreachWorld world({{"--subscription-slots", "2", "--electrum-tls-certificate", cert, "--electrum-tls-private-key", key}, ""});
    add_account(world, "dave", "yet another secret");
    net::HttpClientOptions o;
    o.port = world.electrum_port();
    o.tls = net::TlsClientOptions::verified(cert, "localhost");
    net::HttpClient https(o);
    const std::string auth = "Basic ZGF2ZTp5ZXQgYW5vdGhlciBzZWNyZXQ=";  // dave:yet another secret
    const std::string funding = std::string(64, 'e') + ":1";
    auto call = [&](const std::string& body) {
        auto r = https.post("/", body, "text/plain; charset=utf-8", auth);
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        CHECK(r->status == 200);
        CHECK(r->content_type.rfind("application/json", 0) == 0);
        return json::parse(r->body);
    };
    CHECK(call(R"({"jsonrpc":"2.0","id":"1","method":"get_ctn","params":[")" + funding + R"(","bcrt1qd"]})")["result"] == -1);
    auto sweep_of = [&](int n) {
        Transaction commitment = world.make_dispute();  // any transaction: its txid is the prevout
        Transaction sweep = world.make_penalty(commitment);
        return R"({"jsonrpc":"2.0","id":")" + std::to_string(n + 1) + R"(","method":"add_sweep_tx","params":[")" + funding +
               "\"," + std::to_string(n) + ",\"" + commitment.txid().to_display_hex() + ":0\",\"" +
               to_hex(sweep.serialize()) + "\"]}";
    };
    auto first = call(sweep_of(1));
    CHECK(first.contains("result"));
    CHECK(first["id"] == "2");
    CHECK(call(sweep_of(2)).contains("result"));
    auto third = call(sweep_of(3));  // 2 slots: the third is refused, by a JSON-RPC error
    REQUIRE(third.contains("error"));
    CHECK(third["error"]["code"] == -32002);
    CHECK(third["error"]["message"].get<std::string>().find("slots") != std::string::npos);
    CHECK(world.admin_info()["appointments"] == 2);
}

TEST_CASE("electrum: sweeps are taken while bitcoind is unreachable (Electrum never resends a refused one)") {
    BreachWorld world({{"--chain-poll-ms", "200", "--receive-rate-grace-ms", "500"}, ""});  // notices the chain gone within a poll
    {
        // A slow loris on the Electrum port is cut after the grace, as on the teos API.
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(world.electrum_port());
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        const char* head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
        REQUIRE(::send(fd, head, std::strlen(head), MSG_NOSIGNAL) > 0);
        auto start = std::chrono::steady_clock::now();
        char buffer[256];
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        auto took = std::chrono::steady_clock::now() - start;
        CHECK(n <= 0);  // closed, nothing answered
        CHECK(took < std::chrono::seconds(4));
        ::close(fd);
    }
    add_account(world, "erin", "erin's long secret");
    HttpClient http(world.electrum_port());
    const std::string auth = "Basic ZXJpbjplcmluJ3MgbG9uZyBzZWNyZXQ=";  // erin:erin's long secret
    const std::string funding = std::string(64, 'd') + ":0";
    REQUIRE(http.post("/", R"({"jsonrpc":"2.0","id":"1","method":"get_ctn","params":[")" + funding + R"(","bcrt1qe"]})", auth)
                .status == 200);
    Transaction commitment = world.make_dispute(), sweep = world.make_penalty(commitment);
    world.kill_chain();
    REQUIRE(world.metric_reaches("argus_bitcoind_reachable", 0));
    auto r = http.post("/", R"({"jsonrpc":"2.0","id":"2","method":"add_sweep_tx","params":[")" + funding + R"(",0,")" +
                                commitment.txid().to_display_hex() + R"(:0",")" + to_hex(sweep.serialize()) + R"("]})",
                       auth);
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["result"].is_null());
    CHECK_FALSE(json::parse(r.body).contains("error"));
    world.start_chain();
    // Stored and watched: the breach is punished once the chain is back.
    world.send(commitment);
    world.mine(1);
    CHECK_MESSAGE(wait_until([&] { return world.in_mempool(sweep.txid()); }, std::chrono::seconds(60)), world.tower_log());
}
