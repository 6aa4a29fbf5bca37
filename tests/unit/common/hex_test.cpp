#include <doctest/doctest.h>

#include "common/hex.h"

using namespace argus;

TEST_CASE("hex: round trip and case") {
    Bytes data{0x00, 0x01, 0xab, 0xff};
    CHECK(to_hex(data) == "0001abff");
    auto parsed = parse_hex("0001ABff");
    REQUIRE(parsed);
    CHECK(*parsed == data);
    CHECK(parse_hex("")->empty());
}

TEST_CASE("hex: rejects odd length and non-hex characters") {
    auto odd = parse_hex("abc");
    REQUIRE_FALSE(odd);
    CHECK(odd.error().code == ErrorCode::invalid_hex);
    for (const char* bad : {"zz", "0g", " 0", "0x00", "\xff\xff"}) {
        auto r = parse_hex(bad);
        CHECK_FALSE(r);
    }
    auto fixed = parse_hex_array<4>("0011223344");
    CHECK_FALSE(fixed);
    CHECK(parse_hex_array<2>("a0b1").value() == ByteArray<2>{0xa0, 0xb1});
}
