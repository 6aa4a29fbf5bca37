#include <doctest/doctest.h>

#include "common/byte_reader.h"
#include "common/hex.h"

using namespace argus;

TEST_CASE("byte reader: CompactSize encodings and canonical form") {
    struct Case {
        const char* hex;
        std::uint64_t value;
    };
    for (auto c : {Case{"00", 0}, Case{"fc", 252}, Case{"fdfd00", 253}, Case{"fdffff", 0xffff},
                   Case{"fe00000100", 0x10000}, Case{"ff0000000001000000", 0x100000000ULL}}) {
        Bytes b = parse_hex(c.hex).value();
        ByteReader r(b);
        CHECK(r.read_compact_size(~0ULL) == c.value);
        r.expect_end("value");
        CHECK(r.ok());
        ByteWriter w;
        w.write_compact_size(c.value);
        CHECK(to_hex(w.bytes()) == c.hex);
    }
    for (const char* non_canonical : {"fd0000", "fdfc00", "feffff0000", "ffffffffff00000000"}) {
        Bytes b = parse_hex(non_canonical).value();
        ByteReader r(b);
        r.read_compact_size(~0ULL);
        CHECK_FALSE(r.ok());
        CHECK(r.error().code == ErrorCode::malformed);
    }
}

TEST_CASE("byte reader: truncation, limits and sticky errors") {
    Bytes b{0x01, 0x02, 0x03};
    ByteReader r(b);
    CHECK(r.read_u16_le() == 0x0201);
    CHECK(r.read_u32_le() == 0);  // only one byte left
    CHECK_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::truncated);
    CHECK(r.read_u8() == 0);  // error is sticky

    // A length field far larger than the data never drives an allocation.
    Bytes lying = parse_hex("fe00000010aa").value();  // claims 256 MiB
    ByteReader big(lying);
    Bytes got = big.read_var_bytes(~0ULL);
    CHECK(got.empty());
    CHECK(big.error().code == ErrorCode::truncated);

    ByteReader limited(lying);
    limited.read_var_bytes(1000);
    CHECK(limited.error().code == ErrorCode::oversized);

    Bytes trailing{0x00, 0x01};
    ByteReader t(trailing);
    t.read_u8();
    t.expect_end("thing");
    CHECK(t.error().code == ErrorCode::trailing_data);
}
