// The LND front door end to end: a real argus-tower and chain simulator, and an
// lnd-style watchtower client written from lnd's sources (tests/support/wtclient,
// independent of the tower's BOLT 8, wtwire and justice-kit code). Expected
// replies follow lnd's watchtower/wtserver (server.go, create_session.go,
// state_update.go, delete_session.go) and its server_test.go cases.
#include <doctest/doctest.h>
#include <signal.h>

#include "common/bech32.h"
#include "common/bolt3_keys.h"
#include "common/hex.h"
#include "common/script.h"
#include "tests/integration/breach_world.h"
#include "tests/support/temporary_postgres.h"
#include "tests/support/wtclient/client.h"
#include "tests/support/wtclient/justice_kit.h"
#include "tests/support/wtclient/wtwire.h"

using namespace argus;
using namespace argus::test;
namespace wt = argus::test::wtclient;

namespace {

PrivateKey key(std::uint8_t n) { return PrivateKey::from_bytes(Bytes(32, n)).value(); }

// Bitcoin Core chainparams.cpp, regtest and mainnet genesis (display order).
Hash256 regtest_chain() {
    return Txid::from_display_hex("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206").value().bytes;
}
Hash256 mainnet_chain() {
    return Txid::from_display_hex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f").value().bytes;
}

PublicKey tower_key(BreachWorld& world) { return PublicKey::parse(parse_hex(world.tower_id()).value()).value(); }

std::uint8_t next_ephemeral = 0x70;

wt::Client connect(BreachWorld& world, const PrivateKey& session) {
    auto client = wt::Client::connect("127.0.0.1", world.wtwire_port(), tower_key(world), session,
                                      key(++next_ephemeral), std::chrono::seconds(5));
    REQUIRE_MESSAGE(client, (client ? "" : client.error().message));
    return std::move(*client);
}

// A connection with Init exchanged, as lnd's client opens every one.
wt::Client open(BreachWorld& world, const PrivateKey& session, std::uint16_t blob_type = 0x0002) {
    wt::Client client = connect(world, session);
    auto init = client.exchange_init(wt::lnd_client_features(blob_type), regtest_chain());
    REQUIRE_MESSAGE(init, (init ? "" : init.error().message));
    return client;
}

wt::Reply create(BreachWorld& world, const PrivateKey& session, std::uint16_t blob_type, std::uint16_t max_updates,
                 std::uint64_t sweep_fee_rate = 2500, std::uint32_t reward_base = 0, std::uint32_t reward_rate = 0) {
    wt::Client client = open(world, session, blob_type);
    auto reply = client.create_session(blob_type, max_updates, reward_base, reward_rate, sweep_fee_rate);
    REQUIRE_MESSAGE(reply, (reply ? "" : reply.error().message));
    if (reply->code == wt::reply_code::temporary_failure) MESSAGE(world.tower_log());
    // lnd wtserver: one CreateSession per connection, then the tower hangs up.
    CHECK(client.closed_by_peer(std::chrono::seconds(5)));
    return *reply;
}

ByteArray<16> hint(std::uint8_t n) {
    ByteArray<16> h{};
    h[0] = 0xee;
    h[15] = n;
    return h;
}

struct Update {
    std::uint16_t seqnum, last_applied;
    std::uint16_t code, reply_last_applied;
};

// Sends `updates` on one connection (is_complete on the last one), checking
// each reply; a failure code ends the connection, as lnd's tower does.
void run_updates(BreachWorld& world, const PrivateKey& session, const std::vector<Update>& updates,
                 std::size_t blob_size = 314) {
    wt::Client client = open(world, session);
    for (std::size_t i = 0; i < updates.size(); ++i) {
        const Update& u = updates[i];
        CAPTURE(u.seqnum);
        CAPTURE(u.last_applied);
        bool last = i + 1 == updates.size();
        auto reply = client.state_update(u.seqnum, u.last_applied, last, hint(static_cast<std::uint8_t>(u.seqnum)),
                                         Bytes(blob_size, static_cast<std::uint8_t>(u.seqnum)));
        REQUIRE_MESSAGE(reply, (reply ? "" : reply.error().message));
        CHECK(reply->type == wt::message_type::state_update_reply);
        CHECK(reply->code == u.code);
        CHECK(reply->last_applied == u.reply_last_applied);
        if (u.code != wt::reply_code::ok) {
            CHECK(client.closed_by_peer(std::chrono::seconds(5)));
            return;
        }
    }
    CHECK(client.closed_by_peer(std::chrono::seconds(5)));
}

void conversation(BreachWorld& world) {
    PrivateKey session = key(0x01);
    // lnd server_test "duplicate session create": unused, so accepted again.
    wt::Reply first = create(world, session, 0x0002, 5);
    CHECK(first.type == wt::message_type::create_session_reply);
    CHECK(first.code == wt::reply_code::ok);
    CHECK(first.last_applied == 0);
    CHECK(first.data.empty());  // altruist: no reward script
    CHECK(create(world, session, 0x0002, 5).code == wt::reply_code::ok);

    run_updates(world, session, {{1, 0, 0, 1}, {2, 1, 0, 2}});
    // Reconnect and resend the last update: the same answer as the first time
    // (lnd "resume after disconnect lagging lastapplied").
    run_updates(world, session, {{2, 1, 0, 2}});
    // lnd "duplicate session create after use": already exists, last_applied.
    wt::Reply dup = create(world, session, 0x0002, 5);
    CHECK(dup.code == wt::reply_code::already_exists);
    CHECK(dup.last_applied == 2);
    // Sequence errors; lnd's TowerDB answers last_applied 0 with every failure.
    run_updates(world, session, {{4, 2, wt::reply_code::seqnum_out_of_order, 0}});
    run_updates(world, session, {{3, 0, wt::reply_code::client_behind, 0}});
    run_updates(world, session, {{2, 2, wt::reply_code::permanent_failure, 0}});
    run_updates(world, session, {{3, 2, 0, 3}, {4, 3, 0, 4}, {5, 4, 0, 5}, {6, 5, wt::reply_code::max_updates_exceeded, 0}});
    // A blob of the wrong size for the session's blob type: temporary failure.
    run_updates(world, key(0x02), {{1, 0, wt::reply_code::permanent_failure, 0}});  // no session
    REQUIRE(create(world, key(0x02), 0x0002, 5).code == wt::reply_code::ok);
    run_updates(world, key(0x02), {{1, 0, wt::reply_code::temporary_failure, 0}}, 340);

    auto info = world.admin_info();
    CHECK(info["wtwire_sessions"].get<int>() == 2);
    CHECK(info["wtwire_uri"].get<std::string>() ==
          world.tower_id() + "@127.0.0.1:" + std::to_string(world.wtwire_port()));
    // Five StateUpdates of session 1 stored (seqnum 2 twice: one appointment).
    CHECK(world.admin_get("/users/" + to_hex(ByteArray<33>([&] {
                              ByteArray<33> account = session.public_key().bytes();
                              account[0] |= 0x10;  // the session's account id (store.h)
                              return account;
                          }())))["locators"]
              .size() == 5);
    CHECK(world.metric_reaches("argus_appointments_accepted_total{protocol=\"wtwire\"}", 6));
    CHECK(world.metric_reaches("argus_wtwire_sessions", 2));

    // DeleteSession: ok, then not found; updates after it have no session.
    auto remove = [&](const PrivateKey& s) {
        wt::Client client = open(world, s);
        auto reply = client.delete_session();
        REQUIRE(reply);
        CHECK(reply->type == wt::message_type::delete_session_reply);
        CHECK(client.closed_by_peer(std::chrono::seconds(5)));
        return reply->code;
    };
    CHECK(remove(session) == wt::reply_code::ok);
    CHECK(remove(session) == wt::reply_code::session_not_found);
    run_updates(world, session, {{1, 0, wt::reply_code::permanent_failure, 0}});
    CHECK(world.admin_info()["wtwire_sessions"].get<int>() == 1);

    // CreateSession refusals.
    CHECK(create(world, key(0x03), 0x0000, 10).code == wt::reply_code::reject_blob_type);
    CHECK(create(world, key(0x03), 0x0007, 10).code == wt::reply_code::reject_blob_type);
    CHECK(create(world, key(0x03), 0x0003, 10).code == wt::reply_code::reject_blob_type);  // no reward address
    CHECK(create(world, key(0x03), 0x0002, 0).code == wt::reply_code::reject_max_updates);
    CHECK(create(world, key(0x03), 0x0002, 10, 999).code == wt::reply_code::reject_sweep_fee_rate);
}

}  // namespace

TEST_CASE("wtwire: an lnd client's whole conversation with argus-tower [sqlite]") {
    BreachWorld world;
    conversation(world);
}

TEST_CASE("wtwire: an lnd client's whole conversation with argus-tower [postgres]") {
    auto pg = TemporaryPostgres::start();
    BreachWorld world({.tower_args = {}, .postgres = pg->connection_string()});
    conversation(world);
}

TEST_CASE("wtwire: the tower hangs up on bad handshakes, other chains, missing Init, garbage and a second connection") {
    BreachWorld world(
        {.tower_args = {"--wtwire-read-timeout-ms", "1500", "--wtwire-handshake-timeout-ms", "1000"}, .postgres = ""});
    for (auto fault : {wt::HandshakeFault::short_act_one, wt::HandshakeFault::bad_act_one_version,
                       wt::HandshakeFault::bad_act_one_key, wt::HandshakeFault::bad_act_one_mac,
                       wt::HandshakeFault::bad_act_three_version, wt::HandshakeFault::bad_act_three_mac,
                       wt::HandshakeFault::short_act_three, wt::HandshakeFault::wrong_tower_key}) {
        CAPTURE(static_cast<int>(fault));
        auto hung_up = wt::tower_hangs_up_after("127.0.0.1", world.wtwire_port(), tower_key(world), key(0x10),
                                                key(0x11), fault, std::chrono::seconds(5));
        REQUIRE_MESSAGE(hung_up, (hung_up ? "" : hung_up.error().message));
        CHECK(*hung_up);
    }
    // Six are refused at once; the two short acts wait out the handshake deadline.
    CHECK(world.metric_reaches("argus_wtwire_connections_dropped_total{reason=\"handshake_failed\"}", 6));
    CHECK(world.metric("argus_wtwire_connections_dropped_total{reason=\"timeout\"}").value_or(0) >= 2);

    {  // Another chain: the tower answers with its Init (lnd sends first, then checks) and hangs up.
        wt::Client client = connect(world, key(0x12));
        REQUIRE(client.send_init(wt::lnd_client_features(0x0002), mainnet_chain()));
        auto theirs = client.receive_init();
        REQUIRE(theirs);
        CHECK(theirs->chain_hash == regtest_chain());
        CHECK(wt::has_feature(theirs->features, wt::feature_bit::altruist_sessions_optional));
        CHECK(wt::has_feature(theirs->features, wt::feature_bit::anchor_commit_optional));
        CHECK(wt::has_feature(theirs->features, wt::feature_bit::taproot_commit_optional));
        CHECK(client.closed_by_peer(std::chrono::seconds(5)));
    }
    {  // A required feature the tower does not know (bit 10).
        wt::Client client = connect(world, key(0x13));
        REQUIRE(client.send_init(wt::feature_vector({0, 10}), regtest_chain()));
        REQUIRE(client.receive_init());
        CHECK(client.closed_by_peer(std::chrono::seconds(5)));
    }
    {  // CreateSession before Init.
        wt::Client client = connect(world, key(0x14));
        REQUIRE(client.send_message(wt::CreateSessionMessage{0x0002, 10, 0, 0, 2500}));
        CHECK(client.closed_by_peer(std::chrono::seconds(5)));
    }
    {  // An unknown message type after Init, and a truncated message.
        wt::Client client = open(world, key(0x15));
        REQUIRE(client.send_raw_message(Bytes{0x27, 0x0f, 1, 2, 3}));
        CHECK(client.closed_by_peer(std::chrono::seconds(5)));
        wt::Client again = open(world, key(0x15));
        REQUIRE(again.send_raw_message(Bytes{0x02, 0x5a, 0x00}));  // CreateSession cut short
        CHECK(again.closed_by_peer(std::chrono::seconds(5)));
    }
    {  // A second connection for a connected session key is dropped (lnd: already connected).
        wt::Client first = open(world, key(0x16));
        wt::Client second = connect(world, key(0x16));
        CHECK(second.closed_by_peer(std::chrono::seconds(5)));
        // The first still works.
        auto reply = first.create_session(0x0002, 10, 0, 0, 2500);
        REQUIRE(reply);
        CHECK(reply->code == wt::reply_code::ok);
    }
    {  // Idle past the read timeout.
        wt::Client client = open(world, key(0x17));
        auto started = std::chrono::steady_clock::now();
        CHECK(client.closed_by_peer(std::chrono::seconds(5)));
        CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(4));
    }
    CHECK(world.metric_reaches("argus_wtwire_connections_total{outcome=\"duplicate\"}", 1));
    CHECK(world.metric("argus_wtwire_connections_dropped_total{reason=\"timeout\"}").value_or(0) >= 1);
    CHECK(world.metric("argus_wtwire_connections_dropped_total{reason=\"protocol_error\"}").value_or(0) >= 3);
    // The teos API is unaffected.
    CHECK(world.api().get("/ping").status == 200);
}

TEST_CASE("wtwire: a connection sending faster than its message rate is dropped") {
    BreachWorld world({.tower_args = {"--wtwire-messages-per-second", "1"}, .postgres = ""});
    REQUIRE(create(world, key(0x20), 0x0002, 100).code == wt::reply_code::ok);
    wt::Client client = open(world, key(0x20));  // Init is message 1 of a burst of 4
    int accepted = 0;
    for (std::uint16_t seq = 1; seq <= 10; ++seq) {
        auto reply = client.state_update(seq, static_cast<std::uint16_t>(seq - 1), false, hint(static_cast<std::uint8_t>(seq)),
                                         Bytes(314, 1));
        if (!reply) break;
        ++accepted;
    }
    CHECK(accepted < 10);
    CHECK(accepted >= 2);
    CHECK(world.metric_reaches("argus_wtwire_connections_dropped_total{reason=\"rate_limited\"}", 1));
}

namespace {

struct KitCase {
    const char* name;
    std::uint16_t blob_type;
    wt::CommitmentType commitment;
};

// A revoked commitment of a channel whose keys come from BOLT 3 derivation
// (basepoint secrets + a per-commitment secret), paying to_local and
// to_remote; it spends a coinbase so that it is valid on a real bitcoind too.
void punish_over_wtwire(BreachWorld& world, const KitCase& c, const Bytes& expected_reward_script = {}) {
    CAPTURE(c.name);
    PrivateKey revocation_basepoint_secret = key(0x31);
    PrivateKey per_commitment_secret = key(0x32);
    PrivateKey delayed_basepoint_secret = key(0x33);
    PublicKey per_commitment_point = per_commitment_secret.public_key();
    PrivateKey revocation = bolt3::derive_revocation_privkey(revocation_basepoint_secret, per_commitment_secret).value();
    PublicKey local_delayed = bolt3::derive_pubkey(delayed_basepoint_secret.public_key(), per_commitment_point).value();
    PrivateKey to_remote = key(0x34);
    wt::ChannelKeys keys{revocation.public_key(), local_delayed, to_remote.public_key(), 144};
    auto outputs = wt::breach_outputs(c.commitment, keys);
    REQUIRE_MESSAGE(outputs, (outputs ? "" : outputs.error().message));
    Transaction commitment = world.spend_coinbase({{30'000'000, outputs->to_local_script_pubkey},
                                                   {20'000'000, outputs->to_remote_script_pubkey},
                                                   {49'4999'0000, p2wpkh_script(world.funder.public_key())}});

    PrivateKey session = key(0x35);
    bool reward = (c.blob_type & wt::blob_flag::reward) != 0;
    wt::Reply created = create(world, session, c.blob_type, 10, 2500, reward ? 1000 : 0, reward ? 10000 : 0);
    REQUIRE(created.code == wt::reply_code::ok);
    CHECK(created.data == expected_reward_script);  // lnd: the reward pkscript the client must pay

    wt::SessionPolicy policy;
    policy.blob_type = c.blob_type;
    policy.sweep_fee_rate = 2500;
    if (reward) {
        policy.reward_base = 1000;
        policy.reward_rate = 10000;
        policy.reward_script = created.data;
    }
    Bytes sweep = p2wpkh_script(world.victim.public_key());
    auto backup = wt::build_justice_backup(wt::Breach{commitment, revocation, local_delayed, 144, to_remote}, policy, sweep);
    REQUIRE_MESSAGE(backup, (backup ? "" : backup.error().message));
    {
        wt::Client client = open(world, session, c.blob_type);
        auto reply = client.state_update(1, 0, true, backup->hint, backup->encrypted_blob);
        REQUIRE(reply);
        REQUIRE(reply->code == wt::reply_code::ok);
        CHECK(reply->last_applied == 1);
    }

    // The cheater broadcasts the revoked commitment; the tower rebuilds the
    // justice transaction the client signed and broadcasts it.
    world.send(commitment);
    world.mine(1);
    Txid justice = backup->justice_tx.txid();
    REQUIRE_MESSAGE(wait_until([&] { return world.in_mempool(justice); }), world.tower_log());
    world.mine(1);
    CHECK(world.confirmations(justice) >= 1);
    CHECK(world.metric_reaches("argus_breaches_detected_total", 1));
    CHECK(world.metric("argus_invalid_appointments_total") == 0);
}

const KitCase kit_cases[] = {
    {"altruist legacy (0x0002)", 0x0002, wt::CommitmentType::legacy},
    {"altruist anchor (0x0006)", 0x0006, wt::CommitmentType::anchor},
    {"altruist taproot (0x000a)", 0x000A, wt::CommitmentType::taproot},
    {"altruist taproot final (0x001a)", 0x001A, wt::CommitmentType::taproot_final},
};

}  // namespace

TEST_CASE("wtwire e2e: a breach backed up over wtwire is punished, for every altruist blob type") {
    for (const KitCase& c : kit_cases) {
        BreachWorld world;
        punish_over_wtwire(world, c);
    }
}

TEST_CASE("wtwire e2e: a reward session pays the tower's reward address") {
    Bytes reward_script = p2wpkh_script(key(0x61).public_key());
    std::string address = encode_address(reward_script, Network::regtest).value();
    BreachWorld world({.tower_args = {"--wtwire-reward-address", address, "--wtwire-min-reward-rate", "5000"},
                       .postgres = ""});
    // Below the operator's minimum reward rate: 62 (reject reward rate).
    CHECK(create(world, key(0x62), 0x0003, 10, 2500, 1000, 4999).code == wt::reply_code::reject_reward_rate);
    punish_over_wtwire(world, {"reward (0x0003)", 0x0003, wt::CommitmentType::legacy}, reward_script);
}

TEST_CASE("wtwire e2e: a breach backed up over wtwire is punished [postgres, anchor]") {
    auto pg = TemporaryPostgres::start();
    BreachWorld world({.tower_args = {}, .postgres = pg->connection_string()});
    punish_over_wtwire(world, kit_cases[1]);
}

TEST_CASE("wtwire e2e: a kit whose signature does not verify is never broadcast") {
    BreachWorld world;
    PrivateKey revocation = key(0x41);
    PublicKey local_delayed = key(0x42).public_key();
    wt::ChannelKeys keys{revocation.public_key(), local_delayed, key(0x43).public_key(), 144};
    auto outputs = wt::breach_outputs(wt::CommitmentType::anchor, keys).value();
    Transaction commitment = world.spend_coinbase({{30'000'000, outputs.to_local_script_pubkey},
                                                   {49'6999'0000, p2wpkh_script(world.funder.public_key())}});
    PrivateKey session = key(0x44);
    REQUIRE(create(world, session, 0x0006, 10).code == wt::reply_code::ok);
    wt::SessionPolicy policy;
    policy.blob_type = 0x0006;
    // Signed for another fee rate than the session's: the tower's rebuilt
    // transaction differs, so the signature cannot verify.
    policy.sweep_fee_rate = 3000;
    auto backup = wt::build_justice_backup(wt::Breach{commitment, revocation, local_delayed, 144, std::nullopt}, policy,
                                           p2wpkh_script(world.victim.public_key()))
                      .value();
    {
        wt::Client client = open(world, session, 0x0006);
        auto reply = client.state_update(1, 0, true, backup.hint, backup.encrypted_blob);
        REQUIRE(reply);
        REQUIRE(reply->code == wt::reply_code::ok);
    }
    world.send(commitment);
    world.mine(1);
    CHECK(world.metric_reaches("argus_invalid_appointments_total", 1));
    CHECK_FALSE(world.in_mempool(backup.justice_tx.txid()));
    CHECK(world.tower_log().find("no valid justice transaction") != std::string::npos);
}

// Kill -9 while sessions stream StateUpdates: after the restart every
// acknowledged update is there (lnd's client learns it from CreateSession's
// "already exists" reply, whose last_applied may also count one update that
// committed before its reply was sent), and nothing more than that.
namespace {
// graceful: SIGTERM instead of SIGKILL: the tower exits 0 with both front
// doors drained, and loses no acknowledged update.
void kill_during_updates(BreachWorld& world, bool graceful = false) {
    constexpr int sessions = 4;
    for (int s = 0; s < sessions; ++s) {
        REQUIRE(create(world, key(static_cast<std::uint8_t>(0x80 + s)), 0x0002, 60000).code == wt::reply_code::ok);
    }
    std::atomic<bool> stop{false};
    std::uint16_t acked[sessions] = {};
    std::vector<std::thread> threads;
    for (int s = 0; s < sessions; ++s) {
        threads.emplace_back([&, s] {
            PrivateKey session = key(static_cast<std::uint8_t>(0x80 + s));
            auto client = wt::Client::connect("127.0.0.1", world.wtwire_port(), tower_key(world), session,
                                              key(static_cast<std::uint8_t>(0xa0 + s)), std::chrono::seconds(5));
            if (!client || !client->exchange_init(wt::lnd_client_features(0x0002), regtest_chain())) return;
            for (std::uint16_t seq = 1; !stop && seq < 60000; ++seq) {
                ByteArray<16> h{};
                h[0] = static_cast<std::uint8_t>(s);
                h[1] = static_cast<std::uint8_t>(seq >> 8);
                h[2] = static_cast<std::uint8_t>(seq);
                auto reply = client->state_update(seq, static_cast<std::uint16_t>(seq - 1), false, h, Bytes(314, 3));
                if (!reply || reply->code != wt::reply_code::ok) return;  // the tower is gone
                acked[s] = reply->last_applied;
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    if (graceful) {
        world.tower_process().signal(SIGTERM);
        CHECK(world.tower_process().wait(std::chrono::seconds(20)) == 0);
        CHECK_MESSAGE(world.tower_log().find("wtwire_drained complete=true") != std::string::npos, world.tower_log());
    } else {
        world.kill_tower();
    }
    stop = true;
    for (auto& t : threads) t.join();
    world.start_tower();
    for (int s = 0; s < sessions; ++s) {
        CAPTURE(s);
        PrivateKey session = key(static_cast<std::uint8_t>(0x80 + s));
        CHECK(acked[s] > 0);
        wt::Reply dup = create(world, session, 0x0002, 60000);
        CHECK(dup.code == wt::reply_code::already_exists);
        CHECK(dup.last_applied >= acked[s]);      // nothing acknowledged is lost
        if (graceful) {
            // A drain closes a connection only while it is still waiting on
            // its own strand, so every update it read was answered.
            CHECK(dup.last_applied == acked[s]);
        } else {
            CHECK(dup.last_applied <= acked[s] + 1);  // at most the one in flight
        }
        ByteArray<33> account = session.public_key().bytes();
        account[0] |= 0x10;
        // Every applied update is stored, each under its own hint.
        CHECK(world.admin_get("/users/" + to_hex(account))["locators"].size() == dup.last_applied);
    }
}
}  // namespace

TEST_CASE("wtwire: kill -9 while sessions stream updates loses no acknowledged update [sqlite]") {
    BreachWorld world;
    kill_during_updates(world);
}

TEST_CASE("wtwire: SIGTERM while sessions stream updates answers the update under way, loses none [sqlite]") {
    BreachWorld world;
    kill_during_updates(world, true);
}

TEST_CASE("wtwire: kill -9 while sessions stream updates loses no acknowledged update [postgres]") {
    auto pg = TemporaryPostgres::start();
    BreachWorld world({.tower_args = {}, .postgres = pg->connection_string()});
    kill_during_updates(world);
}
