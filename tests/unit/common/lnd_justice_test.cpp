// lnd watchtower justice kits and justice transactions (common/lnd_justice.h).
// Expected values come from lnd's sources and tests (tests/vectors/lnd_justice.json
// names each file), from lnd's byte layouts written out here, and from justice
// transactions this file assembles and signs field by field.
#include <doctest/doctest.h>

#include "common/bech32.h"
#include "common/bolt3_scripts.h"
#include "common/hash.h"
#include "common/hex.h"
#include "common/lnd_justice.h"
#include "common/script.h"
#include "common/sighash.h"
#include "common/watchtower_crypto.h"
#include "tests/support/vectors.h"

using namespace argus;
using test::hex_array;
using test::hex_bytes;

namespace {

nlohmann::json vectors() {
    return test::load_vectors("lnd_justice.json");
}

PrivateKey secret(const std::string& hex) {
    return PrivateKey::from_bytes(hex_bytes(hex)).value();
}

// backup_task_internal_test.go: revPrivBytes, toLocalPrivBytes, toRemotePrivBytes.
struct Keys {
    PrivateKey revocation =
        secret(vectors()["backup_task"]["revocation_secret"].get<std::string>());
    PrivateKey local_delay = secret(vectors()["backup_task"]["to_local_secret"].get<std::string>());
    PrivateKey remote = secret(vectors()["backup_task"]["to_remote_secret"].get<std::string>());
};

Bytes address_script(const std::string& address) {
    return witness_script_pubkey(decode_segwit_address(address, "tb").value());
}
Bytes sweep_script() {
    return address_script(vectors()["backup_task"]["sweep_address"].get<std::string>());
}
Bytes reward_script() {
    return address_script(vectors()["backup_task"]["reward_address"].get<std::string>());
}

Bytes concat(std::initializer_list<ByteSpan> parts) {
    Bytes out;
    for (ByteSpan p : parts) append(out, p);
    return out;
}
template <std::size_t N>
ByteSpan span(const ByteArray<N>& a) {
    return ByteSpan(a.data(), a.size());
}

ByteArray<64> pattern64(std::uint8_t seed) {
    ByteArray<64> out{};
    for (std::size_t i = 0; i < 64; ++i) out[i] = static_cast<std::uint8_t>(seed + i);
    return out;
}

// BIP 141 P2WSH and P2WPKH, BIP 341 P2TR, written out.
Bytes hand_p2wsh(ByteSpan script) {
    Hash256 h = sha256(script);
    return concat({Bytes{0x00, 0x20}, span(h)});
}
Bytes hand_p2wpkh(const PublicKey& key) {
    Hash160 h = hash160(key.bytes());
    return concat({Bytes{0x00, 0x14}, span(h)});
}
Bytes hand_p2tr(const XOnlyPublicKey& key) {
    return concat({Bytes{0x51, 0x20}, span(key.bytes())});
}

XOnlyPublicKey nums_key() {
    // input/script_utils.go TaprootNUMSHex, without its 02 prefix.
    return XOnlyPublicKey::parse(
               hex_bytes("dca094751109d0bd055d03565874e8276dd53e926b44e3bd1bb6bf4bc130a279"))
        .value();
}

// input/script_utils.go leaf scripts, byte by byte. 144 = 0x90 needs a
// two-byte minimal push (0x90 0x00) because its top bit is set.
Bytes hand_revoke_leaf(const Keys& k) {
    return concat({Bytes{0x20}, span(k.local_delay.public_key().x_only().bytes()),
                   Bytes{0x75, 0x20}, span(k.revocation.public_key().x_only().bytes()),
                   Bytes{0xac}});
}
Bytes hand_delay_leaf(const Keys& k, bool production) {
    const XOnlyPublicKey x = k.local_delay.public_key().x_only();
    const Bytes key(x.bytes().begin(), x.bytes().end());
    if (production) return concat({Bytes{0x20}, key, Bytes{0xad, 0x02, 0x90, 0x00, 0xb2}});
    return concat({Bytes{0x20}, key, Bytes{0xac, 0x02, 0x90, 0x00, 0xb2, 0x75}});
}
Bytes hand_remote_leaf(const Keys& k, bool production) {
    const XOnlyPublicKey x = k.remote.public_key().x_only();
    const Bytes key(x.bytes().begin(), x.bytes().end());
    if (production) return concat({Bytes{0x20}, key, Bytes{0xad, 0x51, 0xb2}});
    return concat({Bytes{0x20}, key, Bytes{0xac, 0x51, 0xb2, 0x75}});
}

Bytes der_with_all(const EcdsaSignature& sig) {
    Bytes out = serialize_der(sig);
    out.push_back(0x01);
    return out;
}

struct Scenario {
    std::uint16_t blob_type = lnd::blob_type_altruist_legacy;
    std::int64_t to_local = 200000;
    std::int64_t to_remote = 100000;  // 0: no to_remote output and none in the kit
    bool to_remote_first = false;     // the breach tx lists to_remote before to_local
    std::uint64_t fee_rate = 1000;
    std::int64_t expected_sweep = 0;  // lnd's published number (or derived in a comment)
    std::int64_t expected_reward = 0;
};

struct HandBuilt {
    Transaction breach;
    lnd::JusticeKit kit;
    lnd::SessionPolicy policy;
    Transaction expected;
};

// Assembles a breach transaction and the justice transaction lnd's client
// signs for it, field by field, and signs it with common's sighash and
// signers; the kit carries those signatures.
HandBuilt hand_build(const Scenario& s) {
    Keys k;
    const bool taproot = (s.blob_type & 0x08) != 0;
    const bool production = (s.blob_type & 0x10) != 0;
    const bool anchor = (s.blob_type & 0x04) != 0;
    const bool reward = (s.blob_type & 0x01) != 0;
    const PublicKey rev = k.revocation.public_key();
    const PublicKey delay = k.local_delay.public_key();
    const PublicKey remote = k.remote.public_key();

    // to_local: BOLT #3 script (v0) or lnd's taproot tree {delay leaf, revoke leaf}.
    Bytes local_script, local_spk, local_control;
    Hash256 revoke_leaf{}, delay_leaf{};
    if (!taproot) {
        local_script = bolt3::to_local_script(rev, 144, delay);
        local_spk = hand_p2wsh(local_script);
    } else {
        local_script = hand_revoke_leaf(k);
        revoke_leaf = tapleaf_hash(0xc0, local_script);
        delay_leaf = tapleaf_hash(0xc0, hand_delay_leaf(k, production));
        auto out = taproot_output_key(nums_key(), tapbranch_hash(revoke_leaf, delay_leaf)).value();
        local_spk = hand_p2tr(out.key);
        local_control = concat({Bytes{static_cast<std::uint8_t>(0xc0 | (out.parity_odd ? 1 : 0))},
                                span(nums_key().bytes()), span(delay_leaf)});
    }
    // to_remote: P2WPKH (legacy), P2WSH <pk> CSV 1 (anchor), one-leaf tree (taproot).
    Bytes remote_script, remote_spk, remote_control, remote_script_code;
    Hash256 remote_leaf{};
    if (taproot) {
        remote_script = hand_remote_leaf(k, production);
        remote_leaf = tapleaf_hash(0xc0, remote_script);
        auto out = taproot_output_key(nums_key(), remote_leaf).value();
        remote_spk = hand_p2tr(out.key);
        remote_control = concat({Bytes{static_cast<std::uint8_t>(0xc0 | (out.parity_odd ? 1 : 0))},
                                 span(nums_key().bytes())});
    } else if (anchor) {
        remote_script = bolt3::to_remote_anchors_script(remote);
        remote_spk = hand_p2wsh(remote_script);
        remote_script_code = remote_script;
    } else {
        remote_spk = hand_p2wpkh(remote);
        Hash160 h = hash160(remote.bytes());
        remote_script_code =
            concat({Bytes{0x76, 0xa9, 0x14}, span(h), Bytes{0x88, 0xac}});  // BIP143
    }

    HandBuilt hb{Transaction{},
                 lnd::JusticeKit{sweep_script(), rev, delay, 0, {}, {}, std::nullopt},
                 lnd::SessionPolicy{}, Transaction{}};
    // Breach: an unrelated output first, then to_local and to_remote in the scenario's order.
    Transaction& breach = hb.breach;
    breach.version = 2;
    TxIn funding;
    funding.prevout = OutPoint{Txid{hex_array<32>(std::string(64, 'a'))}, 0};
    breach.inputs.push_back(funding);
    breach.outputs.push_back(TxOut{330, hand_p2wsh(Bytes{0x51})});
    std::uint32_t local_index = 1, remote_index = 2;
    if (s.to_remote > 0 && s.to_remote_first) std::swap(local_index, remote_index);
    breach.outputs.resize(s.to_remote > 0 ? 3 : 2);
    breach.outputs[local_index] = TxOut{s.to_local, local_spk};
    if (s.to_remote > 0) breach.outputs[remote_index] = TxOut{s.to_remote, remote_spk};
    const Txid breach_txid = breach.txid();

    // Justice: version 2, locktime 0, inputs by outpoint index (BIP 69, one txid),
    // to_local sequence 0, to_remote 0 (legacy) or 1 (anchor, taproot).
    Transaction& tx = hb.expected;
    tx.version = 2;
    tx.lock_time = 0;
    struct Spend {
        std::uint32_t index;
        bool local;
    };
    std::vector<Spend> spends{{local_index, true}};
    if (s.to_remote > 0) spends.push_back({remote_index, false});
    if (spends.size() == 2 && spends[1].index < spends[0].index) std::swap(spends[0], spends[1]);
    std::vector<TxOut> spent;
    for (const Spend& sp : spends) {
        TxIn in;
        in.prevout = OutPoint{breach_txid, sp.index};
        in.sequence = (!sp.local && (anchor || taproot)) ? 1 : 0;
        tx.inputs.push_back(in);
        spent.push_back(breach.outputs[sp.index]);
    }
    // Outputs by value (BIP 69): the reward is the smaller one in every scenario here.
    if (reward) tx.outputs.push_back(TxOut{s.expected_reward, reward_script()});
    tx.outputs.push_back(TxOut{s.expected_sweep, sweep_script()});

    // Sign as lnd's client does: SIGHASH_ALL (v0) or SIGHASH_DEFAULT script path (taproot).
    for (std::size_t i = 0; i < spends.size(); ++i) {
        const bool local = spends[i].local;
        const PrivateKey& key = local ? k.revocation : k.remote;
        ByteArray<64> compact{};
        if (taproot) {
            TaprootScriptPath path{local ? revoke_leaf : remote_leaf, 0xffffffff};
            Hash256 digest =
                taproot_sighash(tx, i, spent, SIGHASH_DEFAULT, std::nullopt, path).value();
            compact = schnorr_sign(key, digest, ByteArray<32>{});
            REQUIRE(schnorr_verify(key.public_key().x_only(), digest, compact));
            Bytes sig(compact.begin(), compact.end());
            tx.inputs[i].witness = local ? std::vector<Bytes>{sig, local_script, local_control}
                                         : std::vector<Bytes>{sig, remote_script, remote_control};
        } else {
            const Bytes& code = local ? local_script : remote_script_code;
            Hash256 digest = segwit_v0_sighash(tx, i, code, spent[i].value, SIGHASH_ALL);
            EcdsaSignature sig = ecdsa_sign(key, digest);
            compact = sig.compact;
            if (local) {
                tx.inputs[i].witness = {der_with_all(sig), Bytes{0x01}, local_script};
            } else if (anchor) {
                tx.inputs[i].witness = {der_with_all(sig), remote_script};
            } else {
                tx.inputs[i].witness = {der_with_all(sig),
                                        Bytes(remote.bytes().begin(), remote.bytes().end())};
            }
        }
        if (local) {
            hb.kit.to_local_signature = compact;
        } else {
            hb.kit.to_remote = lnd::ToRemoteKit{remote, compact};
        }
    }
    if (!taproot) hb.kit.csv_delay = 144;
    hb.kit.delay_leaf_hash = delay_leaf;
    hb.policy.blob_type = s.blob_type;
    hb.policy.sweep_fee_rate = s.fee_rate;
    if (reward) {
        hb.policy.reward_rate = 10000;
        hb.policy.reward_script = reward_script();
    }
    return hb;
}

const nlohmann::json& backup_case(const std::string& channel_prefix, const std::string& name) {
    static const nlohmann::json json = vectors();
    for (const auto& c : json["backup_task"]["cases"]) {
        if (c["channel"].get<std::string>().rfind(channel_prefix, 0) == 0 &&
            c["name"].get<std::string>() == name) {
            return c;
        }
    }
    FAIL("no backup_task case " << channel_prefix << " / " << name);
    return json;
}

Scenario scenario_from(const std::string& channel, const std::string& name,
                       std::uint16_t blob_type) {
    const auto& c = backup_case(channel, name);
    Scenario s;
    s.blob_type = blob_type;
    s.to_local = c["to_local"].get<std::int64_t>();
    s.to_remote = c["to_remote"].get<std::int64_t>();
    s.fee_rate = c["sweep_fee_rate"].get<std::uint64_t>();
    s.expected_sweep = c["expected_sweep"].get<std::int64_t>();
    s.expected_reward = c["expected_reward"].get<std::int64_t>();
    return s;
}

void check_builds_expected(const HandBuilt& hb) {
    auto built = lnd::build_justice_transaction(hb.kit, hb.policy, hb.breach);
    if (!built) FAIL(built.error().message);
    CHECK(to_hex(built->serialize()) == to_hex(hb.expected.serialize()));
}

}  // namespace

// ---------------------------------------------------------------- blob types

TEST_CASE(
    "lnd_justice: blob types, flags and sizes (lnd watchtower/blob/type.go, "
    "justice_kit_packet.go)") {
    auto json = vectors()["blob_types"];
    CHECK(lnd::blob_flag::reward == json["flags"]["FlagReward"].get<int>());
    CHECK(lnd::blob_flag::commit_outputs == json["flags"]["FlagCommitOutputs"].get<int>());
    CHECK(lnd::blob_flag::anchor_commitment == json["flags"]["FlagAnchorChannel"].get<int>());
    CHECK(lnd::blob_flag::taproot_commitment == json["flags"]["FlagTaprootChannel"].get<int>());
    CHECK(lnd::blob_flag::taproot_final == json["flags"]["FlagTaprootFinalChannel"].get<int>());
    const std::uint16_t named[] = {lnd::blob_type_altruist_legacy, lnd::blob_type_reward,
                                   lnd::blob_type_altruist_anchor, lnd::blob_type_altruist_taproot,
                                   lnd::blob_type_altruist_taproot_final};
    std::size_t i = 0;
    for (const auto& t : json["supported"]) {
        CAPTURE(t["name"].get<std::string>());
        auto type = t["type"].get<std::uint16_t>();
        CHECK(named[i++] == type);
        CHECK(lnd::is_supported_blob_type(type));
        CHECK(lnd::kit_plaintext_size(type) == t["plaintext_size"].get<std::size_t>());
        CHECK(lnd::blob_size(type) == t["blob_size"].get<std::size_t>());
    }
    for (const auto& t : json["unsupported"]) {
        auto type = t.get<std::uint16_t>();
        CAPTURE(type);
        CHECK_FALSE(lnd::is_supported_blob_type(type));
        CHECK(lnd::blob_size(type) == 0);
    }
    auto sizes = test::load_vectors("lnd.json")["blob_sizes"];
    CHECK(lnd::blob_size(lnd::blob_type_altruist_legacy) == sizes["blob_v0"].get<std::size_t>());
    CHECK(lnd::blob_size(lnd::blob_type_altruist_taproot) == sizes["blob_v1"].get<std::size_t>());
}

// ---------------------------------------------------------------- kit encoding

namespace {
// justice_kit_packet.go, blob version 0 plaintext encoding, written out:
// sweep len (1) | sweep padded (42) | revocation pk (33) | local delay pk (33) |
// csv delay (4, BE) | to_local sig (64) | to_remote pk (33) | to_remote sig (64).
Bytes hand_v0_plaintext(bool with_remote) {
    Keys k;
    Bytes sweep = sweep_script();
    Bytes out{static_cast<std::uint8_t>(sweep.size())};
    append(out, sweep);
    append(out, Bytes(42 - sweep.size(), 0));
    append(out, k.revocation.public_key().bytes());
    append(out, k.local_delay.public_key().bytes());
    append(out, Bytes{0x00, 0x00, 0x00, 0x90});  // 144
    append(out, pattern64(0x10));
    if (with_remote) {
        append(out, k.remote.public_key().bytes());
        append(out, pattern64(0x80));
    } else {
        append(out, Bytes(97, 0));
    }
    return out;
}
Hash256 hash_of_d1() {
    Hash256 h;
    h.fill(0xd1);
    return h;
}

// Version 1: sweep len | sweep padded (42) | revocation x-only (32) | local delay
// x-only (32) | to_local sig (64) | delay leaf hash (32) | to_remote pk (33) | sig (64).
Bytes hand_v1_plaintext(bool with_remote) {
    Keys k;
    Bytes sweep = sweep_script();
    Bytes out{static_cast<std::uint8_t>(sweep.size())};
    append(out, sweep);
    append(out, Bytes(42 - sweep.size(), 0));
    append(out, k.revocation.public_key().x_only().bytes());
    append(out, k.local_delay.public_key().x_only().bytes());
    append(out, pattern64(0x20));
    append(out, Bytes(32, 0xd1));
    if (with_remote) {
        append(out, k.remote.public_key().bytes());
        append(out, pattern64(0x90));
    } else {
        append(out, Bytes(97, 0));
    }
    return out;
}
}  // namespace

TEST_CASE("lnd_justice: kit v0 decodes from lnd's byte layout and re-encodes to the same bytes") {
    Keys k;
    for (bool with_remote : {true, false}) {
        CAPTURE(with_remote);
        Bytes plain = hand_v0_plaintext(with_remote);
        REQUIRE(plain.size() == 274);
        for (std::uint16_t type : {lnd::blob_type_altruist_legacy, lnd::blob_type_reward,
                                   lnd::blob_type_altruist_anchor}) {
            auto kit = lnd::decode_justice_kit(type, plain);
            REQUIRE(kit);
            CHECK(kit->sweep_script == sweep_script());
            CHECK(kit->revocation_pubkey == k.revocation.public_key());
            CHECK(kit->local_delay_pubkey == k.local_delay.public_key());
            CHECK(kit->csv_delay == 144);
            CHECK(kit->to_local_signature == pattern64(0x10));
            CHECK(kit->delay_leaf_hash == Hash256{});
            REQUIRE(kit->to_remote.has_value() == with_remote);
            if (with_remote) {
                CHECK(kit->to_remote->pubkey == k.remote.public_key());
                CHECK(kit->to_remote->signature == pattern64(0x80));
            }
            CHECK(lnd::encode_justice_kit(type, *kit) == plain);
        }
        // The same bytes are not a v1 kit.
        CHECK(lnd::decode_justice_kit(lnd::blob_type_altruist_taproot, plain).error().code ==
              ErrorCode::truncated);
    }
}

TEST_CASE("lnd_justice: kit v1 (taproot) decodes from lnd's byte layout and re-encodes") {
    Keys k;
    for (bool with_remote : {true, false}) {
        CAPTURE(with_remote);
        Bytes plain = hand_v1_plaintext(with_remote);
        REQUIRE(plain.size() == 300);
        for (std::uint16_t type :
             {lnd::blob_type_altruist_taproot, lnd::blob_type_altruist_taproot_final}) {
            auto kit = lnd::decode_justice_kit(type, plain);
            REQUIRE(kit);
            CHECK(kit->sweep_script == sweep_script());
            CHECK(kit->revocation_pubkey.x_only() == k.revocation.public_key().x_only());
            CHECK(kit->revocation_pubkey.bytes()[0] == 0x02);
            CHECK(kit->local_delay_pubkey.x_only() == k.local_delay.public_key().x_only());
            CHECK(kit->csv_delay == 0);
            CHECK(kit->to_local_signature == pattern64(0x20));
            CHECK(kit->delay_leaf_hash == hash_of_d1());
            REQUIRE(kit->to_remote.has_value() == with_remote);
            if (with_remote) {
                CHECK(kit->to_remote->pubkey == k.remote.public_key());
                CHECK(kit->to_remote->signature == pattern64(0x90));
            }
            CHECK(lnd::encode_justice_kit(type, *kit) == plain);
        }
        CHECK(lnd::decode_justice_kit(lnd::blob_type_altruist_legacy, plain).error().code ==
              ErrorCode::trailing_data);
    }
}

TEST_CASE("lnd_justice: malformed kits fail cleanly") {
    Bytes v0 = hand_v0_plaintext(true);
    Bytes v1 = hand_v1_plaintext(true);
    const std::uint16_t legacy = lnd::blob_type_altruist_legacy;
    const std::uint16_t taproot = lnd::blob_type_altruist_taproot;
    auto code = [](std::uint16_t type, const Bytes& b) {
        auto r = lnd::decode_justice_kit(type, b);
        return r ? std::optional<ErrorCode>() : std::optional<ErrorCode>(r.error().code);
    };
    auto changed = [](Bytes b, std::size_t at, std::uint8_t value) {
        b[at] = value;
        return b;
    };

    SUBCASE("wrong sizes") {
        for (std::size_t size : {0, 1, 43, 273, 275, 299, 301}) {
            Bytes b(size, 0);
            CAPTURE(size);
            CHECK(code(legacy, b).has_value());
            CHECK(code(taproot, b).has_value());
        }
        CHECK(code(legacy, Bytes(v0.begin(), v0.end() - 1)) == ErrorCode::truncated);
        CHECK(code(legacy, concat({v0, Bytes{0}})) == ErrorCode::trailing_data);
    }
    SUBCASE("unsupported blob type") {
        CHECK(code(0x0007, v0) == ErrorCode::invalid_argument);
        CHECK(code(0x0000, v0) == ErrorCode::invalid_argument);
    }
    SUBCASE("sweep address longer than 42 bytes (ErrSweepAddressToLong)") {
        CHECK(code(legacy, changed(v0, 0, 43)) == ErrorCode::malformed);
        CHECK(code(taproot, changed(v1, 0, 255)) == ErrorCode::malformed);
    }
    SUBCASE("non-zero padding after the sweep address") {
        CHECK(code(legacy, changed(v0, 1 + 22, 1)) == ErrorCode::malformed);
        CHECK(code(legacy, changed(v0, 42, 1)) == ErrorCode::malformed);
        CHECK(code(taproot, changed(v1, 30, 0xff)) == ErrorCode::malformed);
        // A shorter length turns sweep bytes into padding.
        CHECK(code(legacy, changed(v0, 0, 21)) == ErrorCode::malformed);
        // The maximum length has no padding at all.
        Bytes full = v0;
        full[0] = 42;
        std::fill(full.begin() + 1, full.begin() + 43, 0x5a);
        auto kit = lnd::decode_justice_kit(legacy, full);
        REQUIRE(kit);
        CHECK(kit->sweep_script == Bytes(42, 0x5a));
        CHECK(lnd::encode_justice_kit(legacy, *kit) == full);
    }
    SUBCASE("bad keys") {
        // v0 revocation key at 43, local delay key at 76, to_remote key at 177.
        CHECK(code(legacy, changed(v0, 43, 0x04)) == ErrorCode::invalid_key);
        CHECK(code(legacy, changed(v0, 76, 0x00)) == ErrorCode::invalid_key);
        CHECK(code(legacy, changed(v0, 177, 0x05)) == ErrorCode::invalid_key);
        // x = 5 is not on secp256k1 (5^3 + 7 = 132 is not a square mod p).
        Bytes off_curve = v0;
        std::fill(off_curve.begin() + 44, off_curve.begin() + 76, 0);
        off_curve[75] = 5;
        CHECK(code(legacy, off_curve) == ErrorCode::invalid_key);
        // v1 x-only keys at 43 and 75; x = 0 is not on the curve either.
        Bytes v1_bad = v1;
        std::fill(v1_bad.begin() + 43, v1_bad.begin() + 75, 0);
        CHECK(code(taproot, v1_bad) == ErrorCode::invalid_key);
        v1_bad = v1;
        std::fill(v1_bad.begin() + 75, v1_bad.begin() + 107, 0xff);
        CHECK(code(taproot, v1_bad) == ErrorCode::invalid_key);
        // v1 to_remote key at 203.
        CHECK(code(taproot, changed(v1, 203, 0x04)) == ErrorCode::invalid_key);
    }
    SUBCASE("a to_remote signature without a to_remote key") {
        Bytes b = hand_v0_plaintext(false);
        b[273] = 1;
        CHECK(code(legacy, b) == ErrorCode::malformed);
        Bytes c = hand_v1_plaintext(false);
        c[299] = 1;
        CHECK(code(taproot, c) == ErrorCode::malformed);
    }
}

// ---------------------------------------------------------------- encryption

TEST_CASE(
    "lnd_justice: blob = nonce || XChaCha20-Poly1305(kit) under SHA256(txid||txid) (lnd.json)") {
    auto v = test::load_vectors("lnd.json")["hint_and_key"][0];
    auto txid = Txid::from_display_hex(v["txid_display"].get<std::string>()).value();
    Hash256 key = hex_array<32>(v["key"].get<std::string>());
    CHECK(lnd::breach_key(txid) == key);
    CHECK(to_hex(lnd::breach_hint(txid)) == v["hint"].get<std::string>());

    for (std::uint16_t type :
         {lnd::blob_type_altruist_anchor, lnd::blob_type_altruist_taproot_final}) {
        CAPTURE(type);
        const bool v1 = type == lnd::blob_type_altruist_taproot_final;
        Bytes plain = v1 ? hand_v1_plaintext(true) : hand_v0_plaintext(true);
        auto kit = lnd::decode_justice_kit(type, plain).value();
        ByteArray<24> nonce{};
        for (std::size_t i = 0; i < 24; ++i) nonce[i] = static_cast<std::uint8_t>(0xa0 + i);
        Bytes blob = lnd::encrypt_justice_kit(type, kit, txid, nonce);
        REQUIRE(blob.size() == lnd::blob_size(type));
        // Open it independently with the vector's key: nonce prefix, then AEAD, no AD.
        CHECK(Bytes(blob.begin(), blob.begin() + 24) == Bytes(nonce.begin(), nonce.end()));
        auto opened = xchacha20poly1305_decrypt(key, nonce, ByteSpan(blob).subspan(24));
        REQUIRE(opened);
        CHECK(*opened == plain);

        auto decrypted = lnd::decrypt_justice_kit(type, blob, txid);
        REQUIRE(decrypted);
        CHECK(*decrypted == kit);

        Txid other = txid;
        other.bytes[0] ^= 1;
        CHECK(lnd::decrypt_justice_kit(type, blob, other).error().code ==
              ErrorCode::decryption_failed);
        Bytes forged = blob;
        forged[100] ^= 1;
        CHECK(lnd::decrypt_justice_kit(type, forged, txid).error().code ==
              ErrorCode::decryption_failed);
        forged = blob;
        forged[3] ^= 1;  // the nonce is authenticated through the key stream
        CHECK(lnd::decrypt_justice_kit(type, forged, txid).error().code ==
              ErrorCode::decryption_failed);
        CHECK(lnd::decrypt_justice_kit(type, ByteSpan(blob).first(blob.size() - 1), txid)
                  .error()
                  .code == ErrorCode::malformed);
        CHECK(lnd::decrypt_justice_kit(type, concat({blob, Bytes{0}}), txid).error().code ==
              ErrorCode::malformed);
        CHECK(lnd::decrypt_justice_kit(type, Bytes{}, txid).error().code == ErrorCode::malformed);
        CHECK(lnd::decrypt_justice_kit(0x0007, blob, txid).error().code ==
              ErrorCode::invalid_argument);
    }
    // A v0 blob opened as v1 fails on its size.
    auto kit =
        lnd::decode_justice_kit(lnd::blob_type_altruist_legacy, hand_v0_plaintext(false)).value();
    Bytes blob =
        lnd::encrypt_justice_kit(lnd::blob_type_altruist_legacy, kit, txid, ByteArray<24>{});
    CHECK_FALSE(lnd::decrypt_justice_kit(lnd::blob_type_altruist_taproot, blob, txid));
}

// ---------------------------------------------------------------- wtpolicy

TEST_CASE("lnd_justice: weights and amounts of lnd's backup_task_internal_test.go cases") {
    auto json = vectors()["backup_task"];
    const Bytes sweep = sweep_script();
    const Bytes reward = reward_script();
    REQUIRE(sweep.size() == 22);
    REQUIRE(reward.size() == 34);
    int checked = 0;
    for (const auto& c : json["cases"]) {
        std::string label = c["channel"].get<std::string>() + ": " + c["name"].get<std::string>();
        CAPTURE(label);
        lnd::SessionPolicy policy;
        policy.blob_type = c["blob_type"].get<std::uint16_t>();
        policy.reward_base = json["reward_base"].get<std::uint32_t>();
        policy.reward_rate = json["reward_rate"].get<std::uint32_t>();
        policy.sweep_fee_rate = c["sweep_fee_rate"].get<std::uint64_t>();
        if (c["reward_script"].get<bool>()) policy.reward_script = reward;
        const std::int64_t to_local = c["to_local"].get<std::int64_t>();
        const std::int64_t to_remote = c["to_remote"].get<std::int64_t>();
        auto weight = lnd::justice_transaction_weight(policy.blob_type, to_local > 0, to_remote > 0,
                                                      sweep.size(), policy.reward_script.size());
        REQUIRE(weight);
        auto amounts =
            lnd::compute_justice_amounts(policy, to_local + to_remote, *weight, sweep.size());
        if (c["expected_error"].is_null()) {
            REQUIRE(amounts);
            CHECK(amounts->sweep == c["expected_sweep"].get<std::int64_t>());
            CHECK(amounts->reward == c["expected_reward"].get<std::int64_t>());
            CHECK(amounts->sweep + amounts->reward + amounts->fee == to_local + to_remote);
        } else {
            REQUIRE_FALSE(amounts);
            CHECK(amounts.error().message.find(c["expected_error"].get<std::string>()) !=
                  std::string::npos);
        }
        ++checked;
    }
    CHECK(checked == 36);
}

TEST_CASE("lnd_justice: weight estimate by hand (input/size.go) and its refusals") {
    // Legacy, both inputs, one P2WPKH output: stripped 8 + 1 + 2*41 + 1 + 31 = 123
    // bytes, weight 4*123 + 2 (marker, flag) + 156 + 109 = 759.
    CHECK(lnd::justice_transaction_weight(0x02, true, true, 22, 0).value() == 759);
    // Anchor: 157 and 113 for the witnesses: 492 + 2 + 270 = 764.
    CHECK(lnd::justice_transaction_weight(0x06, true, true, 22, 0).value() == 764);
    // Taproot staging 202 + 139, production 202 + 138.
    CHECK(lnd::justice_transaction_weight(0x0A, true, true, 22, 0).value() == 835);
    CHECK(lnd::justice_transaction_weight(0x1A, true, true, 22, 0).value() == 834);
    // A P2WSH/P2TR sweep output adds 12 bytes (48 wu); a P2WPKH reward output 31 bytes.
    CHECK(lnd::justice_transaction_weight(0x02, true, false, 34, 0).value() ==
          4 * (8 + 1 + 41 + 1 + 43) + 2 + 156);
    CHECK(lnd::justice_transaction_weight(0x03, true, false, 22, 22).value() ==
          4 * (8 + 1 + 41 + 1 + 31 + 31) + 2 + 156);
    // No inputs: no witness header.
    CHECK(lnd::justice_transaction_weight(0x02, false, false, 22, 0).value() ==
          4 * (8 + 1 + 1 + 31));
    // lookout: only 22- and 34-byte sweep scripts (ErrUnknownSweepAddrType).
    for (std::size_t size : {0, 20, 23, 25, 33, 35, 42}) {
        auto w = lnd::justice_transaction_weight(0x02, true, false, size, 0);
        REQUIRE_FALSE(w);
        CHECK(w.error().message.find("ErrUnknownSweepAddrType") != std::string::npos);
    }
    CHECK_FALSE(lnd::justice_transaction_weight(0x00, true, false, 22, 0));
    CHECK_FALSE(lnd::justice_transaction_weight(0x01, true, false, 22, 0));
}

TEST_CASE(
    "lnd_justice: reward amount, fee and dust rules (wtpolicy/policy.go, lnwallet "
    "DustLimitForSize)") {
    // ComputeRewardAmount: base + ceil((total - base) * rate / 1e6).
    CHECK(lnd::compute_reward_amount(300000, 0, 10000) == 3000);
    CHECK(lnd::compute_reward_amount(108221, 0, 10000) == 1083);  // 1082.21 rounds up
    CHECK(lnd::compute_reward_amount(100000, 1000, 10000) == 1000 + 990);
    CHECK(lnd::compute_reward_amount(100001, 1000, 1) == 1000 + 1);  // 0.099.. rounds up to 1
    CHECK(lnd::compute_reward_amount(500, 1000, 10000) == 1000);     // base above total: base
    CHECK(lnd::compute_reward_amount(1000, 1000, 10000) == 1000);
    CHECK(lnd::compute_reward_amount(2'100'000'000'000'000, 0, 0xffffffff) ==
          2'100'000'000'000'000 / 1'000'000 * 0xffffffffLL);  // exact, no overflow
    // FeeForWeight rounds down.
    CHECK(lnd::fee_for_weight(1000, 759).value() == 759);
    CHECK(lnd::fee_for_weight(2500, 759).value() == 1897);  // 1897.5
    CHECK(lnd::fee_for_weight(253, 3).value() == 0);
    CHECK_FALSE(lnd::fee_for_weight(std::uint64_t{1} << 63, 4));
    // btcd GetDustThreshold via DustLimitForSize.
    CHECK(lnd::dust_limit_for_script_size(22) == 294);
    CHECK(lnd::dust_limit_for_script_size(34) == 330);
    CHECK(lnd::dust_limit_for_script_size(23) == 540);
    CHECK(lnd::dust_limit_for_script_size(25) == 546);
    CHECK(lnd::dust_limit_for_script_size(42) == 354);
    CHECK(lnd::dust_limit_for_script_size(0) == 354);

    lnd::SessionPolicy altruist{lnd::blob_type_altruist_legacy, 0, 0, 1000, {}};
    // Exactly at the P2WPKH dust limit is allowed, one below is not.
    CHECK(lnd::compute_justice_amounts(altruist, 294 + 759, 759, 22).value().sweep == 294);
    CHECK_FALSE(lnd::compute_justice_amounts(altruist, 293 + 759, 759, 22));
    CHECK_FALSE(lnd::compute_justice_amounts(altruist, 330 + 759 - 1, 759, 34));
    // Reward sessions check the victim's output against the reward script's dust limit.
    lnd::SessionPolicy rewarded{lnd::blob_type_reward, 0, 0, 1000, Bytes(34, 0)};
    CHECK_FALSE(lnd::compute_justice_amounts(rewarded, 300 + 759, 759, 22));
    rewarded.reward_script = Bytes(22, 0);
    CHECK(lnd::compute_justice_amounts(rewarded, 300 + 759, 759, 22).value().sweep == 300);
    // ErrRewardExceedsInputs.
    rewarded.reward_base = 1000;
    auto exceeds = lnd::compute_justice_amounts(rewarded, 1500, 759, 22);
    REQUIRE_FALSE(exceeds);
    CHECK(exceeds.error().message.find("ErrRewardExceedsInputs") != std::string::npos);
}

TEST_CASE("lnd_justice: policy validation (wtpolicy/policy_test.go validationTests)") {
    const auto json = vectors();
    for (const auto& c : json["policy_validate"]["cases"]) {
        CAPTURE(c["name"].get<std::string>());
        lnd::SessionPolicy p{c["blob_type"].get<std::uint16_t>(),
                             c["reward_base"].get<std::uint32_t>(),
                             c["reward_rate"].get<std::uint32_t>(),
                             c["sweep_fee_rate"].get<std::uint64_t>(),
                             {}};
        auto status = lnd::validate_policy(p);
        if (c["expected_error"].is_null()) {
            CHECK(status);
        } else {
            REQUIRE_FALSE(status);
            CHECK(status.error().message.find(c["expected_error"].get<std::string>()) !=
                  std::string::npos);
        }
    }
    CHECK(lnd::validate_policy({lnd::blob_type_reward, 0, lnd::default_reward_rate,
                                lnd::default_sweep_fee_rate, Bytes(22, 0)}));
    CHECK_FALSE(lnd::validate_policy({0x0007, 0, 0, lnd::default_sweep_fee_rate, {}}));
    CHECK(lnd::min_sweep_fee_rate == 1000);
    CHECK(lnd::default_sweep_fee_rate == 2500);
}

// ---------------------------------------------------------------- justice transactions

TEST_CASE("lnd_justice: taproot scripts and NUMS key (lnd input/script_utils.go)") {
    Keys k;
    CHECK(lnd::taproot_nums_key() == nums_key());
    CHECK(lnd::taproot_to_local_revoke_script(k.local_delay.public_key().x_only(),
                                              k.revocation.public_key().x_only()) ==
          hand_revoke_leaf(k));
    CHECK(lnd::taproot_to_remote_script(k.remote.public_key().x_only(), false) ==
          hand_remote_leaf(k, false));
    CHECK(lnd::taproot_to_remote_script(k.remote.public_key().x_only(), true) ==
          hand_remote_leaf(k, true));
    CHECK(lnd::commit_to_local_script(k.revocation.public_key(), 144, k.local_delay.public_key()) ==
          bolt3::to_local_script(k.revocation.public_key(), 144, k.local_delay.public_key()));
}

TEST_CASE("lnd_justice: rebuilds the hand-signed justice transaction for every blob type") {
    // Sweep amounts: lnd's backup_task_internal_test.go (fee rate 1000, 200000 + 100000 sat).
    struct Named {
        const char* name;
        Scenario scenario;
    };
    std::vector<Named> cases = {
        {"legacy, both", scenario_from("legacy", "commit no-reward, both outputs", 0x02)},
        {"legacy, to_local only",
         scenario_from("legacy", "commit no-reward, to-local output only", 0x02)},
        {"reward, both", scenario_from("legacy", "commit reward, both outputs", 0x03)},
        {"reward, to_local only",
         scenario_from("legacy", "commit reward, to-local output only", 0x03)},
        {"anchor, both", scenario_from("anchor", "commit no-reward, both outputs", 0x06)},
        {"anchor, to_local only",
         scenario_from("anchor", "commit no-reward, to-local output only", 0x06)},
        {"taproot, both", scenario_from("taproot", "commit no-reward, both outputs", 0x0A)},
        {"taproot, to_local only",
         scenario_from("taproot", "commit no-reward, to-local output only", 0x0A)},
    };
    // taproot-final (no lnd number published): weight 834 (to_remote witness 138,
    // input/size.go TaprootToRemoteWitnessSizeFinal) -> 300000 - 834; to_local
    // alone weighs as in staging.
    Scenario final_both{0x1A, 200000, 100000, false, 1000, 300000 - 834, 0};
    Scenario final_local{0x1A, 200000, 0, false, 1000, 199468, 0};
    cases.push_back({"taproot-final, both", final_both});
    cases.push_back({"taproot-final, to_local only", final_local});
    for (auto& c : cases) {
        for (bool remote_first : {false, true}) {
            CAPTURE(c.name);
            CAPTURE(remote_first);
            c.scenario.to_remote_first = remote_first;
            check_builds_expected(hand_build(c.scenario));
        }
    }
}

TEST_CASE("lnd_justice: a high-S kit signature is written low-S, as btcec serializes it") {
    for (std::uint16_t type : {std::uint16_t{0x02}, std::uint16_t{0x06}}) {
        Scenario s = scenario_from(type == 0x02 ? "legacy" : "anchor",
                                   "commit no-reward, both outputs", type);
        HandBuilt hb = hand_build(s);
        // s' = n - s, by hand.
        const Bytes order =
            hex_bytes("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
        int borrow = 0;
        ByteArray<64>& sig = hb.kit.to_remote->signature;
        for (int i = 31; i >= 0; --i) {
            int d =
                order[static_cast<std::size_t>(i)] - sig[32 + static_cast<std::size_t>(i)] - borrow;
            borrow = d < 0;
            sig[32 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(d < 0 ? d + 256 : d);
        }
        REQUIRE_FALSE(is_low_s(EcdsaSignature{sig}));
        check_builds_expected(hb);
    }
}

TEST_CASE("lnd_justice: refuses kits and breaches that do not give the signed transaction") {
    for (std::uint16_t type : {std::uint16_t{0x02}, std::uint16_t{0x03}, std::uint16_t{0x06},
                               std::uint16_t{0x0A}, std::uint16_t{0x1A}}) {
        CAPTURE(type);
        const bool taproot = (type & 0x08) != 0;
        Scenario s;
        s.blob_type = type;
        s.expected_sweep = 250000;  // amounts do not matter: every case below fails first
        s.expected_reward = 3000;
        const HandBuilt good = [&] {
            const char* channel = taproot ? "taproot" : (type == 0x06 ? "anchor" : "legacy");
            const char* name =
                type == 0x03 ? "commit reward, both outputs" : "commit no-reward, both outputs";
            Scenario real = type == 0x1A
                                ? Scenario{0x1A, 200000, 100000, false, 1000, 300000 - 834, 0}
                                : scenario_from(channel, name, type);
            return hand_build(real);
        }();
        REQUIRE(lnd::build_justice_transaction(good.kit, good.policy, good.breach));
        auto refused = [&](const lnd::JusticeKit& kit, const lnd::SessionPolicy& policy,
                           const Transaction& breach) {
            auto r = lnd::build_justice_transaction(kit, policy, breach);
            REQUIRE_FALSE(r);
            CHECK_FALSE(r.error().message.empty());
            return r.error().code;
        };

        SUBCASE("one flipped to_local signature byte") {
            lnd::JusticeKit kit = good.kit;
            kit.to_local_signature[40] ^= 0x01;
            CHECK(refused(kit, good.policy, good.breach) == ErrorCode::invalid_signature);
        }
        SUBCASE("one flipped to_remote signature byte") {
            lnd::JusticeKit kit = good.kit;
            kit.to_remote->signature[5] ^= 0x80;
            CHECK(refused(kit, good.policy, good.breach) == ErrorCode::invalid_signature);
        }
        SUBCASE("signatures swapped between the inputs") {
            lnd::JusticeKit kit = good.kit;
            std::swap(kit.to_local_signature, kit.to_remote->signature);
            CHECK(refused(kit, good.policy, good.breach) == ErrorCode::invalid_signature);
        }
        SUBCASE("another fee rate than the one signed") {
            lnd::SessionPolicy policy = good.policy;
            policy.sweep_fee_rate = 1100;
            CHECK(refused(good.kit, policy, good.breach) == ErrorCode::invalid_signature);
        }
        SUBCASE("a wrong csv delay (v0) or delay leaf (taproot): to_local not found") {
            lnd::JusticeKit kit = good.kit;
            if (taproot) {
                kit.delay_leaf_hash[0] ^= 1;
            } else {
                kit.csv_delay = 145;
            }
            CHECK(refused(kit, good.policy, good.breach) == ErrorCode::not_found);
        }
        SUBCASE("a wrong revocation key: to_local not found") {
            lnd::JusticeKit kit = good.kit;
            kit.revocation_pubkey = Keys{}.remote.public_key();
            CHECK(refused(kit, good.policy, good.breach) == ErrorCode::not_found);
        }
        SUBCASE("a breach transaction without the to_local output") {
            Transaction breach = good.breach;
            breach.outputs.erase(breach.outputs.begin() + 1);
            CHECK(refused(good.kit, good.policy, breach) == ErrorCode::not_found);
        }
        SUBCASE("a kit with to_remote and a breach without it") {
            Transaction breach = good.breach;
            breach.outputs.pop_back();
            CHECK(refused(good.kit, good.policy, breach) == ErrorCode::not_found);
        }
        SUBCASE("a to_remote key the breach does not pay") {
            lnd::JusticeKit kit = good.kit;
            kit.to_remote->pubkey = Keys{}.local_delay.public_key();
            CHECK(refused(kit, good.policy, good.breach) == ErrorCode::not_found);
        }
        SUBCASE("a sweep script lnd cannot weigh") {
            lnd::JusticeKit kit = good.kit;
            kit.sweep_script = p2pkh_script(Hash160{});
            CHECK(refused(kit, good.policy, good.breach) == ErrorCode::invalid_argument);
        }
        SUBCASE("a blob type the tower does not support") {
            lnd::SessionPolicy policy = good.policy;
            policy.blob_type = static_cast<std::uint16_t>(type | 0x01);
            if (!lnd::is_supported_blob_type(policy.blob_type)) {
                CHECK(refused(good.kit, policy, good.breach) == ErrorCode::invalid_argument);
            }
        }
        SUBCASE("fee above the inputs") {
            lnd::SessionPolicy policy = good.policy;
            policy.sweep_fee_rate = 1'000'000;
            CHECK(refused(good.kit, policy, good.breach) == ErrorCode::invalid_argument);
        }
    }
    SUBCASE(
        "the other commitment type's to_remote (staging vs production taproot, legacy vs anchor)") {
        HandBuilt staging =
            hand_build(scenario_from("taproot", "commit no-reward, both outputs", 0x0A));
        lnd::SessionPolicy policy = staging.policy;
        policy.blob_type = 0x1A;
        CHECK(lnd::build_justice_transaction(staging.kit, policy, staging.breach).error().code ==
              ErrorCode::not_found);
        HandBuilt legacy =
            hand_build(scenario_from("legacy", "commit no-reward, both outputs", 0x02));
        policy = legacy.policy;
        policy.blob_type = 0x06;
        CHECK(lnd::build_justice_transaction(legacy.kit, policy, legacy.breach).error().code ==
              ErrorCode::not_found);
    }
}

TEST_CASE(
    "lnd_justice: the kit survives the encrypted round trip into the same justice transaction") {
    HandBuilt hb = hand_build(scenario_from("anchor", "commit no-reward, both outputs", 0x06));
    Bytes blob = lnd::encrypt_justice_kit(0x06, hb.kit, hb.breach.txid(), ByteArray<24>{7});
    auto kit = lnd::decrypt_justice_kit(0x06, blob, hb.breach.txid());
    REQUIRE(kit);
    auto built = lnd::build_justice_transaction(*kit, hb.policy, hb.breach);
    REQUIRE(built);
    CHECK(built->serialize() == hb.expected.serialize());
}
