#include "common/zbase32.h"

namespace argus {

namespace {
constexpr char alphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";

int symbol_value(char c) {
    for (int i = 0; i < 32; ++i) {
        if (alphabet[i] == c) return i;
    }
    return -1;
}
}  // namespace

std::string zbase32_encode(ByteSpan data) {
    std::string out;
    out.reserve((data.size() * 8 + 4) / 5);
    unsigned buffer = 0;
    int bits = 0;
    for (std::uint8_t byte : data) {
        buffer = (buffer << 8) | byte;
        bits += 8;
        while (bits >= 5) {
            out.push_back(alphabet[(buffer >> (bits - 5)) & 31]);
            bits -= 5;
        }
    }
    if (bits > 0) out.push_back(alphabet[(buffer << (5 - bits)) & 31]);
    return out;
}

Result<Bytes> zbase32_decode(std::string_view text) {
    Bytes out;
    out.reserve(text.size() * 5 / 8);
    unsigned buffer = 0;
    int bits = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        int value = symbol_value(text[i]);
        if (value < 0) {
            return make_error(ErrorCode::invalid_encoding,
                              "invalid z-base-32 character at offset " + std::to_string(i));
        }
        buffer = ((buffer << 5) | static_cast<unsigned>(value)) & 0xfff;
        bits += 5;
        if (bits >= 8) {
            out.push_back(static_cast<std::uint8_t>(buffer >> (bits - 8)));
            bits -= 8;
        }
    }
    // Leftover bits must be padding only: fewer than 5 and all zero, else the
    // string is not the canonical encoding of any byte string.
    if (bits >= 5 || (buffer & ((1u << bits) - 1)) != 0) {
        return make_error(ErrorCode::invalid_encoding, "non-canonical z-base-32 padding");
    }
    return out;
}

}  // namespace argus
