// Writes the schema-1 fixture databases with the store code of the release that
// shipped schema 1 (commit 697186e). Not part of the build: make_schema1.sh
// compiles it against that commit's argus_store. The rows are listed in
// README.md and checked, as literals, by
// tests/unit/server/store_schema1_upgrade_test.cpp.
//
//   make_schema1 sqlite <path>
//   make_schema1 postgres <libpq connection string>
#include <cstdio>
#include <cstring>
#include <string>

#include "server/store/store.h"

using namespace argus;
using namespace argus::store;

namespace {

Bytes from_hex(const std::string& hex) {
    Bytes out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
}

template <std::size_t N>
ByteArray<N> array(const std::string& hex) {
    Bytes b = from_hex(hex);
    ByteArray<N> out{};
    std::memcpy(out.data(), b.data(), N);
    return out;
}

// blob byte i = (seed + i) mod 256
Bytes pattern(std::size_t size, std::uint8_t seed) {
    Bytes out(size);
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(seed + i);
    return out;
}

AppointmentRecord appointment(const std::string& user, const std::string& locator, std::uint32_t to_self_delay,
                              std::uint32_t start_block, Bytes blob) {
    AppointmentRecord a;
    a.user_id = array<33>(user);
    a.locator = array<16>(locator);
    a.to_self_delay = to_self_delay;
    a.start_block = start_block;
    a.blob = std::move(blob);
    return a;
}

// The secp256k1 generator multiples G, 2G, 3G: real compressed public keys.
const std::string user_a = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
const std::string user_b = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";
const std::string user_c = "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9";

// rust-teos teos-common/src/cryptography.rs ENC_BLOB (an encrypted penalty for
// the locator b4a11e76c7115e2cd79526f3543e6bec).
const std::string teos_blob =
    "f64d730654738fdbcd9e65068be17bc1abb44e74f8977985cce48e77209cf97292c862e4eb7190aedc6c53ceddda6871a3988d1d9608e2d0"
    "dd7a1f59769e410618a7029001479ac3b9d699b11a08b0ccb04e56bfee88461d9cd3207623a4a543996dd3805323c93cd62069636305aaf1"
    "59e9cca1063ad1f097c16fb3c2ebbcf09be96512c5d7c195c684569cbe8b7979870b04cada9806b7610569c66021afcc63f46dd4af757169"
    "50c4de094334cdf7d9e532820afe29d2621dd79920c7e0ecc10853517dd84ca9d699f712c229e86954c227cba1d0fc87c8d48ac05e2de8a6"
    "bc980afdfafcd7064e411c8d76065c06cc7f233e869eaff5bd8ccb5d8f0090d91a8f017355cc115863356ecf06cdda9b309096ea766d033d"
    "bd4f70a789a5b03138cfc7e2900a79bb465abf07a7ac45c41b4b30c008d4b299aad9d001cf45acd07e47cdd63c3b13d4b0788b041735225b"
    "5db1a43a2142311f695478168e31deb260702976fd70d0724ded84a7c3f89b";

int fill(Store& store) {
    WriteBatch batch;
    batch.users = {
        {array<33>(user_a), 9'996, 799'900, 804'220},  // 4 slots used
        {array<33>(user_b), 19'999, 799'910, 808'550},  // registered twice, 1 slot used
        {array<33>(user_c), 0, 799'000, 803'320},       // every slot used
    };
    batch.appointments = {
        appointment(user_a, "b4a11e76c7115e2cd79526f3543e6bec", 144, 799'901, from_hex(teos_blob)),
        appointment(user_a, "00000000000000000000000000000001", 2016, 799'902, pattern(1, 0x10)),
        appointment(user_a, "ffffffffffffffffffffffffffffffff", 4294967295u, 799'903, pattern(2049, 0x20)),
        // The same locator for two users: two rows.
        appointment(user_b, "b4a11e76c7115e2cd79526f3543e6bec", 6, 799'911, pattern(2048, 0x30)),
        appointment(user_c, "0123456789abcdef0123456789abcdef", 0, 799'500, pattern(300, 0x40)),
    };
    // Reserved kinds: schema 1 stores them though only teos produced rows then.
    batch.appointments[4].trigger = TriggerKind::txid_hint;
    batch.appointments[4].payload = PayloadKind::encrypted_justice_kit;
    if (auto ok = store.write(batch); !ok) {
        std::fprintf(stderr, "write: %s\n", ok.error().message.c_str());
        return 1;
    }
    ChainPosition position;
    position.height = 800'000;  // mainnet block 800000
    position.block_hash = array<32>("54a02827d7a8b75601275a160279a3c5768de4c1c4a702000000000000000000");
    if (auto ok = store.set_chain_position(position); !ok) {
        std::fprintf(stderr, "chain position: %s\n", ok.error().message.c_str());
        return 1;
    }
    std::printf("schema version %d\n", store.schema_version().value());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: make_schema1 sqlite|postgres <path or connection string>\n");
        return 2;
    }
    std::string backend = argv[1];
    auto store = backend == "sqlite" ? open_sqlite_store(argv[2]) : open_postgres_store(argv[2]);
    if (!store) {
        std::fprintf(stderr, "open: %s\n", store.error().message.c_str());
        return 1;
    }
    return fill(**store);
}
