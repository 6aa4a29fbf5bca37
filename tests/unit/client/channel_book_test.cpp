// The channel book (channel-material mode) and the client's files: what is
// kept on disk, and who may read it.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/node/channel_material.h"
#include "common/bech32.h"
#include "common/hex.h"
#include "common/script.h"
#include "common/teos_protocol.h"
#include "common/watchtower_crypto.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/simulated_context.h"

using namespace argus;
using namespace argus::client;
using namespace argus::test;
using json = nlohmann::json;

namespace {

struct Parties {
    ChannelSecrets alice = ChannelSecrets::from_seed(seed(0xa1));
    ChannelSecrets bob = ChannelSecrets::from_seed(seed(0xb0));
    static Hash256 seed(std::uint8_t fill) {
        Hash256 s;
        s.fill(fill);
        return s;
    }
};

Txid funding_txid() {
    Txid t;
    t.bytes[0] = 7;
    return t;
}

std::string hex_point(const PrivateKey& k) { return to_hex(k.public_key().bytes()); }

// POST /channels as a wallet sends it: one secret, public basepoints.
json channel_material(const Parties& p, const std::string& id = "chan-1") {
    return {{"channel_id", id},
            {"funding_txid", funding_txid().to_display_hex()},
            {"funding_output_index", 0},
            {"funding_satoshis", 1'000'000},
            {"local_is_opener", true},
            {"anchors", true},
            {"sweep_address", encode_address(p2wpkh_script(p.alice.payment_basepoint.public_key()), Network::regtest).value()},
            {"local_secrets", {{"revocation_basepoint", to_hex(p.alice.revocation_basepoint.bytes())}}},
            {"local_basepoints",
             {{"funding", hex_point(p.alice.funding)},
              {"payment", hex_point(p.alice.payment_basepoint)},
              {"htlc", hex_point(p.alice.htlc_basepoint)}}},
            {"remote_basepoints",
             {{"funding", hex_point(p.bob.funding)},
              {"revocation", hex_point(p.bob.revocation_basepoint)},
              {"payment", hex_point(p.bob.payment_basepoint)},
              {"delayed_payment", hex_point(p.bob.delayed_payment_basepoint)},
              {"htlc", hex_point(p.bob.htlc_basepoint)}}}};
}

// The secrets the client must never keep, by the name a wallet would send them under.
std::vector<std::pair<std::string, const PrivateKey*>> unneeded_secrets(const Parties& p) {
    return {{"funding", &p.alice.funding},
            {"payment_basepoint", &p.alice.payment_basepoint},
            {"delayed_payment_basepoint", &p.alice.delayed_payment_basepoint},
            {"htlc_basepoint", &p.alice.htlc_basepoint}};
}

ChannelState alice_state(std::uint64_t n) {
    return {n, 600'000'000 - n * 1'000, 390'000'000 + n * 1'000, 1000,
            {{bolt3::HtlcDirection::offered, 10'000'000, 800, Hash256{}}}};
}

json revocation_request(const Parties& p, std::uint64_t n) {
    ChannelState s = alice_state(n);
    return {{"commitment_number", n},
            {"per_commitment_secret", to_hex(p.bob.per_commitment_secret(n))},
            {"state",
             {{"local_msat", s.local_msat},
              {"remote_msat", s.remote_msat},
              {"feerate_per_kw", s.feerate_per_kw},
              {"htlcs", json::array({{{"direction", "offered"}, {"amount_msat", 10'000'000}, {"cltv_expiry", 800},
                                      {"payment_hash", std::string(64, '0')}}})}}}};
}

// Every byte SQLite keeps for the database at `path`: the file, its WAL and shared memory.
std::string database_bytes(const std::string& path) {
    std::string all;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::ifstream in(path + suffix, std::ios::binary);
        std::stringstream buffer;
        buffer << in.rdbuf();
        all += buffer.str();
    }
    return all;
}

bool holds(const std::string& bytes, const PrivateKey& key) {
    std::string lower = to_hex(key.bytes());
    std::string upper = lower;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string raw(key.bytes().begin(), key.bytes().end());
    return bytes.find(lower) != std::string::npos || bytes.find(upper) != std::string::npos ||
           bytes.find(raw) != std::string::npos;
}

unsigned mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE_MESSAGE(::stat(path.c_str(), &st) == 0, path);
    return st.st_mode & 07777;
}

struct Client {
    SimulatedClock clock;
    SeededRng rng{1};
    TemporaryDirectory dir;
    std::unique_ptr<ClientNode> node;
    Client() { node = std::move(ClientNode::open(dir.path() + "/client", Context{clock, rng}).value()); }
    std::string path(const std::string& name) const { return dir.path() + "/client/" + name; }
};

}  // namespace

TEST_CASE("channel book: refuses every local secret but the revocation basepoint's, naming the field") {
    Client client;
    Parties p;
    ChannelBook book(*client.node);
    auto opened = book.open(client.path("channels.sqlite"));
    INFO((opened ? std::string("ok") : opened.error().message));
    REQUIRE(opened);
    for (const auto& secret : unneeded_secrets(p)) {
        const auto& [name, key] = secret;
        CAPTURE(secret.first);
        json material = channel_material(p);
        material["local_secrets"][name] = to_hex(key->bytes());
        auto refused = book.add_channel(material);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == ErrorCode::invalid_argument);
        CHECK(refused.error().message.find("`local_secrets." + name + "`") != std::string::npos);
        CHECK(refused.error().message.find("not needed") != std::string::npos);
    }
    // Unknown secrets too: the client keeps nothing it was not asked to.
    json material = channel_material(p);
    material["local_secrets"]["shachain_seed"] = to_hex(Parties::seed(0x33));
    CHECK(book.add_channel(material).error().message.find("`local_secrets.shachain_seed`") != std::string::npos);
    CHECK(book.list().empty());
    std::string bytes = database_bytes(client.path("channels.sqlite"));
    for (const auto& [name, key] : unneeded_secrets(p)) CHECK_FALSE(holds(bytes, *key));
    // The reduced material is accepted.
    CHECK(book.add_channel(channel_material(p)));
    CHECK(book.list().size() == 1);
}

TEST_CASE("channel book: channels.sqlite holds no funding, payment, delayed or HTLC secret") {
    Client client;
    Parties p;
    {
        ChannelBook book(*client.node);
        REQUIRE(book.open(client.path("channels.sqlite")));
        REQUIRE(book.add_channel(channel_material(p)));
        for (std::uint64_t n = 0; n < 3; ++n) REQUIRE(book.revoke("chan-1", revocation_request(p, n)));
    }
    ChannelBook reloaded(*client.node);
    REQUIRE(reloaded.open(client.path("channels.sqlite")));
    REQUIRE(reloaded.revoke("chan-1", revocation_request(p, 3)));  // the shachain survived the reload
    std::string bytes = database_bytes(client.path("channels.sqlite"));
    // The search works: the one secret the client needs is there.
    CHECK(holds(bytes, p.alice.revocation_basepoint));
    for (const auto& secret : unneeded_secrets(p)) {
        const auto& [name, key] = secret;
        CAPTURE(secret.first);
        CHECK_FALSE(holds(bytes, *key));
    }
    // The queue database never sees channel secrets either.
    std::string queue_bytes = database_bytes(client.path("backups.sqlite"));
    CHECK_FALSE(holds(queue_bytes, p.alice.revocation_basepoint));
    for (const auto& [name, key] : unneeded_secrets(p)) CHECK_FALSE(holds(queue_bytes, *key));
}

TEST_CASE("channel book: justice from the stored reduced material matches the full-secret engine's") {
    Client client;
    Parties p;
    Bytes sweep = p2wpkh_script(p.alice.payment_basepoint.public_key());
    ChannelConfig config;
    config.funding_outpoint = {funding_txid(), 0};
    config.funding_satoshis = 1'000'000;
    config.local_is_opener = true;
    config.anchors = true;
    Channel full(config, p.alice, ChannelBasepoints::of(p.bob));  // every one of Alice's secrets
    PublicKey tower = PrivateKey::from_bytes(Bytes(32, 0x44)).value().public_key();
    REQUIRE(client.node->add_tower(to_hex(tower.bytes()) + "@127.0.0.1:1"));
    {
        ChannelBook book(*client.node);
        REQUIRE(book.open(client.path("channels.sqlite")));
        REQUIRE(book.add_channel(channel_material(p)));
        REQUIRE(book.revoke("chan-1", revocation_request(p, 0)));
    }
    ChannelBook book(*client.node);  // rebuilt from what was stored
    REQUIRE(book.open(client.path("channels.sqlite")));
    for (std::uint64_t n = 0; n < 3; ++n) {
        if (n > 0) REQUIRE(book.revoke("chan-1", revocation_request(p, n)));
        REQUIRE(full.receive_revocation(n, p.bob.per_commitment_secret(n), p.bob.per_commitment_point(n)));
        auto expected = full.justice_transaction(alice_state(n), sweep, 2500);  // the book's default feerate
        REQUIRE(expected);
        Txid commitment = full.remote_commitment(alice_state(n), p.bob.per_commitment_point(n)).tx.txid();
        auto due = client.node->queue().due(tower, client.clock.system_ms() + 1, 10).value();
        bool found = false;
        for (const auto& d : due) {
            if (d.backup.commitment_txid != commitment) continue;
            found = true;
            auto plain = teos::decrypt_penalty(d.backup.encrypted_blob, commitment);
            REQUIRE(plain);
            CHECK(to_hex(*plain) == to_hex(expected->serialize()));
        }
        CHECK(found);
    }
}

TEST_CASE("channel book: migration 1 strips the secrets a version-0 book stored") {
    Client client;
    Parties p;
    std::string path = client.path("channels.sqlite");
    {
        // A version-0 book: material as posted, all five local secrets, one revocation.
        json legacy = channel_material(p);
        legacy.erase("local_basepoints");
        legacy["local_secrets"] = {{"funding", to_hex(p.alice.funding.bytes())},
                                   {"revocation_basepoint", to_hex(p.alice.revocation_basepoint.bytes())},
                                   {"payment_basepoint", to_hex(p.alice.payment_basepoint.bytes())},
                                   {"delayed_payment_basepoint", to_hex(p.alice.delayed_payment_basepoint.bytes())},
                                   {"htlc_basepoint", to_hex(p.alice.htlc_basepoint.bytes())}};
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db,
                             "PRAGMA journal_mode=WAL;"
                             "CREATE TABLE channels (channel_id TEXT PRIMARY KEY, material TEXT NOT NULL);"
                             "CREATE TABLE revocations (channel_id TEXT NOT NULL, commitment_number INTEGER NOT NULL, "
                             "secret BLOB NOT NULL, PRIMARY KEY (channel_id, commitment_number));",
                             nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_stmt* s = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO channels VALUES ('chan-1', ?)", -1, &s, nullptr) == SQLITE_OK);
        std::string text = legacy.dump();
        sqlite3_bind_text(s, 1, text.c_str(), -1, SQLITE_TRANSIENT);
        REQUIRE(sqlite3_step(s) == SQLITE_DONE);
        sqlite3_finalize(s);
        REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO revocations VALUES ('chan-1', 0, ?)", -1, &s, nullptr) == SQLITE_OK);
        Hash256 secret0 = p.bob.per_commitment_secret(0);
        sqlite3_bind_blob(s, 1, secret0.data(), 32, SQLITE_TRANSIENT);
        REQUIRE(sqlite3_step(s) == SQLITE_DONE);
        sqlite3_finalize(s);
        sqlite3_close(db);
        REQUIRE(holds(database_bytes(path), p.alice.funding));  // the fixture really holds them
    }
    ChannelBook book(*client.node);
    REQUIRE(book.open(path));
    CHECK(book.list().size() == 1);
    CHECK(book.revoke("chan-1", revocation_request(p, 1)));  // secret 0 was replayed: #1 must derive it
    std::string bytes = database_bytes(path);
    CHECK(holds(bytes, p.alice.revocation_basepoint));
    for (const auto& secret : unneeded_secrets(p)) {
        const auto& [name, key] = secret;
        CAPTURE(secret.first);
        CHECK_FALSE(holds(bytes, *key));
    }
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    CHECK(sqlite3_column_int(s, 0) == channel_book_schema_version);
    sqlite3_finalize(s);
    sqlite3_close(db);
    CHECK(mode_of(path) == 0600);  // tightened on open
}

TEST_CASE("client files: the key and every SQLite file are 0600, the data dir 0700, whatever the umask") {
    mode_t previous = ::umask(0);  // the loosest: files would come out 0666
    {
        Client client;
        Parties p;
        ChannelBook book(*client.node);
        REQUIRE(book.open(client.path("channels.sqlite")));
        REQUIRE(book.add_channel(channel_material(p)));
        REQUIRE(book.revoke("chan-1", revocation_request(p, 0)));  // writes both databases: WAL and shm exist
        CHECK(mode_of(client.dir.path() + "/client") == 0700);
        for (const char* name : {"client_key", "backups.sqlite", "backups.sqlite-wal", "backups.sqlite-shm",
                                 "channels.sqlite", "channels.sqlite-wal", "channels.sqlite-shm"}) {
            CAPTURE(name);
            CHECK(mode_of(client.path(name)) == 0600);
        }
    }
    {
        // Files an older build left world-readable are tightened when opened.
        SimulatedClock clock;
        SeededRng rng(2);
        TemporaryDirectory dir;
        std::string book_path = dir.path() + "/channels.sqlite";
        std::ofstream(book_path).flush();
        std::ofstream(book_path + "-wal").flush();
        REQUIRE(::chmod(book_path.c_str(), 0644) == 0);
        REQUIRE(::chmod((book_path + "-wal").c_str(), 0644) == 0);
        auto node = ClientNode::open(dir.path() + "/client", Context{clock, rng}).value();
        ChannelBook book(*node);
        REQUIRE(book.open(book_path));
        CHECK(mode_of(book_path) == 0600);
        CHECK(mode_of(book_path + "-wal") == 0600);
    }
    ::umask(previous);
}

TEST_CASE("client node: its key comes from the injected RNG, and no randomness is a clear error") {
    SimulatedClock clock;
    TemporaryDirectory dir;
    SeededRng first(42), second(42), empty(42);
    auto a = ClientNode::open(dir.path() + "/a", Context{clock, first}).value();
    auto b = ClientNode::open(dir.path() + "/b", Context{clock, second}).value();
    CHECK(a->user_id() == b->user_id());  // same seed, same key
    SeededRng other(43);
    auto c = ClientNode::open(dir.path() + "/c", Context{clock, other}).value();
    CHECK_FALSE(c->user_id() == a->user_id());
    empty.exhausted = true;
    auto none = ClientNode::open(dir.path() + "/d", Context{clock, empty});
    REQUIRE_FALSE(none);
    CHECK(none.error().code == ErrorCode::unavailable);
    CHECK_FALSE(std::filesystem::exists(dir.path() + "/d/client_key"));
    // Reopening loads the key instead of drawing a new one.
    a.reset();
    SeededRng unused(7);
    auto reopened = ClientNode::open(dir.path() + "/a", Context{clock, unused}).value();
    CHECK(reopened->user_id() == b->user_id());
}
