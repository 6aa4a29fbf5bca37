// The Electrum front door's pure parts: JSON-RPC requests as Electrum 4.3.4
// sends them (util.JsonRPCClient, lnworker.sync_channel_with_watchtower;
// PROTOCOLS.md section 3), outpoints, Basic credentials, accounts.
#include <doctest/doctest.h>

#include "common/hex.h"
#include "common/transaction.h"
#include "server/api/electrum_router.h"
#include "server/tower/electrum_accounts.h"

using namespace argus;
using namespace argus::api;
using json = nlohmann::json;

namespace {

const std::string funding_txid = "a3f1" + std::string(60, '0');
const std::string commitment_txid = "b7c2" + std::string(60, '1');

// A one-input, one-output sweep of `prevout`, built by hand in the wire
// format (BIP144 without witness is enough here): version 2, sequence
// 0xfffffffe, locktime 0, as Electrum's lnsweep writes them.
std::string sweep_hex(const std::string& prevout_display_txid, std::uint32_t vout) {
    std::string txid_internal;
    for (std::size_t i = 64; i >= 2; i -= 2) txid_internal += prevout_display_txid.substr(i - 2, 2);
    char vout_le[9];
    std::snprintf(vout_le, sizeof vout_le, "%02x%02x%02x%02x", vout & 0xff, (vout >> 8) & 0xff, (vout >> 16) & 0xff,
                  (vout >> 24) & 0xff);
    return "02000000" "01" + txid_internal + vout_le + "00" "feffffff" "01" "1027000000000000" "16" "0014" +
           std::string(40, 'c') + "00000000";
}

std::string request(const std::string& method, const json& params, const json& id = "7") {
    return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump();
}

}  // namespace

TEST_CASE("electrum: the sweep written by hand parses as the transaction it claims to be") {
    auto tx = parse_transaction(parse_hex(sweep_hex(commitment_txid, 1)).value());
    REQUIRE(tx);
    REQUIRE(tx->inputs.size() == 1);
    CHECK(tx->inputs[0].prevout.txid.to_display_hex() == commitment_txid);
    CHECK(tx->inputs[0].prevout.index == 1);
    CHECK(tx->inputs[0].sequence == 0xfffffffe);
}

TEST_CASE("electrum: get_ctn and add_sweep_tx parse as Electrum sends them (positional params, string id)") {
    auto get = parse_electrum_call(request("get_ctn", {funding_txid + ":1", "bcrt1qxyz"}));
    REQUIRE(get);
    CHECK(get->id == "7");
    auto* g = std::get_if<GetCtnCall>(&get->call);
    REQUIRE(g);
    CHECK(g->funding.txid.to_display_hex() == funding_txid);
    CHECK(g->funding.index == 1);
    CHECK(g->funding_address == "bcrt1qxyz");

    auto add = parse_electrum_call(request("add_sweep_tx", {funding_txid + ":1", 5, commitment_txid + ":0",
                                                            sweep_hex(commitment_txid, 0)}));
    REQUIRE(add);
    auto* a = std::get_if<AddSweepCall>(&add->call);
    REQUIRE(a);
    CHECK(a->ctn == 5);
    CHECK(a->prevout.txid.to_display_hex() == commitment_txid);
    CHECK(to_hex(a->raw_tx) == sweep_hex(commitment_txid, 0));
    // Named parameters, as lnwatcher's signature names them.
    auto named = parse_electrum_call(request(
        "add_sweep_tx", json{{"funding_outpoint", funding_txid + ":1"}, {"ctn", 5}, {"prevout", commitment_txid + ":0"},
                             {"raw_tx", sweep_hex(commitment_txid, 0)}}, 3));
    REQUIRE(named);
    CHECK(named->id == 3);
}

TEST_CASE("electrum: malformed requests are the JSON-RPC errors they should be, never a throw") {
    auto code_of = [](const std::string& body) {
        auto r = parse_electrum_call(body);
        REQUIRE_FALSE(r);
        return r.error().code;
    };
    CHECK(code_of("{not json") == electrum_code::parse_error);
    CHECK(code_of("[]") == electrum_code::invalid_request);
    CHECK(code_of(R"({"id":"1","params":[]})") == electrum_code::invalid_request);
    CHECK(code_of(R"({"id":{"x":1},"method":"get_ctn","params":[]})") == electrum_code::invalid_request);
    CHECK(code_of(R"({"id":"1","method":"get_ctn","params":"x"})") == electrum_code::invalid_request);
    CHECK(code_of(request("get_height", json::array())) == electrum_code::method_not_found);
    CHECK(code_of(request("get_ctn", {funding_txid + ":1"})) == electrum_code::invalid_params);
    CHECK(code_of(request("get_ctn", {funding_txid, "addr"})) == electrum_code::invalid_params);      // no :n
    CHECK(code_of(request("get_ctn", {"zz" + funding_txid.substr(2) + ":1", "addr"})) == electrum_code::invalid_params);
    CHECK(code_of(request("get_ctn", {funding_txid + ":4294967296", "addr"})) == electrum_code::invalid_params);
    CHECK(code_of(request("get_ctn", {funding_txid + ":1", 5})) == electrum_code::invalid_params);
    std::string sweep = sweep_hex(commitment_txid, 0);
    CHECK(code_of(request("add_sweep_tx", {funding_txid + ":1", -1, commitment_txid + ":0", sweep})) ==
          electrum_code::invalid_params);
    CHECK(code_of(request("add_sweep_tx", {funding_txid + ":1", "5", commitment_txid + ":0", sweep})) ==
          electrum_code::invalid_params);
    CHECK(code_of(request("add_sweep_tx", {funding_txid + ":1", 5, commitment_txid + ":0", "0200"})) ==
          electrum_code::invalid_params);  // not a transaction
    CHECK(code_of(request("add_sweep_tx", {funding_txid + ":1", 5, commitment_txid + ":0", "xyz"})) ==
          electrum_code::invalid_params);
    // A sweep that does not spend the prevout it names, or spends the funding output.
    CHECK(code_of(request("add_sweep_tx", {funding_txid + ":1", 5, commitment_txid + ":1", sweep})) ==
          electrum_code::invalid_params);
    CHECK(code_of(request("add_sweep_tx", {funding_txid + ":1", 5, funding_txid + ":1", sweep_hex(funding_txid, 1)})) ==
          electrum_code::invalid_params);
    auto with_id = parse_electrum_call(request("nope", json::array(), "abc"));
    REQUIRE_FALSE(with_id);
    CHECK(with_id.error().id == "abc");  // errors echo the id they could read
}

TEST_CASE("electrum: Basic credentials split at the first colon, anything else is refused") {
    // base64("alice:pa:ss") = YWxpY2U6cGE6c3M=
    auto c = parse_basic_authorization("Basic YWxpY2U6cGE6c3M=");
    REQUIRE(c);
    CHECK(c->first == "alice");
    CHECK(c->second == "pa:ss");
    CHECK_FALSE(parse_basic_authorization("Bearer YWxpY2U6cGE6c3M="));
    CHECK_FALSE(parse_basic_authorization("Basic !!!"));
    CHECK_FALSE(parse_basic_authorization("Basic bm9jb2xvbg=="));  // "nocolon"
    CHECK_FALSE(parse_basic_authorization(""));
}

TEST_CASE("electrum: accounts verify Argon2id hashes, remember a success and forget on removal") {
    using namespace argus::tower;
    CHECK(check_electrum_username("alice.b-1_x"));
    CHECK_FALSE(check_electrum_username(""));
    CHECK_FALSE(check_electrum_username("al ice"));
    CHECK_FALSE(check_electrum_username(std::string(65, 'a')));
    CHECK_FALSE(check_electrum_password("short"));
    auto id = electrum_account_id("alice");
    CHECK(id[0] == 0x20);
    CHECK(electrum_account_id("alice") == id);
    CHECK(electrum_account_id("bob") != id);

    auto hash = hash_electrum_password("correct horse");
    REQUIRE(hash);
    CHECK(hash->rfind("$argon2id$", 0) == 0);  // libsodium's crypto_pwhash_str format
    CHECK(hash->find("correct horse") == std::string::npos);
    CHECK(verify_electrum_password(*hash, "correct horse"));
    CHECK_FALSE(verify_electrum_password(*hash, "correct horsE"));

    ElectrumAccounts accounts;
    accounts.put({"alice", id, *hash});
    CHECK(accounts.authenticate("alice", "correct horse") == id);
    CHECK(accounts.authenticate("alice", "correct horse") == id);  // from the cache
    CHECK_FALSE(accounts.authenticate("alice", "wrong password"));
    CHECK_FALSE(accounts.authenticate("bob", "correct horse"));
    accounts.remove("alice");
    CHECK_FALSE(accounts.authenticate("alice", "correct horse"));
}
