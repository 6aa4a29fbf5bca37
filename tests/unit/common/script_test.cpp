#include <doctest/doctest.h>

#include "common/hex.h"
#include "common/keys.h"
#include "common/script.h"
#include "tests/support/vectors.h"

using namespace argus;
using test::hex_bytes;

TEST_CASE("script: number pushes are minimal (CScriptNum)") {
    auto enc = [](std::int64_t v) { return to_hex(ScriptBuilder().push_number(v).build()); };
    CHECK(enc(0) == "00");
    CHECK(enc(1) == "51");
    CHECK(enc(16) == "60");
    CHECK(enc(-1) == "4f");
    CHECK(enc(17) == "0111");
    CHECK(enc(144) == "029000");  // BOLT 3 Appendix C to_local: 029000b275
    CHECK(enc(500) == "02f401");  // BOLT 3 Appendix C received HTLC cltv: 02f401b1
    CHECK(enc(127) == "017f");
    CHECK(enc(128) == "028000");
    CHECK(enc(-128) == "028080");
    CHECK(enc(255) == "02ff00");
}

TEST_CASE("script: data pushes choose the smallest opcode") {
    CHECK(ScriptBuilder().push(Bytes(75, 1)).build().front() == 75);
    auto p76 = ScriptBuilder().push(Bytes(76, 1)).build();
    CHECK((p76[0] == OP_PUSHDATA1 && p76[1] == 76));
    auto p256 = ScriptBuilder().push(Bytes(256, 1)).build();
    CHECK((p256[0] == OP_PUSHDATA2 && p256[1] == 0 && p256[2] == 1));
}

TEST_CASE("script: decode splits operations and rejects pushes past the end") {
    // BOLT 3 Appendix C funding witness script.
    Bytes funding = hex_bytes(
        "5221023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb21030e9f7b623d2ccc7c9"
        "bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c152ae");
    auto ops = decode_script(funding);
    REQUIRE(ops);
    REQUIRE(ops->size() == 5);
    CHECK((*ops)[0].opcode == OP_2);
    CHECK((*ops)[1].data.size() == 33);
    CHECK((*ops)[4].opcode == OP_CHECKMULTISIG);
    for (std::size_t n = 1; n < funding.size(); ++n) {
        auto r = decode_script(ByteSpan(funding.data(), n));
        if (n == 1 || n == 35 || n == 69 || n == 70) continue;  // op boundaries are complete scripts
        CHECK_FALSE(r);
    }
    CHECK_FALSE(decode_script(hex_bytes("4c")));
    CHECK_FALSE(decode_script(hex_bytes("4d01")));
    CHECK_FALSE(decode_script(hex_bytes("4e0000ffff")));
}

TEST_CASE("script: standard templates and witness programs (BIP141/BIP173 examples)") {
    Bytes g = hex_bytes("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
    auto key = PublicKey::parse(g).value();
    // BIP173: P2WPKH of G is 0014751e76e8199196d454941c45d1b3a323f1433bd6.
    CHECK(to_hex(p2wpkh_script(key)) == "0014751e76e8199196d454941c45d1b3a323f1433bd6");
    // BIP173: P2WSH of "<G> OP_CHECKSIG" is 00201863143c...
    Bytes ws = ScriptBuilder().push(g).op(OP_CHECKSIG).build();
    CHECK(to_hex(p2wsh_script(ws)) ==
          "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262");
    CHECK(classify_script(p2wpkh_script(key)) == ScriptTemplate::p2wpkh);
    CHECK(classify_script(p2wsh_script(ws)) == ScriptTemplate::p2wsh);
    CHECK(classify_script(p2tr_script(key.x_only())) == ScriptTemplate::p2tr);
    CHECK(classify_script(hex_bytes("6002751e")) == ScriptTemplate::witness_unknown);
    CHECK(classify_script(hex_bytes("0010751e76e8199196d454941c45d1b3a323")) ==
          ScriptTemplate::nonstandard);
    CHECK(classify_script(p2wpkh_script_code(key)) == ScriptTemplate::p2pkh);
    CHECK(classify_script(hex_bytes("a914000000000000000000000000000000000000000087")) ==
          ScriptTemplate::p2sh);
    CHECK(classify_script(hex_bytes("6a0100")) == ScriptTemplate::op_return);
    CHECK_FALSE(witness_program(hex_bytes("0015751e76e8199196d454941c45d1b3a323f1433bd6")));
}
