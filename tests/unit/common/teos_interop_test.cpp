// Interop with The Eye of Satoshi (rust-teos): the bytes we sign and the
// signatures we produce must be exactly what rust-teos's teos-common builds and
// checks. Every expected value below is a literal written from the rust-teos
// (or rust-lightning / Core Lightning / bLIP) source named next to it, never
// produced by the code under test. Signatures are checked twice: with our
// recover, and with libsecp256k1 called directly over a digest and a z-base-32
// decoding written here from scratch.
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "common/hex.h"
#include "common/keys.h"
#include "common/message_signing.h"
#include "common/teos_protocol.h"
#include "common/transaction.h"
#include "common/watchtower_crypto.h"
#include "common/zbase32.h"

using namespace argus;

namespace {

Bytes hex(std::string_view text) { return parse_hex(text).value(); }

template <std::size_t N>
ByteArray<N> hex_array(std::string_view text) {
    return parse_hex_array<N>(text).value();
}

Bytes ascii(std::string_view text) { return Bytes(text.begin(), text.end()); }

// Secret keys 1 and 2 (rust-secp256k1's ONE_KEY and its successor) and their
// public keys, G and 2G, as every secp256k1 reference lists them.
constexpr std::string_view key_one_pubkey = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
constexpr std::string_view key_two_pubkey = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";

PrivateKey secret_key(std::uint8_t last_byte) {
    Bytes raw(32, 0);
    raw[31] = last_byte;
    return PrivateKey::from_bytes(raw).value();
}

// rust-teos teos-common/src/cryptography.rs test vectors: HEX_TXID (display
// order) and the locator rust-teos derives from it, Locator::new(txid) =
// txid[..16] in rust-bitcoin's internal byte order.
constexpr std::string_view teos_test_txid_display = "d6ac4a5e61657c4c604dcde855a1db74ec6b3e54f32695d72c5e11c7761ea1b4";
constexpr std::string_view teos_test_locator = "b4a11e76c7115e2cd79526f3543e6bec";

// --- An implementation of the Lightning message digest and signature decoding
// that shares nothing with common/ (OpenSSL SHA-256, hand-written z-base-32).

std::array<std::uint8_t, 32> sha256_openssl(ByteSpan data) {
    std::array<std::uint8_t, 32> out{};
    unsigned int size = 0;
    REQUIRE(EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha256(), nullptr) == 1);
    REQUIRE(size == 32);
    return out;
}

// lightning::util::message_signing: sha256d("Lightning Signed Message:" || msg).
std::array<std::uint8_t, 32> independent_digest(ByteSpan message) {
    Bytes data = ascii("Lightning Signed Message:");
    data.insert(data.end(), message.begin(), message.end());
    auto first = sha256_openssl(data);
    return sha256_openssl(first);
}

// Phil Zimmermann's human-oriented base-32, 5 bits per character, MSB first.
std::optional<Bytes> independent_zbase32_decode(std::string_view text) {
    constexpr std::string_view alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";
    Bytes out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        auto value = alphabet.find(c);
        if (value == std::string_view::npos) return std::nullopt;
        buffer = (buffer << 5) | static_cast<std::uint32_t>(value);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>((buffer >> bits) & 0xff));
        }
    }
    return out;
}

// Recovers the signer with libsecp256k1 directly and verifies the signature
// against the expected key; returns the recovered compressed key as hex.
std::string recover_and_verify_with_libsecp256k1(ByteSpan message, std::string_view zbase32_signature,
                                                 std::string_view expected_pubkey_hex) {
    const secp256k1_context* ctx = secp256k1_context_static;
    auto raw = independent_zbase32_decode(zbase32_signature);
    REQUIRE(raw);
    REQUIRE(raw->size() == 65);
    // lightning::util::message_signing::sigrec_decode: recovery id = byte 0 - 31.
    int recovery_id = (*raw)[0] - 31;
    REQUIRE(recovery_id >= 0);
    REQUIRE(recovery_id <= 3);
    auto digest = independent_digest(message);

    secp256k1_ecdsa_recoverable_signature recoverable;
    REQUIRE(secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &recoverable, raw->data() + 1,
                                                                recovery_id) == 1);
    secp256k1_pubkey recovered;
    REQUIRE(secp256k1_ecdsa_recover(ctx, &recovered, &recoverable, digest.data()) == 1);
    std::array<std::uint8_t, 33> recovered_bytes{};
    std::size_t length = recovered_bytes.size();
    REQUIRE(secp256k1_ec_pubkey_serialize(ctx, recovered_bytes.data(), &length, &recovered,
                                          SECP256K1_EC_COMPRESSED) == 1);

    Bytes expected = hex(expected_pubkey_hex);
    secp256k1_pubkey expected_key;
    REQUIRE(secp256k1_ec_pubkey_parse(ctx, &expected_key, expected.data(), expected.size()) == 1);
    secp256k1_ecdsa_signature plain;
    REQUIRE(secp256k1_ecdsa_recoverable_signature_convert(ctx, &plain, &recoverable) == 1);
    // verify wants low-S, as rust-secp256k1 (and so rust-teos) produces.
    CHECK(secp256k1_ecdsa_verify(ctx, &plain, digest.data(), &expected_key) == 1);
    return to_hex(ByteSpan(recovered_bytes.data(), length));
}

// Signs with our signer, recovers with our code and with libsecp256k1
// directly, and checks both land on the expected key.
void check_signature_round_trip(const PrivateKey& key, std::string_view expected_pubkey_hex, ByteSpan message) {
    std::string signature = sign_message(key, message);
    CHECK(signature.size() == 104);
    auto ours = recover_message_signer(message, signature);
    REQUIRE(ours);
    CHECK(to_hex(ours->bytes()) == expected_pubkey_hex);
    CHECK(recover_and_verify_with_libsecp256k1(message, signature, expected_pubkey_hex) == expected_pubkey_hex);
    // A one-bit change of the message must not verify against the same key.
    Bytes tampered(message.begin(), message.end());
    tampered.back() ^= 1;
    auto other = recover_message_signer(tampered, signature);
    CHECK((!other || to_hex(other->bytes()) != expected_pubkey_hex));
}

}  // namespace

TEST_CASE("teos interop: locator from the rust-teos test txid (teos-common/src/appointment.rs Locator::new)") {
    auto txid = Txid::from_display_hex(teos_test_txid_display).value();
    CHECK(to_hex(teos::locator(txid)) == teos_test_locator);
}

TEST_CASE("teos interop: add_appointment message is Appointment::to_vec (teos-common/src/appointment.rs)") {
    // teos: locator || encrypted_blob || to_self_delay, "All values are big endian".
    auto locator = hex_array<16>(teos_test_locator);
    Bytes blob = hex("00112233445566778899aabbccddeeff0102");
    CHECK(to_hex(teos::add_appointment_message(locator, blob, 42)) ==
          "b4a11e76c7115e2cd79526f3543e6bec"
          "00112233445566778899aabbccddeeff0102"
          "0000002a");
    CHECK(to_hex(teos::add_appointment_message(locator, blob, 0x01020304)) ==
          "b4a11e76c7115e2cd79526f3543e6bec"
          "00112233445566778899aabbccddeeff0102"
          "01020304");
    // An empty blob is still locator || to_self_delay (the tower rejects it later).
    CHECK(to_hex(teos::add_appointment_message(locator, {}, 0xffffffff)) ==
          "b4a11e76c7115e2cd79526f3543e6bec"
          "ffffffff");
}

TEST_CASE("teos interop: get_appointment message (teos/src/watcher.rs format!(\"get appointment {locator}\"))") {
    // Locator's Display is hex::encode, i.e. lowercase.
    auto locator = hex_array<16>(teos_test_locator);
    CHECK(to_hex(ascii(teos::get_appointment_message(locator))) ==
          "676574206170706f696e746d656e7420"                                  // "get appointment "
          "6234613131653736633731313565326364373935323666333534336536626563"); // "b4a11e...6bec"
}

TEST_CASE("teos interop: get_subscription_info message (teos/src/watcher.rs \"get subscription info\")") {
    CHECK(to_hex(ascii(teos::get_subscription_info_message())) == "67657420737562736372697074696f6e20696e666f");
}

TEST_CASE("teos interop: registration receipt is RegistrationReceipt::to_vec (teos-common/src/receipts.rs)") {
    // user_id (33, UserId::to_vec = compressed pubkey) || available_slots ||
    // subscription_start || subscription_expiry, each u32 to_be_bytes.
    auto user = hex_array<33>(key_one_pubkey);
    CHECK(to_hex(teos::registration_receipt_message(user, 10'000, 800'000, 804'320)) ==
          "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
          "00002710"   // 10000
          "000c3500"   // 800000
          "000c45e0");  // 804320
    CHECK(to_hex(teos::registration_receipt_message(user, 0x01020304, 0x05060708, 0x090a0b0c)) ==
          "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
          "01020304"
          "05060708"
          "090a0b0c");
}

TEST_CASE("teos interop: appointment receipt is AppointmentReceipt::to_vec (teos-common/src/receipts.rs)") {
    // user_signature.as_bytes() (the zbase32 text, not its decoding) || start_block.to_be_bytes().
    constexpr std::string_view user_signature =
        "d9tibmnic9t5y41hg7hkakdcra94akas9ku3rmmj4ag9mritc8ok4p5qzefs78c9pqfhpuftqqzhydbdwfg7u6w6wdxcqpqn4sj4e73e";
    CHECK(to_hex(teos::appointment_receipt_message(user_signature, 800'001)) ==
          "64397469626d6e6963397435793431686737686b616b646372613934616b6173"
          "396b7533726d6d6a346167396d72697463386f6b347035717a65667337386339"
          "707166687075667471717a68796462647766673775367736776478637170716e"
          "34736a3465373365"
          "000c3501");  // 800001
}

TEST_CASE("teos interop: uuid is RIPEMD160(locator || user_id) (teos/src/extended_appointment.rs UUID::new)") {
    auto locator = hex_array<16>(teos_test_locator);
    auto user = hex_array<33>(key_one_pubkey);
    CHECK(to_hex(teos::appointment_uuid(locator, user)) == "b0142098078f70bc7586f914637803b9fb11919e");
}

TEST_CASE("teos interop: known-answer signature of rust-lightning's message_signing::test_sign") {
    // rust-teos's cryptography::sign is lightning::util::message_signing::sign;
    // its test signs "test message" with ONE_KEY (RFC 6979 nonces, so deterministic).
    constexpr std::string_view expected =
        "d9tibmnic9t5y41hg7hkakdcra94akas9ku3rmmj4ag9mritc8ok4p5qzefs78c9pqfhpuftqqzhydbdwfg7u6w6wdxcqpqn4sj4e73e";
    CHECK(sign_message(secret_key(1), ascii("test message")) == expected);
    auto signer = recover_message_signer(ascii("test message"), expected);
    REQUIRE(signer);
    CHECK(to_hex(signer->bytes()) == key_one_pubkey);
    CHECK(recover_and_verify_with_libsecp256k1(ascii("test message"), expected, key_one_pubkey) == key_one_pubkey);
}

TEST_CASE("teos interop: lnd signatures recover (rust-lightning test_verify_ground_truth_ish, Core Lightning test_misc.py)") {
    // lnd `lncli signmessage` outputs quoted by rust-lightning's message_signing tests.
    struct Vector {
        std::string_view message;
        std::string_view signature;
        std::string_view pubkey;
    };
    constexpr std::array<Vector, 3> corpus{{
        {"is this compatible?",
         "rbgfioj114mh48d8egqx8o9qxqw4fmhe8jbeeabdioxnjk8z3t1ma1hu1fiswpakgucwwzwo6ofycffbsqusqdimugbh41n1g698hr9t",
         "02b80cabdf82638aac86948e4c06e82064f547768dcef977677b9ea931ea75bab5"},
        {"hi",
         "rnrphcjswusbacjnmmmrynh9pqip7sy5cx695h6mfu64iac6qmcmsd8xnsyczwmpqp9shqkth3h4jmkgyqu5z47jfn1q7gpxtaqpx4xg",
         "02de60d194e1ca5947b59fe8e2efd6aadeabfb67f2e89e13ae1a799c1e08e4a43b"},
        {"hi",
         "ry8bbsopmduhxy3dr5d9ekfeabdpimfx95kagdem7914wtca79jwamtbw4rxh69hg7n6x9ty8cqk33knbxaqftgxsfsaeprxkn1k48p3",
         "022b8ece90ee891cbcdac0c1cc6af46b73c47212d8defbce80265ac81a6b794931"},
    }};
    for (const auto& v : corpus) {
        CAPTURE(v.signature);
        auto signer = recover_message_signer(ascii(v.message), v.signature);
        REQUIRE(signer);
        CHECK(to_hex(signer->bytes()) == v.pubkey);
        CHECK(recover_and_verify_with_libsecp256k1(ascii(v.message), v.signature, v.pubkey) == v.pubkey);
    }
}

TEST_CASE("teos interop: ln-types' Lightning message signature (NodePubkey::verify_lightning_message example)") {
    // The ln-types crate (cited by the "General-purpose Lightning signatures"
    // bLIP draft) documents a 64-byte compact signature over sha256d of
    // "Lightning Signed Message:" || message. (The draft's own 65-byte hex
    // vector, 1fdc7b07..., verifies under no recovery id and no hashing; not used.)
    constexpr std::string_view message = "I am the author of `ln-types` Rust crate.";
    constexpr std::string_view pubkey = "029ef8ee0ba895e2807ac1df1987a7888116c468e70f42e7b089e06811b0e45482";
    Bytes compact = hex(
        "29794d9a6a48680f9b8d6097a6d8ef1d5cf9dc27cd769a8658d694001c12b8dd"
        "49af2bca0a24d8f45a3b3cc787f048606323f424baa80f5ee6057981e2296f0d");
    // Our digest, checked by libsecp256k1 directly.
    const secp256k1_context* ctx = secp256k1_context_static;
    Bytes key_bytes = hex(pubkey);
    secp256k1_pubkey key;
    REQUIRE(secp256k1_ec_pubkey_parse(ctx, &key, key_bytes.data(), key_bytes.size()) == 1);
    secp256k1_ecdsa_signature sig;
    REQUIRE(secp256k1_ecdsa_signature_parse_compact(ctx, &sig, compact.data()) == 1);
    secp256k1_ecdsa_signature normalized;
    secp256k1_ecdsa_signature_normalize(ctx, &normalized, &sig);
    Hash256 digest = lightning_message_digest(ascii(message));
    CHECK(to_hex(digest) == to_hex(independent_digest(ascii(message))));
    CHECK(secp256k1_ecdsa_verify(ctx, &normalized, digest.data(), &key) == 1);
    // Our recover, with the header byte lnd would have added: exactly one of
    // the two recovery ids for a valid r yields the signer.
    int recovered_by = 0;
    for (std::uint8_t recovery_id = 0; recovery_id < 4; ++recovery_id) {
        Bytes raw{static_cast<std::uint8_t>(31 + recovery_id)};
        append(raw, compact);
        auto signer = recover_message_signer(ascii(message), zbase32_encode(raw));
        if (signer && to_hex(signer->bytes()) == pubkey) ++recovered_by;
    }
    CHECK(recovered_by == 1);
    // A changed message does not verify.
    Hash256 other = lightning_message_digest(ascii("I am the author of `ln-types` Rust crate!"));
    CHECK(secp256k1_ecdsa_verify(ctx, &normalized, other.data(), &key) == 0);
}

TEST_CASE("teos interop: signatures over every teos message recover and verify with libsecp256k1") {
    auto user_key = secret_key(1);
    auto tower_key = secret_key(2);
    REQUIRE(to_hex(user_key.public_key().bytes()) == key_one_pubkey);
    REQUIRE(to_hex(tower_key.public_key().bytes()) == key_two_pubkey);
    auto locator = hex_array<16>(teos_test_locator);
    auto user = hex_array<33>(key_one_pubkey);

    SUBCASE("add_appointment request, signed by the user") {
        check_signature_round_trip(user_key, key_one_pubkey,
                                   hex("b4a11e76c7115e2cd79526f3543e6bec00112233445566778899aabbccddeeff01020000002a"));
        check_signature_round_trip(user_key, key_one_pubkey,
                                   teos::add_appointment_message(locator, hex("00112233445566778899aabbccddeeff0102"), 42));
    }
    SUBCASE("get_appointment request, signed by the user") {
        check_signature_round_trip(user_key, key_one_pubkey, ascii("get appointment b4a11e76c7115e2cd79526f3543e6bec"));
    }
    SUBCASE("get_subscription_info request, signed by the user") {
        check_signature_round_trip(user_key, key_one_pubkey, ascii("get subscription info"));
    }
    SUBCASE("registration receipt, signed by the tower") {
        check_signature_round_trip(
            tower_key, key_two_pubkey,
            hex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f8179800002710000c3500000c45e0"));
        check_signature_round_trip(tower_key, key_two_pubkey,
                                   teos::registration_receipt_message(user, 10'000, 800'000, 804'320));
    }
    SUBCASE("appointment receipt, signed by the tower") {
        std::string user_signature = sign_message(user_key, teos::add_appointment_message(locator, hex("00"), 42));
        Bytes expected = ascii(user_signature);
        append(expected, hex("000c3501"));
        CHECK(teos::appointment_receipt_message(user_signature, 800'001) == expected);
        check_signature_round_trip(tower_key, key_two_pubkey, expected);
    }
}
