// The binary COPY decoder against streams PostgreSQL 15 wrote itself
// (tests/data/pg_copy/README.md) and against the format as the PostgreSQL
// documentation ("COPY", "Binary Format") describes it.
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "server/store/copy_binary.h"

using namespace argus;
using argus::store::BigintCopyDecoder;

namespace {
Bytes read_vector(const std::string& name) {
    std::ifstream in(std::string(ARGUS_TEST_DATA_DIR) + "/pg_copy/" + name, std::ios::binary);
    REQUIRE(in);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const std::vector<std::int64_t> five = {1, -2, std::numeric_limits<std::int64_t>::max(),
                                        std::numeric_limits<std::int64_t>::min(), 0};

// The documented header: signature, flags, header extension length.
Bytes header(std::uint32_t flags = 0, Bytes extension = {}) {
    Bytes out = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    for (std::uint32_t v : {flags, static_cast<std::uint32_t>(extension.size())}) {
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
    }
    append(out, extension);
    return out;
}
}  // namespace

TEST_CASE("COPY binary: PostgreSQL 15's stream of five bigints decodes, whole or a byte at a time") {
    Bytes stream = read_vector("five_bigints.bin");
    {
        BigintCopyDecoder d;
        std::vector<std::int64_t> out;
        REQUIRE(d.feed(stream, out));
        CHECK(d.finished());
        CHECK(out == five);
    }
    BigintCopyDecoder d;
    std::vector<std::int64_t> out;
    std::size_t failures = 0;
    for (std::uint8_t byte : stream) failures += d.feed(ByteSpan(&byte, 1), out) ? 0 : 1;
    CHECK(failures == 0);
    CHECK(d.finished());
    CHECK(out == five);
}

TEST_CASE("COPY binary: PostgreSQL 15's stream of no rows is complete and empty") {
    BigintCopyDecoder d;
    std::vector<std::int64_t> out;
    REQUIRE(d.feed(read_vector("no_rows.bin"), out));
    CHECK(d.finished());
    CHECK(out.empty());
}

TEST_CASE("COPY binary: a stream cut short is not finished, and rows whole so far are kept") {
    Bytes stream = read_vector("five_bigints.bin");
    stream.pop_back();  // half the trailer
    BigintCopyDecoder d;
    std::vector<std::int64_t> out;
    REQUIRE(d.feed(stream, out));
    CHECK_FALSE(d.finished());
    CHECK(out == five);
    // The rest arrives: now complete.
    std::uint8_t last = 0xff;
    REQUIRE(d.feed(ByteSpan(&last, 1), out));
    CHECK(d.finished());
}

TEST_CASE("COPY binary: a header extension is skipped, also when split") {
    Bytes stream = header(0, Bytes{1, 2, 3});
    append(stream, Bytes{0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0xff, 0xff});
    BigintCopyDecoder d;
    std::vector<std::int64_t> out;
    REQUIRE(d.feed(ByteSpan(stream).first(20), out));  // inside the extension
    REQUIRE(d.feed(ByteSpan(stream).subspan(20), out));
    CHECK(d.finished());
    CHECK(out == std::vector<std::int64_t>{0x0102});
}

TEST_CASE("COPY binary: what is not one bigint a row is refused, and the decoder stays failed") {
    struct Case {
        const char* what;
        Bytes stream;
        ErrorCode code;
    };
    Bytes bad_signature = read_vector("five_bigints.bin");
    bad_signature[0] = 'Q';
    Bytes with_oids = header(std::uint32_t{1} << 16);
    Bytes unknown_critical = header(std::uint32_t{1} << 20);
    Bytes two_fields = header();
    append(two_fields, Bytes{0, 2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1});
    Bytes an_int4 = header();
    append(an_int4, Bytes{0, 1, 0, 0, 0, 4, 0, 0, 0, 1, 0xff, 0xff});
    Bytes a_null = header();
    append(a_null, Bytes{0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
    Bytes after_trailer = read_vector("no_rows.bin");
    after_trailer.push_back(0);
    for (const Case& c : {Case{"a wrong signature", bad_signature, ErrorCode::malformed},
                          Case{"rows with OIDs", with_oids, ErrorCode::malformed},
                          Case{"an unknown critical flag", unknown_critical, ErrorCode::malformed},
                          Case{"a row of two fields", two_fields, ErrorCode::malformed},
                          Case{"a 4-byte field", an_int4, ErrorCode::malformed},
                          Case{"a null", a_null, ErrorCode::malformed},
                          Case{"a byte after the trailer", after_trailer, ErrorCode::trailing_data}}) {
        CAPTURE(std::string(c.what));
        BigintCopyDecoder d;
        std::vector<std::int64_t> out;
        auto fed = d.feed(c.stream, out);
        REQUIRE_FALSE(fed);
        CHECK(fed.error().code == c.code);
        CHECK_FALSE(d.finished());
        CHECK_FALSE(d.feed(read_vector("no_rows.bin"), out));  // failed stays failed
    }
    // Data after a complete stream, in a later feed.
    BigintCopyDecoder d;
    std::vector<std::int64_t> out;
    REQUIRE(d.feed(read_vector("no_rows.bin"), out));
    std::uint8_t extra = 0;
    CHECK_FALSE(d.feed(ByteSpan(&extra, 1), out));
    CHECK(d.feed(ByteSpan(), out).error().code == ErrorCode::malformed);  // it is failed now
}
